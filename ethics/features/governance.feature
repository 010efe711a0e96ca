Feature: Governance: an exception (joker) is justified, marked and watched; the law has none
  Compliance's own scenarios (DOMAIN §8, S20 and S21). An organisation limit — quiet
  hours, caps, cooldowns — may be set aside for a rule when compliance approved a
  written justification. The decision record says so, reports list it, and a rule
  whose exceptions become the rule rather than the exception raises an alert. A law
  limit cannot be excepted, whatever a rule file says.

  Background:
    Given an extra template file "night_outage.yaml":
      """
      id: night_outage
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u een alarmlijn bij ons heeft en de storing die lijn raakt."
        en: "You get this message because you have an alarm line with us and the outage affects it."
      messages:
        nl:
          sms: "Er is nu een storing in uw buurt ({{ data.area }}). Uw alarmlijn werkt misschien niet. Meer info: {{ links.status }}"
        en:
          sms: "There is an outage in your area now ({{ data.area }}). Your alarm line may not work. More: {{ links.status }}"
      """

  Scenario: S20 - an approved exception to quiet hours lets an urgent notice go at night, marked as such
    Given an extra rule file "night_rules.yaml":
      """
      rules:
        - id: alarm-line-outage
          description: Tell customers with an alarm line at once when an outage hits it
          on: [service.outage_started]
          purpose: service
          data: [service]
          template: night_outage
          channels: [sms]
          priority: 90
          urgency: high
          window: event
          exception:
            limits: [quiet_hours]
            justification: "An alarm line that stops working at night is a safety risk; the customer must know at once."
            approved_by: "J. de Vries, compliance"
      """
    And a customer "C1" who reads "nl" and prefers "sms"
    When an outage starts in area "NL-35" for customer "C1" on 2026-05-21 at 23:30
    Then customer "C1" gets a message from rule "alarm-line-outage" by "sms"
    And the decision on rule "alarm-line-outage" for "C1" is marked as an exception to "quiet_hours" approved by "J. de Vries, compliance"
    And a reason for the decision on rule "alarm-line-outage" for "C1" mentions "exception (joker)"

  Scenario: S20 - no exception is used when no organisation limit stands in the way
    Given an extra rule file "night_rules.yaml":
      """
      rules:
        - id: alarm-line-outage
          description: Tell customers with an alarm line at once when an outage hits it
          on: [service.outage_started]
          purpose: service
          data: [service]
          template: night_outage
          channels: [sms]
          priority: 90
          urgency: high
          window: event
          exception:
            limits: [quiet_hours]
            justification: "An alarm line that stops working at night is a safety risk; the customer must know at once."
            approved_by: "J. de Vries, compliance"
      """
    And a customer "C1" who reads "nl" and prefers "sms"
    When an outage starts in area "NL-35" for customer "C1" on 2026-05-21 at 14:00
    Then customer "C1" gets a message from rule "alarm-line-outage" by "sms"
    And the decision on rule "alarm-line-outage" for "C1" carries no exception

  Scenario: S20 - an exception to a law limit is refused, and the law limit still blocks
    Given an extra template file "loyalty_offer.yaml":
      """
      id: loyalty_offer
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u al lang klant bij ons bent."
        en: "You get this message because you have been with us for a long time."
      messages:
        nl:
          sms: "Als dank voor uw trouw: bekijk uw voordeel op {{ links.bundle }}."
        en:
          sms: "To thank you for staying with us: see your benefit at {{ links.bundle }}."
      """
    And an extra rule file "loyalty_rules.yaml":
      """
      rules:
        - id: loyalty-offer
          description: Thank loyal customers with an offer, objection or not
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
          purpose: commercial
          data: [usage]
          template: loyalty_offer
          channels: [sms]
          priority: 20
          cooldown: 30d
          exception:
            limits: [objection_direct_marketing]
            justification: "Loyal customers appreciate a thank-you, even those who objected to marketing."
            approved_by: "Marketing lead"
      """
    And a customer "C1" who reads "nl" and prefers "sms"
    And the customer "C1" consents to "commercial" messages by "all"
    And the customer "C1" objects to direct marketing
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "loyalty-offer" reaches "C1" because "objected to direct marketing"
    And the decision on rule "loyalty-offer" for "C1" is "block" because "only organisation limits can be excepted"
    And the decision on rule "loyalty-offer" for "C1" carries no exception

  Scenario: S20 - an exception without a written justification is refused at load
    Given an extra rule file "night_rules.yaml":
      """
      rules:
        - id: alarm-line-outage
          description: Tell customers with an alarm line at once when an outage hits it
          on: [service.outage_started]
          purpose: service
          data: [service]
          template: night_outage
          channels: [sms]
          priority: 90
          window: event
          exception:
            limits: [quiet_hours]
            justification: "urgent"
            approved_by: "J. de Vries, compliance"
      """
    When the rule set is loaded
    Then the rule set is refused because "justification"

  Scenario: S21 - a rule that uses its exception for most of its decisions raises a governance alert
    The policy allows exceptions in at most 5% of a rule's decisions (judged from
    20 decisions on). A night-time outage makes every one of these an exception.

    Given an extra rule file "night_rules.yaml":
      """
      rules:
        - id: alarm-line-outage
          description: Tell customers with an alarm line at once when an outage hits it
          on: [service.outage_started]
          purpose: service
          data: [service]
          template: night_outage
          channels: [sms]
          priority: 90
          urgency: high
          window: event
          exception:
            limits: [quiet_hours]
            justification: "An alarm line that stops working at night is a safety risk; the customer must know at once."
            approved_by: "J. de Vries, compliance"
      """
    And customers "K01" to "K25" who read "nl" and prefer "sms"
    When an outage starts in area "NL-35" for customers "K01" to "K25" on 2026-05-21 at 23:30
    Then the ethics report alerts on the exception rate of rule "alarm-line-outage"

  Scenario: S21 - the same rule in daytime uses no exception and raises no alert
    Given an extra rule file "night_rules.yaml":
      """
      rules:
        - id: alarm-line-outage
          description: Tell customers with an alarm line at once when an outage hits it
          on: [service.outage_started]
          purpose: service
          data: [service]
          template: night_outage
          channels: [sms]
          priority: 90
          urgency: high
          window: event
          exception:
            limits: [quiet_hours]
            justification: "An alarm line that stops working at night is a safety risk; the customer must know at once."
            approved_by: "J. de Vries, compliance"
      """
    And customers "K01" to "K25" who read "nl" and prefer "sms"
    When an outage starts in area "NL-35" for customers "K01" to "K25" on 2026-05-21 at 11:00
    Then the ethics report raises no governance alert for rule "alarm-line-outage"
