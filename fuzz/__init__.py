"""Bounded fuzzing for `make fuzz`: atheris harnesses and the runner that drives them and the
long hypothesis and schemathesis runs (see run.py)."""
