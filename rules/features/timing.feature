Feature: The right moment
  Nothing arrives in the customer's quiet hours; it waits for the next allowed
  moment in the customer's own time zone. A message that invites a call only
  arrives when the line is open. A deferred message is checked again before it goes.

  Scenario: S14 - due at 22:00 is deferred to the morning, not dropped
    Given a customer "C1" who reads "nl" and prefers "push"
    When an outage starts in area "NL-20" for customer "C1" on 2026-05-20 at 22:00
    Then the decision on rule "outage-started" for "C1" is "defer"
    And the message of rule "outage-started" to "C1" is deferred until 2026-05-21 at 08:00
    And customer "C1" gets no message from rule "outage-started"
    When the clock reaches 2026-05-21 at 08:05 for customer "C1"
    Then customer "C1" gets a message from rule "outage-started"

  Scenario: S14 - quiet hours are the customer's, in the customer's time zone
    Given the customer "C2" lives in time zone "America/Curacao"
    And a customer "C2" who reads "en" and prefers "sms"
    And the customer "C2" has quiet hours from 21:30 to 07:00
    When an outage starts in area "CW-1" for customer "C2" on 2026-05-20 at 21:45
    Then the message of rule "outage-started" to "C2" is deferred until 2026-05-21 at 07:00

  Scenario: S14 - a "call us" message only arrives when the line is open
    Given a customer "C3" who reads "nl" and prefers "app_inbox"
    When a payment of 30 euro by customer "C3" fails on 2026-05-23 at 22:30
    Then the message of rule "payment-failed-support" to "C3" is deferred until 2026-05-25 at 08:00

  Scenario: A deferred offer is checked again and stopped when consent is withdrawn
    Given a customer "C4" who reads "en" and prefers "app_inbox"
    And the customer "C4" consents to "commercial" messages by "all"
    And the customer "C4" is on plan "data-20gb"
    And the customer "C4" used 3.1, 2.8 and 3.3 GB of a 20 GB bundle in the months before 2026-05
    When the contract of customer "C4" on plan "data-20gb" at 20 euro a month ends on 2026-07-15, noticed on 2026-05-20 at 23:00
    And the customer "C4" withdraws consent for "commercial" messages on 2026-05-21 at 07:00
    And the clock reaches 2026-05-21 at 09:00 for customer "C4"
    Then customer "C4" gets no commercial message
    And the offer of rule "contract-renewal" to "C4" is blocked because "withdrawn"
    And customer "C4" gets a message from rule "contract-renewal"
    And the message to "C4" offers nothing
