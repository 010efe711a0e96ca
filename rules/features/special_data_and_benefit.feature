Feature: Special-category data and real customer benefit

  Scenario: S7 - a rule that uses health data for an offer is blocked
    Given an extra rule file "health_offer.yaml":
      """
      rules:
        - id: illness-data-upsell
          description: Offer a bigger bundle to customers who told us they are ill
          on: [usage.data]
          when:
            - customer.ill
          purpose: commercial
          data: [health, usage]
          offer:
            select: best_fit_bundle
            purpose: commercial
            fallback: none
          template: data_bundle_warning
          channels: [app_inbox, sms, push, email]
          priority: 10
          cooldown: 30d
      """
    And a customer "C1" who reads "en" and prefers "app_inbox"
    And the customer "C1" consents to "commercial" messages by "all"
    And the customer "C1" is on plan "data-5gb"
    And the customer "C1" used 7.0, 6.8 and 7.2 GB of a 5 GB bundle in the months before 2026-05
    When the event "customer.life_event" arrives for customer "C1" on 2026-05-10 at 10:00 with:
      | field       | value      |
      | kind        | illness    |
      | occurred_on | 2026-05-09 |
    And the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then the decision on rule "illness-data-upsell" for "C1" is "block" because "special-category"
    And customer "C1" gets no message from rule "illness-data-upsell"

  Scenario: S27 - a money-saving suggestion with real benefit passes
    Given a customer "C2" who reads "nl" and prefers "email"
    And the customer "C2" consents to "commercial" messages by "all"
    And the customer "C2" values "price_conscious"
    And the customer "C2" is on plan "data-20gb"
    And the customer "C2" used 3.1, 2.8 and 3.3 GB of a 20 GB bundle in the months before 2026-05
    When the contract of customer "C2" on plan "data-20gb" at 20 euro a month ends on 2026-07-01, noticed on 2026-05-20 at 10:00
    Then customer "C2" gets a message from rule "contract-renewal"
    And the message to "C2" offers "data-5gb"
    And the decision on rule "contract-renewal" for "C2" is "send"
    And the customer value of the decision on rule "contract-renewal" for "C2" is positive
