Feature: Normative coherence over the electoral calendar
  The direction of policy follows stated principles over time, not the electoral calendar.

  Background:
    Given the rule pack "rules"

  Scenario Outline: A sizeable change proposed in the run-up to an election
    Given a proposal with:
      | field                    | value           |
      | magnitude                | <magnitude>     |
      | instrument               | act             |
      | rationale.evidence       | [{"indicator": "x", "value": 2, "previous": 1}] |
      | proposed_on              | <proposed_on>   |
      | context.next_election_on | 2025-07-20      |
    When the proposal is checked
    Then <outcome>

    Examples:
      | magnitude | proposed_on | outcome                                      |
      | mid_level | 2025-01-21  | a finding "electoral_timing" is reported     |
      | mid_level | 2025-01-20  | no finding "electoral_timing" is reported    |
      | mid_level | 2025-07-20  | a finding "electoral_timing" is reported     |
      | major     | 2025-05-01  | a finding "electoral_timing" is reported     |
      | minor     | 2025-05-01  | no finding "electoral_timing" is reported    |

  Scenario: A campaign pledge is electoral at any distance
    Given a proposal with:
      | field                         | value     |
      | magnitude                     | mid_level |
      | context.announced_in_campaign | true      |
    When the proposal is checked
    Then a finding "electoral_timing" is reported with kind "tension" and severity "medium"

  Scenario: A proposal that states no principle gets a note
    Given a proposal with:
      | field                | value |
      | rationale.principles | []    |
    When the proposal is checked
    Then the verdict is "consistent"
    And a finding "no_stated_principle" is reported with kind "note" and severity "low"
