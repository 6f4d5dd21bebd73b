Feature: Legal integrity
  Every change rests on the Act, its ordinances or the landing criteria, and respects due
  process and legal certainty for people already resident.

  Background:
    Given the rule pack "rules"

  Scenario: A change with no legal basis conflicts with legal integrity
    Given a proposal with:
      | field       | value |
      | legal_basis | []    |
    When the proposal is checked
    Then the verdict is "conflict"
    And a finding "legal_basis_required" is reported with kind "conflict" and severity "high"
    And the finding "legal_basis_required" is under the principle "legal_integrity"

  Scenario: A blank legal basis is no legal basis
    Given a proposal with:
      | field       | value |
      | legal_basis | [" "] |
    When the proposal is checked
    Then a finding "legal_basis_required" is reported

  Scenario: A change resting on the Act passes
    When the proposal is checked
    Then the verdict is "consistent"
    And there are no findings

  Scenario Outline: Residents affected need at least 180 days of transition
    Given a proposal with:
      | field                            | value             |
      | direction                        | restrict          |
      | impact.affects_current_residents | true              |
      | impact.transition_days           | <transition_days> |
      | impact.assessments               | {"human_dignity": "Assessed."} |
    When the proposal is checked
    Then <outcome>

    Examples:
      | transition_days | outcome                                            |
      |                 | a finding "transition_for_residents" is reported   |
      | 0               | a finding "transition_for_residents" is reported   |
      | 179             | a finding "transition_for_residents" is reported   |
      | 180             | no finding "transition_for_residents" is reported  |
      | 365             | no finding "transition_for_residents" is reported  |

  Scenario: A restriction may not apply retroactively
    Given a proposal with:
      | field             | value    |
      | direction         | restrict |
      | impact.retroactive | true    |
    When the proposal is checked
    Then a finding "no_retroactive_restriction" is reported with kind "conflict" and severity "high"

  Scenario: A retroactive expansion is no retroactive restriction
    Given a proposal with:
      | field              | value  |
      | direction          | expand |
      | impact.retroactive | true   |
    When the proposal is checked
    Then no finding "no_retroactive_restriction" is reported

  Scenario Outline: A major change needs an instrument that can carry it
    Given a proposal with:
      | field      | value        |
      | magnitude  | major        |
      | instrument | <instrument> |
      | rationale.evidence | [{"indicator": "x", "value": 2, "previous": 1}] |
    When the proposal is checked
    Then <outcome>

    Examples:
      | instrument              | outcome                                             |
      | guideline               | a finding "instrument_fits_magnitude" is reported   |
      | administrative_practice | a finding "instrument_fits_magnitude" is reported   |
      | public_notice           | a finding "instrument_fits_magnitude" is reported   |
      | act                     | no finding "instrument_fits_magnitude" is reported  |
      | ministerial_ordinance   | no finding "instrument_fits_magnitude" is reported  |
