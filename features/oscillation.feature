Feature: Oscillation between expansion and restriction
  A scope that keeps turning has no direction at all: counting the proposal, three or more
  changes of direction within eight years (2,922 days) are a tension to be argued.

  Background:
    Given the rule pack "rules"

  Scenario: The third turn within the window is an oscillation
    Given the history:
      | id  | effective_on | direction | area           | target       |
      | B-1 | 2018-01-01   | restrict  | border_control | all_migrants |
      | B-2 | 2020-01-01   | expand    | border_control | all_migrants |
      | B-3 | 2022-01-01   | restrict  | border_control | all_migrants |
    And a proposal with:
      | field        | value            |
      | area         | border_control   |
      | target       | "all_migrants"   |
      | direction    | expand           |
      | effective_on | 2024-01-01       |
    When the proposal is checked
    Then a finding "oscillation" is reported with kind "tension" and severity "high"
    And the finding "oscillation" is under the principle "normative_coherence"

  Scenario: Two turns are not yet an oscillation
    Given the history:
      | id  | effective_on | direction | area           | target       |
      | B-2 | 2020-01-01   | expand    | border_control | all_migrants |
      | B-3 | 2022-01-01   | restrict  | border_control | all_migrants |
    And a proposal with:
      | field        | value          |
      | area         | border_control |
      | target       | "all_migrants" |
      | direction    | expand         |
      | effective_on | 2024-01-01     |
    When the proposal is checked
    Then no finding "oscillation" is reported

  Scenario: Records of other scopes, neutral and withdrawn records do not count
    Given the history:
      | id  | effective_on | direction | area           | target       | status    |
      | B-1 | 2018-01-01   | restrict  | border_control | students     | enacted   |
      | B-2 | 2020-01-01   | expand    | border_control | all_migrants | enacted   |
      | B-4 | 2021-01-01   | restrict  | border_control | all_migrants | withdrawn |
      | B-5 | 2021-06-01   | neutral   | border_control | all_migrants | enacted   |
      | B-3 | 2022-01-01   | restrict  | border_control | all_migrants | enacted   |
    And a proposal with:
      | field        | value          |
      | area         | border_control |
      | target       | "all_migrants" |
      | direction    | expand         |
      | effective_on | 2024-01-01     |
    When the proposal is checked
    Then no finding "oscillation" is reported
