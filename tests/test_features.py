"""Run every Gherkin feature of features/ with the shipped step library (checker.bdd)."""

from pytest_bdd import scenarios

scenarios(".")
