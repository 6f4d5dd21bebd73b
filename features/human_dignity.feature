Feature: Human dignity
  The rights and dignity of migrants are kept in every direction of change: a restriction
  that reaches the most exposed groups must say how it keeps them.

  Background:
    Given the rule pack "rules"

  Scenario Outline: Restrictions on exposed groups need a dignity assessment
    Given a proposal with:
      | field     | value    |
      | direction | restrict |
      | target    | <target> |
    When the proposal is checked
    Then <outcome>

    Examples:
      | target                  | outcome                                                       |
      | refugees_asylum_seekers | a finding "dignity_assessed_for_restriction" is reported      |
      | irregular_migrants      | a finding "dignity_assessed_for_restriction" is reported      |
      | family_members          | a finding "dignity_assessed_for_restriction" is reported      |
      | permanent_residents     | a finding "dignity_assessed_for_restriction" is reported      |
      | students                | no finding "dignity_assessed_for_restriction" is reported     |

  Scenario: A blank assessment is no assessment
    Given a proposal with:
      | field              | value                     |
      | direction          | restrict                  |
      | target             | permanent_residents       |
      | impact.assessments | {"human_dignity": "   "}  |
    When the proposal is checked
    Then a finding "dignity_assessed_for_restriction" is reported with kind "tension" and severity "medium"

  Scenario: An assessment answers the rule
    Given a proposal with:
      | field              | value                                                   |
      | direction          | restrict                                                |
      | target             | permanent_residents                                     |
      | impact.assessments | {"human_dignity": "Revocation only after a hearing."}   |
    When the proposal is checked
    Then no finding "dignity_assessed_for_restriction" is reported
