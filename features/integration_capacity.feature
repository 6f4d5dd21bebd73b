Feature: Integration capacity
  Admission stays within what housing, language teaching, schools and local services can
  absorb.

  Background:
    Given the rule pack "rules"

  Scenario Outline: Inflow against capacity
    Given a proposal with:
      | field                       | value      |
      | direction                   | expand     |
      | impact.expected_inflow      | <inflow>   |
      | impact.integration_capacity | <capacity> |
    When the proposal is checked
    Then <outcome>

    Examples:
      | inflow | capacity | outcome                                          |
      | 10001  | 10000    | a finding "inflow_within_capacity" is reported   |
      | 10000  | 10000    | no finding "inflow_within_capacity" is reported  |
      | 10000  | 10000    | a finding "capacity_margin" is reported          |
      | 9000   | 10000    | a finding "capacity_margin" is reported          |
      | 8999   | 10000    | no finding "capacity_margin" is reported         |
      | 10001  | 10000    | no finding "capacity_margin" is reported         |

  Scenario: Inflow above capacity is a conflict of high severity
    Given a proposal with:
      | field                       | value  |
      | direction                   | expand |
      | impact.expected_inflow      | 69000  |
      | impact.integration_capacity | 50000  |
    When the proposal is checked
    Then the verdict is "conflict"
    And a finding "inflow_within_capacity" is reported with kind "conflict" and severity "high"
    And the message of "inflow_within_capacity" contains "69,000"
    And the message of "inflow_within_capacity" contains "50,000"

  Scenario: A restriction is never over capacity
    Given a proposal with:
      | field                       | value    |
      | direction                   | restrict |
      | impact.expected_inflow      | 69000    |
      | impact.integration_capacity | 50000    |
    When the proposal is checked
    Then no finding "inflow_within_capacity" is reported

  Scenario: A sizeable expansion with no capacity figure must be assessed
    Given a proposal with:
      | field     | value     |
      | direction | expand    |
      | magnitude | mid_level |
    When the proposal is checked
    Then the verdict is "tension"
    And a finding "capacity_assessed" is reported with kind "tension" and severity "medium"

  Scenario: A minor expansion needs no capacity figure
    Given a proposal with:
      | field     | value  |
      | direction | expand |
      | magnitude | minor  |
    When the proposal is checked
    Then no finding "capacity_assessed" is reported
