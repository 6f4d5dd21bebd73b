Feature: The city's integration capacity
  The city checks national and local proposals against its own language classes and school
  interpreters before it answers the ministry's consultation.

  Background:
    Given the rule pack "rules"

  Scenario: Demand for Japanese classes above the city's places
    Given a proposal with:
      | field                            | value  |
      | direction                        | expand |
      | extensions.language_class_demand | 1500   |
    When the proposal is checked in "ja"
    Then the verdict is "tension"
    And a finding "language_classes_suffice" is reported with kind "tension" and severity "medium"
    And the message of "language_classes_suffice" contains "1,500人"

  Scenario: Twice the places is high severity
    Given a proposal with:
      | field                            | value  |
      | direction                        | expand |
      | extensions.language_class_demand | 2401   |
    When the proposal is checked
    Then a finding "language_classes_suffice" is reported with kind "tension" and severity "high"

  Scenario Outline: Within the places there is nothing to report
    Given a proposal with:
      | field                            | value    |
      | direction                        | expand   |
      | extensions.language_class_demand | <demand> |
    When the proposal is checked
    Then no finding "language_classes_suffice" is reported

    Examples:
      | demand |
      | 1200   |
      | 10     |

  Scenario: The city's places are a parameter it can change for one check
    Given the parameter "language_class_places" is "2000 persons"
    And a proposal with:
      | field                            | value  |
      | direction                        | expand |
      | extensions.language_class_demand | 1500   |
    When the proposal is checked
    Then no finding "language_classes_suffice" is reported

  Scenario: School interpreters
    Given a proposal with:
      | field                          | value  |
      | direction                      | expand |
      | extensions.school_age_children | 400    |
      | extensions.school_interpreters | 5      |
    When the proposal is checked in "en"
    Then the verdict is "consistent"
    And a finding "school_interpreters" is reported with kind "note" and severity "low"
    And the message of "school_interpreters" contains "400 school-age children"
