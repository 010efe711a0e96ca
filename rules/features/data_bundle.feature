Feature: Data bundle nearly used up
  Product team "Mobile" warns customers before their data runs out and suggests the
  bundle that fits how they really use data — which may be smaller or cheaper.

  Scenario: S1 - structural over-use gets the best-fitting bundle
    Given a customer "C1" who reads "en" and prefers "app_inbox"
    And the customer "C1" consents to "commercial" messages by "all"
    And the customer "C1" is on plan "data-5gb"
    And the customer "C1" used 7.0, 6.8 and 7.2 GB of a 5 GB bundle in the months before 2026-05
    When the customer "C1" has used 4.6 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then customer "C1" gets a message from rule "data-bundle-nearly-used"
    And the message to "C1" offers "data-10gb"
    And the message to "C1" contains "€16.50 a month"
    And the customer value of the decision on rule "data-bundle-nearly-used" for "C1" is positive
    And every message to "C1" says why, how to decline and how to reach a person

  Scenario: S2 - a one-off spike gets no permanent upgrade
    Given a customer "C2" who reads "nl" and prefers "sms"
    And the customer "C2" consents to "commercial" messages by "all"
    And the customer "C2" is on plan "data-5gb"
    And the customer "C2" used 2.1, 2.4 and 1.9 GB of a 5 GB bundle in the months before 2026-05
    When the customer "C2" has used 4.7 GB of the 5 GB bundle on 2026-05-08 at 12:00
    Then customer "C2" gets a message from rule "data-bundle-nearly-used"
    And the message to "C2" offers no permanent bundle
    And the message to "C2" goes by "sms" in "nl"

  Scenario: S15 - the customer prefers the app, so the app it is
    Given a customer "C3" who reads "nl" and prefers "app_inbox"
    And the customer "C3" consents to "commercial" messages by "all"
    And the customer "C3" is on plan "data-5gb"
    When the customer "C3" has used 4.7 GB of the 5 GB bundle on 2026-05-20 at 11:00
    Then customer "C3" gets a message from rule "data-bundle-nearly-used"
    And the message to "C3" goes by "app_inbox" in "nl"

  Scenario: S15 - consent for offers by e-mail only: the offer goes by e-mail, and says so
    Given a customer "C5" who reads "en" and prefers "app_inbox"
    And the customer "C5" consents to "commercial" messages by "email"
    And the customer "C5" is on plan "data-5gb"
    When the customer "C5" has used 4.7 GB of the 5 GB bundle on 2026-05-20 at 11:00
    Then the message to "C5" goes by "email" in "en"
    And the place score of the decision on rule "data-bundle-nearly-used" for "C5" is at least 0.6

  Scenario: S22 - the same rule does not fire again and again
    Given a customer "C4" who reads "en" and prefers "push"
    And the customer "C4" is on plan "data-5gb"
    When the customer "C4" has used 4.6 GB of the 5 GB bundle on 2026-05-20 at 10:00
    And the customer "C4" has used 4.8 GB of the 5 GB bundle on 2026-05-22 at 10:00
    And the customer "C4" has used 4.9 GB of the 5 GB bundle on 2026-05-23 at 10:00
    Then customer "C4" gets 1 message(s) from rule "data-bundle-nearly-used"
    And the decision on rule "data-bundle-nearly-used" for "C4" is "block" because "cooldown"
