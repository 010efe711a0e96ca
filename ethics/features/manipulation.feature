Feature: No pressure, no tricks, no promises we cannot keep
  Compliance's own scenarios (DOMAIN §4, §7). A proactive message helps the customer
  decide in their own time. Scarcity claims, countdowns, decoy names and prices that
  are not ours never reach a customer: the ethics check holds the message back and
  says which trick it found, in words a reviewer understands.

  Each scenario gives a product team's rule its own message text. The rule suggests
  a bigger bundle halfway through the month, so the shipped data-bundle warning (which
  starts at 90%) stays out of the way.

  Background:
    Given the customer "C1" consents to "commercial" messages by "all"
    And the customer "C1" is on plan "data-5gb"
    And the customer "C1" used 7.0, 6.8 and 7.2 GB of a 5 GB bundle in the months before 2026-05

  Scenario Outline: S3 - a scarcity claim or countdown in English is stopped: <claim>
    Given an extra template file "bundle_push.yaml":
      """
      id: bundle_push
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u {{ usage.pct }}% van uw bundel heeft gebruikt."
        en: "You get this message because you have used {{ usage.pct }}% of your bundle."
      messages:
        nl:
          app_inbox:
            subject: "Een grotere bundel"
            body: "{% if offer %}{{ offer.name }} kost {{ eur(offer.price) }} per maand. Kies het op {{ links.bundle }}.{% endif %}"
        en:
          app_inbox:
            subject: "A bigger bundle"
            body: "<claim> {% if offer %}{{ offer.name }} costs {{ eur(offer.price) }} a month. Choose it at {{ links.bundle }}.{% endif %}"
      """
    And an extra rule file "pushy_rules.yaml":
      """
      rules:
        - id: bundle-push
          description: Suggest a bigger bundle halfway through the month
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: commercial
          data: [usage]
          offer:
            select: best_fit_bundle
            purpose: commercial
            fallback: none
          template: bundle_push
          channels: [app_inbox]
          priority: 40
          cooldown: 7d
      """
    And a customer "C1" who reads "en" and prefers "app_inbox"
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "bundle-push" reaches "C1" because <named>
    And the decision on rule "bundle-push" for "C1" is "review" or "block"

    Examples:
      | claim                                   | named                                          |
      | Only 1 left!                            | "scarcity"                                     |
      | Hurry, while stocks last.               | "scarcity" or "urgency" or "time pressure"     |
      | This offer ends in 2 hours.             | "urgency" or "time pressure" or "countdown"    |
      | Last chance!                            | "urgency" or "time pressure"                   |

  Scenario Outline: S3 - a scarcity claim or countdown in Dutch is stopped: <claim>
    Given an extra template file "bundle_push.yaml":
      """
      id: bundle_push
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u {{ usage.pct }}% van uw bundel heeft gebruikt."
        en: "You get this message because you have used {{ usage.pct }}% of your bundle."
      messages:
        nl:
          app_inbox:
            subject: "Een grotere bundel"
            body: "<claim> {% if offer %}{{ offer.name }} kost {{ eur(offer.price) }} per maand. Kies het op {{ links.bundle }}.{% endif %}"
        en:
          app_inbox:
            subject: "A bigger bundle"
            body: "{% if offer %}{{ offer.name }} costs {{ eur(offer.price) }} a month. Choose it at {{ links.bundle }}.{% endif %}"
      """
    And an extra rule file "pushy_rules.yaml":
      """
      rules:
        - id: bundle-push
          description: Suggest a bigger bundle halfway through the month
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: commercial
          data: [usage]
          offer:
            select: best_fit_bundle
            purpose: commercial
            fallback: none
          template: bundle_push
          channels: [app_inbox]
          priority: 40
          cooldown: 7d
      """
    And a customer "C1" who reads "nl" and prefers "app_inbox"
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "bundle-push" reaches "C1" because <named>
    And the decision on rule "bundle-push" for "C1" is "review" or "block"

    Examples:
      | claim                       | named                                      |
      | Nog maar 1 beschikbaar!     | "scarcity"                                 |
      | Op = op.                    | "scarcity" or "urgency" or "time pressure" |
      | Alleen vandaag!             | "urgency" or "time pressure"               |
      | Wacht niet te lang.         | "urgency" or "time pressure"               |

  Scenario: S4 - "Small" and "Normal", where Normal is the dearer bundle, is flagged as decoy naming
    Given an extra template file "bundle_choice.yaml":
      """
      id: bundle_choice
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u {{ usage.pct }}% van uw bundel heeft gebruikt."
        en: "You get this message because you have used {{ usage.pct }}% of your bundle."
      messages:
        nl:
          app_inbox:
            subject: "Welke bundel past bij u?"
            body: "U kunt kiezen uit Klein met 5 GB of Normaal met 20 GB. Klein kost € 13,50 per maand en Normaal € 20,00 per maand. Kies op {{ links.bundle }}."
        en:
          app_inbox:
            subject: "Which bundle suits you?"
            body: "You can choose Small with 5 GB or Normal with 20 GB. Small costs €13.50 a month and Normal €20.00 a month. Choose at {{ links.bundle }}."
      """
    And an extra rule file "choice_rules.yaml":
      """
      rules:
        - id: bundle-choice
          description: Let the customer pick a bundle halfway through the month
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: commercial
          data: [usage]
          template: bundle_choice
          channels: [app_inbox]
          priority: 40
          cooldown: 7d
      """
    And a customer "C1" who reads "en" and prefers "app_inbox"
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "bundle-choice" reaches "C1" because "decoy" or "misdirection"
    And the decision on rule "bundle-choice" for "C1" is "review"

  Scenario: S4 - "Klein" en "Normaal", waarbij Normaal de duurdere bundel is, valt op als misleidende naamgeving
    Given an extra template file "bundle_choice.yaml":
      """
      id: bundle_choice
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u {{ usage.pct }}% van uw bundel heeft gebruikt."
        en: "You get this message because you have used {{ usage.pct }}% of your bundle."
      messages:
        nl:
          app_inbox:
            subject: "Welke bundel past bij u?"
            body: "U kunt kiezen uit Klein met 5 GB of Normaal met 20 GB. Klein kost € 13,50 per maand en Normaal € 20,00 per maand. Kies op {{ links.bundle }}."
        en:
          app_inbox:
            subject: "Which bundle suits you?"
            body: "You can choose Small with 5 GB or Normal with 20 GB. Small costs €13.50 a month and Normal €20.00 a month. Choose at {{ links.bundle }}."
      """
    And an extra rule file "choice_rules.yaml":
      """
      rules:
        - id: bundle-choice
          description: Let the customer pick a bundle halfway through the month
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: commercial
          data: [usage]
          template: bundle_choice
          channels: [app_inbox]
          priority: 40
          cooldown: 7d
      """
    And a customer "C1" who reads "nl" and prefers "app_inbox"
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "bundle-choice" reaches "C1" because "decoy" or "misdirection"
    And the decision on rule "bundle-choice" for "C1" is "review"

  Scenario: S5 - a price that is not the catalogue price is blocked
    The catalogue says 10 GB costs €16.50 a month; the text promises €9.99.
    That is a term we cannot honour.

    Given an extra template file "cheap_bundle.yaml":
      """
      id: cheap_bundle
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u {{ usage.pct }}% van uw bundel heeft gebruikt."
        en: "You get this message because you have used {{ usage.pct }}% of your bundle."
      messages:
        nl:
          app_inbox:
            subject: "Een bundel die past"
            body: "{% if offer %}Uw gebruik past bij {{ offer.name }}. Dat kost € 9,99 per maand. Wilt u wisselen? Dat kan op {{ links.bundle }}.{% endif %}"
        en:
          app_inbox:
            subject: "A bundle that fits"
            body: "{% if offer %}Your use fits {{ offer.name }}. It costs €9.99 a month. Want to switch? Go to {{ links.bundle }}.{% endif %}"
      """
    And an extra rule file "cheap_rules.yaml":
      """
      rules:
        - id: cheap-bundle
          description: Suggest the bundle that fits, at a price of our own
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: commercial
          data: [usage]
          offer:
            select: best_fit_bundle
            purpose: commercial
            fallback: none
          template: cheap_bundle
          channels: [app_inbox]
          priority: 40
          cooldown: 7d
      """
    And a customer "C1" who reads "en" and prefers "app_inbox"
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "cheap-bundle" reaches "C1" because "catalogue"
    And the decision on rule "cheap-bundle" for "C1" is "block"

  Scenario: S5 - een bundel die niet in de catalogus staat wordt geblokkeerd
    The catalogue has no "Onbeperkt 5G Max"; the text promises it anyway.

    Given an extra template file "dream_bundle.yaml":
      """
      id: dream_bundle
      sender: "Example Telecom"
      reason:
        nl: "U krijgt dit bericht omdat u {{ usage.pct }}% van uw bundel heeft gebruikt."
        en: "You get this message because you have used {{ usage.pct }}% of your bundle."
      messages:
        nl:
          app_inbox:
            subject: "Een bundel die past"
            body: "{% if offer %}Stap over op Onbeperkt 5G Max. Dat kost € 24,99 per maand. Wilt u wisselen? Dat kan op {{ links.bundle }}.{% endif %}"
        en:
          app_inbox:
            subject: "A bundle that fits"
            body: "{% if offer %}Switch to Unlimited 5G Max. It costs €24.99 a month. Want to switch? Go to {{ links.bundle }}.{% endif %}"
      """
    And an extra rule file "dream_rules.yaml":
      """
      rules:
        - id: dream-bundle
          description: Promise a bundle the catalogue does not have
          on: [usage.data]
          when:
            - usage.pct_used >= 0.5
            - usage.pct_used < 0.9
          purpose: commercial
          data: [usage]
          offer:
            select: best_fit_bundle
            purpose: commercial
            fallback: none
          template: dream_bundle
          channels: [app_inbox]
          priority: 40
          cooldown: 7d
      """
    And a customer "C1" who reads "nl" and prefers "app_inbox"
    When the customer "C1" has used 3.0 GB of the 5 GB bundle on 2026-05-12 at 10:00
    Then no message from rule "dream-bundle" reaches "C1" because "catalogue"
    And the decision on rule "dream-bundle" for "C1" is "block"
