Feature: Unprincipled reversals
  Policy may move in either direction, but a change that turns back the latest enacted change
  of its scope needs new evidence, a court ruling, a treaty obligation or a scheduled review,
  not the electoral calendar.

  Background:
    Given the rule pack "rules"
    And the history:
      | id          | effective_on | direction | target              |
      | JP-2019-SSW | 2019-04-01   | expand    | low_skilled_workers |

  Scenario: A restriction soon after an expansion, with no new evidence, is a reversal
    Given a proposal with:
      | field             | value                  |
      | target            | "low_skilled_workers"  |
      | direction         | restrict               |
      | magnitude         | mid_level              |
      | rationale.trigger | public_pressure        |
      | effective_on      | 2021-04-01             |
      | proposed_on       | 2020-10-01             |
    When the proposal is checked
    Then the verdict is "conflict"
    And a finding "unprincipled_reversal" is reported with kind "reversal" and severity "medium"
    And the finding "unprincipled_reversal" is under the principle "normative_coherence"
    And the finding "unprincipled_reversal" rests on "JP-2019-SSW"
    And the message of "unprincipled_reversal" contains "JP-2019-SSW"

  Scenario: A campaign pledge makes the reversal high severity, at any distance
    Given a proposal with:
      | field                         | value                 |
      | target                        | "low_skilled_workers" |
      | direction                     | restrict              |
      | context.announced_in_campaign | true                  |
      | effective_on                  | 2030-04-01            |
      | proposed_on                   | 2029-10-01            |
    When the proposal is checked
    Then a finding "unprincipled_reversal" is reported with kind "reversal" and severity "high"

  Scenario: Evidence that moved makes the reversal principled
    Given a proposal with:
      | field              | value                                                                      |
      | target             | "low_skilled_workers"                                                      |
      | direction          | restrict                                                                   |
      | effective_on       | 2021-04-01                                                                 |
      | rationale.evidence | [{"indicator": "job_openings_to_applicants_ratio", "value": 1.18, "previous": 1.60}] |
    When the proposal is checked
    Then no finding "unprincipled_reversal" is reported

  Scenario: A change in the same direction is no reversal
    Given a proposal with:
      | field        | value                 |
      | target       | "low_skilled_workers" |
      | direction    | expand                |
      | effective_on | 2021-04-01            |
    When the proposal is checked
    Then no finding "unprincipled_reversal" is reported

  Scenario Outline: The reversal window is 1,461 days, both ends included
    Given a proposal with:
      | field        | value                 |
      | target       | "low_skilled_workers" |
      | direction    | restrict              |
      | effective_on | <effective_on>        |
    When the proposal is checked
    Then <outcome>

    Examples:
      | effective_on | outcome                                         |
      | 2023-03-31   | a finding "unprincipled_reversal" is reported   |
      | 2023-04-01   | a finding "unprincipled_reversal" is reported   |
      | 2023-04-02   | no finding "unprincipled_reversal" is reported  |

  Scenario: A court ruling is a principled reason to turn back
    Given a proposal with:
      | field             | value                 |
      | target            | "low_skilled_workers" |
      | direction         | restrict              |
      | effective_on      | 2021-04-01            |
      | rationale.trigger | court_ruling          |
    When the proposal is checked
    Then no finding "unprincipled_reversal" is reported

  Scenario: The reversal window is a parameter that can be overridden for one check
    Given the parameter "reversal_window" is "365 days"
    And a proposal with:
      | field        | value                 |
      | target       | "low_skilled_workers" |
      | direction    | restrict              |
      | effective_on | 2021-04-01            |
    When the proposal is checked
    Then no finding "unprincipled_reversal" is reported
