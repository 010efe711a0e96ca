Feature: Value and values: worth it to the customer, and no big brother or betutteling
  Compliance's own scenarios (DOMAIN §3). A proactive message must be worth something
  to the customer, not only to us. Labels on the person ("big spender") feel like big
  brother; unsolicited advice on how to live is betutteling. Each is flagged and goes
  to a person for review instead of to the customer.

  Scenario Outline: S8 - unsolicited advice on how to live is flagged as betutteling (<reads>)
    Given an extra template file "usage_tip.yaml":
      """
      id: usage_tip
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u {{ usage.pct }}% van uw bundel heeft gebruikt."
        en: "You get this message because you have used {{ usage.pct }}% of your bundle."
      messages:
        nl:
          app_inbox:
            subject: "Een tip voor u"
            body: "U heeft deze maand {{ num(usage.used_gb) }} GB gebruikt. <advies>"
        en:
          app_inbox:
            subject: "A tip for you"
            body: "You have used {{ num(usage.used_gb) }} GB this month. <advice>"
      """
    And an extra rule file "tip_rules.yaml":
      """
      rules:
        - id: usage-tip
          description: A tip halfway through the month
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: advice
          data: [usage]
          template: usage_tip
          channels: [app_inbox]
          priority: 20
          cooldown: 30d
      """
    And a customer "C1" who reads "<reads>" and prefers "app_inbox"
    And the customer "C1" consents to "advice" messages by "all"
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then the value check on rule "usage-tip" for "C1" flags "betutteling"
    And the decision on rule "usage-tip" for "C1" is "review"
    And customer "C1" gets no message from rule "usage-tip"

    # each row fills in both languages; the customer reads one of them
    Examples:
      | reads | advies                                                            | advice                                                         |
      | nl    | Minder schermtijd in de avond is gezonder voor u.                 | Less screen time in the evening is healthier for you.          |
      | en    | Minder schermtijd in de avond is gezonder voor u.                 | You should really cut down: less screen time, better sleep.    |

  Scenario Outline: S9 - a label on the customer's personality or spending is flagged as big brother (<reads>)
    Given an extra template file "bill_overview.yaml":
      """
      id: bill_overview
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat uw nieuwe rekening klaarstaat."
        en: "You get this message because your new bill is ready."
      messages:
        nl:
          app_inbox:
            subject: "Uw rekening"
            body: "Uw rekening van {{ eur(data.amount_eur) }} staat klaar. <label_nl>"
        en:
          app_inbox:
            subject: "Your bill"
            body: "Your bill of {{ eur(data.amount_eur) }} is ready. <label_en>"
      """
    And an extra rule file "bill_rules.yaml":
      """
      rules:
        - id: bill-overview
          description: Tell the customer the bill is ready, with a look back
          on: [billing.invoice_issued]
          purpose: service
          data: [billing]
          template: bill_overview
          channels: [app_inbox]
          priority: 20
          window: event
      """
    And a customer "C1" who reads "<reads>" and prefers "app_inbox"
    When an invoice of 42.5 euro is issued to customer "C1" on 2026-05-12 at 10:00
    Then the value check on rule "bill-overview" for "C1" flags "big brother"
    And the decision on rule "bill-overview" for "C1" is "review"
    And customer "C1" gets no message from rule "bill-overview"

    # each row fills in both languages; the customer reads one of them
    Examples:
      | reads | label_nl                                    | label_en                                   |
      | nl    | U bent een echte grootverbruiker.           | You are a real heavy user.                 |
      | en    | Uw uitgavenprofiel: de genieter.            | Your spending personality: big spender.    |

  Scenario: S10 - an upgrade that pays off only for us fails the value check
    With about 5.3 GB a month, the 5 GB bundle costs about €14.90 with the extra use;
    the 10 GB bundle costs €16.50. The customer pays more, we earn more.

    Given a customer "C1" who reads "nl" and prefers "app_inbox"
    And the customer "C1" consents to "commercial" messages by "all"
    And the customer "C1" is on plan "data-5gb"
    And the customer "C1" used 5.2, 5.3 and 5.4 GB of a 5 GB bundle in the months before 2026-05
    When the customer "C1" has used 4.6 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then the value check on rule "data-bundle-nearly-used" for "C1" flags "organisation only"
    And the decision on rule "data-bundle-nearly-used" for "C1" is "review"
    And customer "C1" gets no commercial message

  Scenario: S10 - the same upgrade with real benefit to the customer passes the value check
    With about 7 GB a month, the 5 GB bundle costs about €22 with the extra use;
    the 10 GB bundle costs €16.50. Both sides gain.

    Given a customer "C1" who reads "nl" and prefers "app_inbox"
    And the customer "C1" consents to "commercial" messages by "all"
    And the customer "C1" is on plan "data-5gb"
    And the customer "C1" used 7.0, 6.8 and 7.2 GB of a 5 GB bundle in the months before 2026-05
    When the customer "C1" has used 4.6 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then the value check on rule "data-bundle-nearly-used" for "C1" raises no flags
    And the customer value of the decision on rule "data-bundle-nearly-used" for "C1" is positive
    And the message to "C1" offers "data-10gb"
