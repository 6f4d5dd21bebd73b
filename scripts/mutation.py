"""`make mutation`: prove that every rule of the default pack is pinned by a scenario.

For each rule, a copy of the project is made in which that rule's condition is replaced by
`false`, and the Gherkin features are run against it. A rule whose removal no scenario
notices is reported, and the script exits 1.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checker.lang.parse import parse  # noqa: E402


def disable(text: str, file: str, rule_id: str) -> str | None:
    """The file's text with the rule's `when` condition replaced by `false`, or None."""
    tree = parse(text, file)
    for principle in tree.principles:
        for rule in principle.rules:
            if rule.name == rule_id and rule.when is not None:
                span = rule.when.span
                lines = text.splitlines(keepends=True)
                start = sum(len(line) for line in lines[: span.line - 1]) + span.column - 1
                end = sum(len(line) for line in lines[: span.end_line - 1]) + span.end_column - 1
                return text[:start] + "false" + text[end:]
    return None


def main() -> int:
    rule_files = sorted((ROOT / "rules").glob("*.bcm"))
    rules = [
        (path, rule.name)
        for path in rule_files
        for principle in parse(path.read_text(encoding="utf-8"), str(path)).principles
        for rule in principle.rules
    ]
    survivors = []
    for path, rule_id in rules:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            shutil.copytree(ROOT / "rules", work / "rules")
            shutil.copytree(ROOT / "features", work / "features")
            (work / "tests").mkdir()
            shutil.copy(ROOT / "tests" / "test_features.py", work / "tests" / "test_features.py")
            (work / "pytest.ini").write_text(
                "[pytest]\nbdd_features_base_dir = features/\n", encoding="utf-8"
            )
            target = work / "rules" / path.name
            mutated = disable(target.read_text(encoding="utf-8"), str(target), rule_id)
            assert mutated is not None
            target.write_text(mutated, encoding="utf-8")
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests"],
                cwd=work,
                capture_output=True,
                text=True,
            )
        caught = result.returncode == 1
        print(f"{'caught   ' if caught else 'SURVIVED '} {rule_id:36s} ({path.name})", flush=True)
        if result.returncode not in (0, 1):
            print(result.stdout[-2000:], result.stderr[-2000:])
        if not caught:
            survivors.append(rule_id)
    print()
    if survivors:
        print(f"{len(survivors)} rule(s) no scenario notices: {', '.join(survivors)}")
        return 1
    print(f"all {len(rules)} rules are pinned by at least one scenario")
    return 0


if __name__ == "__main__":
    sys.exit(main())
