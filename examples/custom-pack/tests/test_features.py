"""The city's scenarios, run with bcm's step library (installed with bcm as a pytest plugin)."""

from pytest_bdd import scenarios

scenarios("../features")
