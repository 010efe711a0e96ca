Feature: Money trouble gets support, never a sale
  A failed payment or a payment arrangement gets a calm, supportive message that
  helps prevent the next problem, in a secure channel, with a person to call.

  Scenario: S13 - a failed payment gets a supportive message without an offer
    Given a customer "C1" who reads "nl" and prefers "sms"
    And the customer "C1" consents to "commercial" messages by "all"
    When a payment of 42.5 euro by customer "C1" fails on 2026-05-12 at 10:00
    Then customer "C1" gets a message from rule "payment-failed-support"
    And the message to "C1" offers nothing
    And the message to "C1" goes by "app_inbox" in "nl"
    And the message to "C1" contains "Geen zorgen"
    And the message to "C1" contains "samen een oplossing"

  Scenario: S13 - during a payment arrangement only supportive messages go out
    Given a customer "C2" who reads "en" and prefers "app_inbox"
    And the customer "C2" consents to "commercial" messages by "all"
    And the customer "C2" is on plan "data-5gb"
    And the customer "C2" used 7.0, 6.8 and 7.2 GB of a 5 GB bundle in the months before 2026-05
    And the customer "C2" has a payment arrangement since 2026-04-20
    When the customer "C2" has used 4.6 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then the offer of rule "data-bundle-nearly-used" to "C2" is blocked because "financial trouble"
    And customer "C2" gets no commercial message
    And customer "C2" gets a message from rule "data-bundle-nearly-used"
