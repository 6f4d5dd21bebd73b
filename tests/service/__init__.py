"""Tests of the HTTP API (checker/service.py) and its Python client (checker/client.py)."""
