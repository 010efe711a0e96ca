Feature: Privacy: an objection stops marketing, special-category data never sells
  Compliance's own scenarios (DOMAIN §6). An objection to direct marketing stops
  commercial messages at once, while service notices the customer needs still go.
  Health data and the other special categories are never input to a commercial rule.

  Background:
    Given a customer "C1" who reads "nl" and prefers "sms"
    And the customer "C1" consents to "commercial" messages by "all"
    And the customer "C1" is on plan "data-20gb"
    And the customer "C1" used 3.1, 2.8 and 3.3 GB of a 20 GB bundle in the months before 2026-05

  Scenario: S6 - after an objection the renewal notice comes without an offer
    Given the customer "C1" objects to direct marketing
    When the contract of customer "C1" on plan "data-20gb" at 20 euro a month ends on 2026-07-01, noticed on 2026-05-20 at 10:00
    Then the offer of rule "contract-renewal" to "C1" is blocked because "objected to direct marketing"
    And customer "C1" gets a message from rule "contract-renewal"
    And the message to "C1" offers nothing
    And customer "C1" gets no commercial message

  Scenario: S6 - service notices still reach a customer who objected
    Given the customer "C1" objects to direct marketing
    When the customer "C1" starts roaming in "ES" (eu) on 2026-06-01 at 12:00
    And an outage starts in area "NL-35" for customer "C1" on 2026-06-03 at 10:00
    Then customer "C1" gets a message from rule "roaming-cost-info"
    And customer "C1" gets a message from rule "outage-started"
    And customer "C1" gets no commercial message

  Scenario: S6 - a marketing message is stopped altogether after an objection
    Given an extra template file "summer_promo.yaml":
      """
      id: summer_promo
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u klant bij ons bent."
        en: "You get this message because you are our customer."
      messages:
        nl:
          sms: "Deze zomer krijgt u bij een nieuwe telefoon een hoesje cadeau. Kijk op {{ links.bundle }}."
        en:
          sms: "This summer you get a free case with a new phone. See {{ links.bundle }}."
      """
    And an extra rule file "promo_rules.yaml":
      """
      rules:
        - id: summer-promo
          description: Tell customers about the summer phone promotion
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: commercial
          data: [usage]
          template: summer_promo
          channels: [sms]
          priority: 20
          cooldown: 30d
      """
    And the customer "C1" objects to direct marketing
    When the customer "C1" has used 12 GB of the 20 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "summer-promo" reaches "C1" because "objected to direct marketing"
    And the decision on rule "summer-promo" for "C1" is "block"

  Scenario: S7 - an offer built on health data is blocked, whatever the customer consented to
    Given an extra rule file "health_rules.yaml":
      """
      rules:
        - id: illness-upsell
          description: Offer more data to customers who told us they are ill
          on: [usage.data]
          when:
            - customer.ill
            - usage.pct_used >= 0.5
          purpose: commercial
          data: [health, usage]
          offer:
            select: best_fit_bundle
            purpose: commercial
            fallback: none
          template: data_bundle_warning
          channels: [app_inbox, sms]
          priority: 20
          cooldown: 30d
      """
    And the customer "C1" told us of an illness on 2026-05-02
    When the customer "C1" has used 12 GB of the 20 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "illness-upsell" reaches "C1" because "health"
    And the decision on rule "illness-upsell" for "C1" is "block"
    And customer "C1" gets no commercial message

  Scenario: S7 - a rule that uses health data without declaring it is refused at load
    Given an extra rule file "hidden_health_rules.yaml":
      """
      rules:
        - id: quiet-illness-upsell
          description: Offer more data to customers who are ill, without saying so
          on: [usage.data]
          when:
            - customer.ill
          purpose: commercial
          data: [usage]
          offer:
            select: best_fit_bundle
            purpose: commercial
            fallback: none
          template: data_bundle_warning
          channels: [app_inbox, sms]
          priority: 20
          cooldown: 30d
      """
    When the rule set is loaded
    Then the rule set is refused because "health"
