Feature: The right place, a sender who answers, plain language and a person to talk to
  Compliance's own scenarios (DOMAIN §2 language, place and trust; §5; §7). Sensitive
  content stays behind the customer's login, with only a plain notice elsewhere. A
  message comes from a sender the customer can answer. It is written at B1 level,
  without jargon. And every message shows how to reach a person.

  Scenario: S16 - een mislukte betaling staat in de beveiligde inbox, met alleen een kale melding per sms
    Given a customer "C1" who reads "nl" and prefers "sms"
    When a payment of 42.5 euro by customer "C1" fails on 2026-05-12 at 10:00
    Then customer "C1" gets a message from rule "payment-failed-support" in the secure inbox
    And the message to "C1" by "app_inbox" contains "42,50"
    And customer "C1" gets a message from rule "payment-failed-support" by "sms"
    And the message to "C1" by "sms" does not contain "42,50"
    And the message to "C1" by "sms" contains "app"

  Scenario: S16 - sensitive content is never sent in the clear, even when a rule allows only SMS
    Given an extra template file "open_bill_sms.yaml":
      """
      id: open_bill_sms
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat er een rekening openstaat."
        en: "You get this message because a bill is still open."
      messages:
        nl:
          sms: "Uw rekening van {{ eur(data.amount_eur) }} staat nog open. Lukt betalen niet? We helpen u graag."
        en:
          sms: "Your bill of {{ eur(data.amount_eur) }} is still open. Hard to pay? We are here to help."
      """
    And an extra rule file "open_bill_rules.yaml":
      """
      rules:
        - id: open-bill-sms
          description: Remind the customer of an open bill by SMS
          on: [billing.invoice_issued]
          purpose: service
          data: [billing]
          template: open_bill_sms
          channels: [sms]
          priority: 30
          sensitive: true
          window: event
      """
    And a customer "C1" who reads "nl" and prefers "sms"
    When an invoice of 42.5 euro is issued to customer "C1" on 2026-05-12 at 10:00
    Then no message from rule "open-bill-sms" reaches "C1" because "sensitive"

  Scenario Outline: S17 - a message from a sender the customer cannot answer is rejected: <sender>
    Given an extra template file "bill_ready.yaml":
      """
      id: bill_ready
      sender: "<sender>"
      reason:
        nl: "U krijgt dit bericht omdat uw nieuwe rekening klaarstaat."
        en: "You get this message because your new bill is ready."
      messages:
        nl:
          email:
            subject: "Uw rekening staat klaar"
            body: "Uw rekening van {{ eur(data.amount_eur) }} staat klaar op {{ links.billing }}."
        en:
          email:
            subject: "Your bill is ready"
            body: "Your bill of {{ eur(data.amount_eur) }} is ready at {{ links.billing }}."
      """
    And an extra rule file "bill_ready_rules.yaml":
      """
      rules:
        - id: bill-ready
          description: Tell the customer the new bill is ready
          on: [billing.invoice_issued]
          purpose: service
          data: [billing]
          template: bill_ready
          channels: [email]
          priority: 30
          window: event
      """
    And a customer "C1" who reads "<reads>" and prefers "email"
    When an invoice of 42.5 euro is issued to customer "C1" on 2026-05-12 at 10:00
    Then no message from rule "bill-ready" reaches "C1" because "no-reply" or "sender" or "cannot be answered" or "phishing"

    Examples:
      | reads | sender                                        |
      | en    | noreply@example-telecom.nl                    |
      | en    | Example Telecom <no-reply@example-telecom.nl> |
      | en    | donotreply@example-telecom.nl                 |
      | nl    | niet-beantwoorden@example-telecom.nl          |

  Scenario Outline: S18 - officialese full of jargon is not sent as it is (<reads>)
    Given an extra template file "tariff_notice.yaml":
      """
      id: tariff_notice
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat uw nieuwe rekening klaarstaat."
        en: "You get this message because your new bill is ready."
      messages:
        nl:
          app_inbox:
            subject: "Mededeling inzake facturatie"
            body: "Conform de toepasselijke facturatiebepalingen wordt derhalve de prolongatie van uw tariefplan dienovereenkomstig geëffectueerd, waarbij de incassomachtiging onverminderd van kracht blijft en eventuele databundel-overschrijding conform de geldende tariefstructuur wordt doorberekend."
        en:
          app_inbox:
            subject: "Notification regarding invoicing"
            body: "Pursuant to the aforementioned provisioning stipulations, remediation of overage utilisation shall commence pro rata, notwithstanding heretofore applicable contractual arrangements concerning the continuation of your subscription."
      """
    And an extra rule file "tariff_rules.yaml":
      """
      rules:
        - id: tariff-notice
          description: Tell the customer how the bill is put together
          on: [billing.invoice_issued]
          purpose: service
          data: [billing]
          template: tariff_notice
          channels: [app_inbox]
          priority: 30
          window: event
      """
    And a customer "C1" who reads "<reads>" and prefers "app_inbox"
    When an invoice of 42.5 euro is issued to customer "C1" on 2026-05-12 at 10:00
    Then the language score of the decision on rule "tariff-notice" for "C1" is below 0.4
    And a reason for the decision on rule "tariff-notice" for "C1" mentions "jargon"
    And a reason for the decision on rule "tariff-notice" for "C1" mentions "B1"
    And the decision on rule "tariff-notice" for "C1" is "review" or "block"
    And customer "C1" gets no message from rule "tariff-notice"

    Examples:
      | reads |
      | nl    |
      | en    |

  Scenario Outline: S19 - every message shows how to reach a person (<reads>, <channel>)
    Given a customer "C1" who reads "<reads>" and prefers "<channel>"
    When an outage starts in area "NL-35" for customer "C1" on 2026-05-21 at 10:00
    Then customer "C1" gets a message from rule "outage-started"
    And the message to "C1" goes by "<channel>" in "<reads>"
    And the message to "C1" tells how to reach a person
    And the message to "C1" contains "0800 0123"

    Examples:
      | reads | channel   |
      | nl    | sms       |
      | en    | push      |
      | nl    | app_inbox |
      | en    | email     |

  Scenario: S19 - wie met geldzorgen zit, ziet wie hij kan bellen, en wanneer
    Given a customer "C1" who reads "nl" and prefers "app_inbox"
    When a payment of 42.5 euro by customer "C1" fails on 2026-05-12 at 10:00
    Then customer "C1" gets a message from rule "payment-failed-support"
    And the message to "C1" tells how to reach a person
    And the message to "C1" contains "Bel 0800 0123"
    And the message to "C1" contains "ma-vr 8-20"
