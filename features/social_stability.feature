Feature: Social-psychological stability
  Changes keep public trust: gradual steps, explained, announced in good time.

  Background:
    Given the rule pack "rules"

  Scenario Outline: A major change needs at least 90 days between proposal and effect
    Given a proposal with:
      | field              | value                                           |
      | magnitude          | major                                           |
      | proposed_on        | 2025-01-01                                      |
      | effective_on       | <effective_on>                                  |
      | rationale.evidence | [{"indicator": "x", "value": 2, "previous": 1}] |
    When the proposal is checked
    Then <outcome>

    Examples:
      | effective_on | outcome                                        |
      | 2025-01-01   | a finding "abrupt_major_change" is reported    |
      | 2025-03-31   | a finding "abrupt_major_change" is reported    |
      | 2025-04-01   | no finding "abrupt_major_change" is reported   |

  Scenario: An abrupt major change is a tension of medium severity
    Given a proposal with:
      | field              | value                                           |
      | magnitude          | major                                           |
      | proposed_on        | 2025-03-01                                      |
      | effective_on       | 2025-04-01                                      |
      | rationale.evidence | [{"indicator": "x", "value": 2, "previous": 1}] |
    When the proposal is checked
    Then a finding "abrupt_major_change" is reported with kind "tension" and severity "medium"
    And the finding "abrupt_major_change" is under the principle "social_stability"

  Scenario: Without a proposal date the notice cannot be measured
    Given a proposal with:
      | field              | value                                           |
      | magnitude          | major                                           |
      | proposed_on        |                                                 |
      | rationale.evidence | [{"indicator": "x", "value": 2, "previous": 1}] |
    When the proposal is checked
    Then no finding "abrupt_major_change" is reported

  Scenario: A sizeable change must say why
    Given a proposal with:
      | field     | value     |
      | magnitude | mid_level |
    When the proposal is checked
    Then the verdict is "consistent"
    And a finding "unexplained_change" is reported with kind "note" and severity "low"
    And the finding "unexplained_change" is under the principle "social_stability"

  Scenario: A stated reason answers it
    Given a proposal with:
      | field               | value                                              |
      | magnitude           | mid_level                                          |
      | rationale.statement | Labour shortages measured in the 2024 review.      |
    When the proposal is checked
    Then no finding "unexplained_change" is reported
