Feature: Economic rationality
  Changes answer measured economic needs (labour demand, fiscal effect), not slogans.

  Background:
    Given the rule pack "rules"

  Scenario: Invoking economic rationality without evidence conflicts with it
    Given a proposal with:
      | field                | value                      |
      | rationale.principles | ["economic_rationality"]   |
    When the proposal is checked
    Then a finding "evidence_for_economic_claim" is reported with kind "conflict" and severity "medium"
    And the finding "evidence_for_economic_claim" is under the principle "economic_rationality"

  Scenario: Invoking it with an indicator passes
    Given a proposal with:
      | field                | value                                                                       |
      | rationale.principles | ["economic_rationality"]                                                    |
      | rationale.evidence   | [{"indicator": "job_openings_to_applicants_ratio", "value": 1.63, "previous": 1.36}] |
    When the proposal is checked
    Then no finding "evidence_for_economic_claim" is reported

  Scenario Outline: A major change needs evidence unless a court or a treaty requires it
    Given a proposal with:
      | field             | value     |
      | magnitude         | major     |
      | instrument        | act       |
      | rationale.trigger | <trigger> |
    When the proposal is checked
    Then <outcome>

    Examples:
      | trigger           | outcome                                                |
      | public_pressure   | a finding "major_change_needs_evidence" is reported    |
      | scheduled_review  | a finding "major_change_needs_evidence" is reported    |
      | court_ruling      | no finding "major_change_needs_evidence" is reported   |
      | treaty_obligation | no finding "major_change_needs_evidence" is reported   |
