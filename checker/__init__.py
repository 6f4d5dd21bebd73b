"""bcm: a rule-based consistency checker for migration policy (the Balanced Coexistence Model)."""

from __future__ import annotations

__version__ = "0.1.0"
