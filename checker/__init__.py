"""bcm: a rule-based consistency checker for migration policy (the Balanced Coexistence Model).

import checker
pack = checker.load_pack("rules")
report = pack.check(proposal, history=records, lang="ja")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["History", "Pack", "__version__", "load_pack"]

if TYPE_CHECKING:
    from checker.api import History, Pack, load_pack


def __getattr__(name: str) -> Any:
    # The API pulls in the engine; `bcm --version` and `bcm validate` should not pay for it.
    if name in ("History", "Pack", "load_pack"):
        from checker import api

        return getattr(api, name)
    raise AttributeError(name)
