Feature: Checking proposals from the command line
  An administrative scrivener checks a proposal before it is announced, and a drafting
  pipeline gates on the exit code.

  Background:
    Given the rule pack "rules"
    And the history:
      | id          | effective_on | direction | target              |
      | JP-2019-SSW | 2019-04-01   | expand    | low_skilled_workers |

  Scenario: A conflict exits 1 and names the rule, the evidence and the remedy
    Given a proposal with:
      | field        | value               |
      | target       | low_skilled_workers |
      | direction    | restrict            |
      | effective_on | 2021-04-01          |
      | legal_basis  | []                  |
    When I run "bcm check {proposal} --history {history}"
    Then the exit code is 1
    And the output contains "Verdict: CONFLICT"
    And the output contains "unprincipled_reversal"
    And the output contains "legal_basis_required"
    And the output contains "Remedy:"
    And the output contains "Related records: JP-2019-SSW"

  Scenario: A consistent proposal exits 0
    When I run "bcm check {proposal} --history {history}"
    Then the exit code is 0
    And the output contains "Verdict: CONSISTENT"

  Scenario: A tension passes unless the pipeline fails on tensions
    Given a proposal with:
      | field     | value     |
      | direction | expand    |
      | magnitude | mid_level |
    When I run "bcm check {proposal} --history {history} --fail-on tension"
    Then the exit code is 1
    And the output contains "capacity_assessed"

  Scenario: The report in Japanese
    Given a proposal with:
      | field       | value |
      | legal_basis | []    |
    When I run "bcm check {proposal} --lang ja"
    Then the exit code is 1
    And the output contains "判定: 抵触"
    And the output contains "改善策"

  Scenario: JSON for programs
    Given a proposal with:
      | field       | value |
      | legal_basis | []    |
    When I run "bcm check {proposal} --format json"
    Then the exit code is 1
    And the JSON report's verdict is "conflict"
    And the JSON report has a finding "legal_basis_required"

  Scenario: A broken proposal is bad input, exit 2, with the field named
    Given a proposal with:
      | field     | value  |
      | direction | expnad |
    When I run "bcm check {proposal}"
    Then the exit code is 2
    And the output contains "did you mean `expand`?"

  Scenario: An unknown parameter is bad input
    When I run "bcm check {proposal} --param reversal_windw=100"
    Then the exit code is 2
    And the output contains "did you mean `reversal_window`?"
