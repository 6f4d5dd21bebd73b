"""Engine benchmark: the default pack through `pack.check` (the API, engine in-process), through
the durable-rules engine alone (`Engine.check`) and through the reference evaluator, side by
side.

    .venv/bin/python bench/engine_bench.py            # the full run (a few minutes)
    .venv/bin/python bench/engine_bench.py --quick    # smaller counts, to try it out

For H = 0, 1,000 and 10,000 history records, spread over 100 scopes and in a single scope:
checks per second and peak RSS, each configuration in a fresh process (so that peaks do not
mix); the time to load 10,000 records into the engine; RSS before and after 100,000
consecutive checks, and after 100,000 more (what grows while the engine's bounded buffers and
caches fill must level off). Goals: >= 5,000 checks/s at H=0; >= 3,000 at H=10,000 over scopes and
>= 1,000 in one scope; 10,000 records loaded in < 1 s; RSS < 300 MB at H=10,000; no growth
over 100,000 checks.

Not a test: it measures this machine, now. The figures depend on the load of the machine;
compare the two engines within one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import multiprocessing
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AREAS = ("border_control", "entry_stay", "integration", "exit")
TARGETS = ("students", "trainees", "refugees_asylum_seekers", "family_members", "skilled_workers")


def scopes(count: int) -> list[tuple[str, str, str]]:
    """`count` distinct scopes (jurisdiction, area, target)."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for n in range(count):
        jurisdiction = letters[n // 20 % 26] + letters[n // 520 % 26]
        out.append((jurisdiction, AREAS[n % 4], TARGETS[(n // 4) % 5]))
    return out


def document(
    rng: random.Random, id: str, scope: tuple[str, str, str], proposal: bool
) -> dict[str, Any]:
    jurisdiction, area, target = scope
    day = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(30 * 365))
    return {
        "id": id,
        "title": f"change {id}",
        "jurisdiction": jurisdiction,
        "area": area,
        "target": target,
        "direction": rng.choice(("expand", "restrict", "neutral")),
        "magnitude": rng.choice(("fine_tuning", "minor", "mid_level", "major")),
        "instrument": rng.choice(("act", "cabinet_order", "guideline", "public_notice")),
        "legal_basis": rng.choice(([], ["ICRRA Art. 2-2"])),
        "effective_on": (day + dt.timedelta(days=3650 if proposal else 0)).isoformat(),
        "proposed_on": rng.choice(
            (None, (day - dt.timedelta(days=rng.randrange(400))).isoformat())
        ),
        "status": "proposed" if proposal else rng.choice(("enacted", "enacted", "withdrawn")),
        "rationale": {
            "principles": rng.sample(
                ["economic_rationality", "integration_capacity"], rng.randrange(3)
            ),
            "statement": rng.choice((None, "", "labour shortage")),
            "trigger": rng.choice((None, "evidence", "electoral_pledge", "court_ruling")),
            "evidence": [
                {
                    "indicator": "jobs",
                    "value": Decimal("1.63"),
                    "previous": rng.choice((None, Decimal("1.36"))),
                }
                for _ in range(rng.randrange(3))
            ],
        },
        "impact": {
            "expected_inflow": rng.choice((None, rng.randrange(60000))),
            "integration_capacity": rng.choice((None, rng.randrange(60000))),
            "affects_current_residents": rng.random() < 0.3,
            "retroactive": rng.random() < 0.1,
            "transition_days": rng.choice((None, rng.randrange(400))),
        },
        "context": {
            "next_election_on": rng.choice(
                (None, (day + dt.timedelta(days=rng.randrange(400))).isoformat())
            ),
            "announced_in_campaign": rng.random() < 0.2,
        },
    }


def documents(size: int, spread: int, proposals: int, seed: int) -> tuple[list[Any], list[Any]]:
    """History records and proposals as validated documents (PolicyChange)."""
    from checker.documents import PolicyChange

    rng = random.Random(seed)
    pool = scopes(spread)
    records = [
        PolicyChange.model_validate(document(rng, f"H{n}", rng.choice(pool), False))
        for n in range(size)
    ]
    checks = [
        PolicyChange.model_validate(document(rng, f"P{n}", rng.choice(pool), True))
        for n in range(proposals)
    ]
    return records, checks


def facts(size: int, spread: int, proposals: int, seed: int) -> tuple[list[Any], list[Any]]:
    """The same as `documents`, as engine facts."""
    from checker.semantics import to_fact

    records, checks = documents(size, spread, proposals, seed)
    return [to_fact(r) for r in records], [to_fact(p) for p in checks]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(which: str, size: int, spread: int, seconds: float, queue: Any) -> None:
    """One configuration in a fresh process: checks/s and peak RSS."""
    from checker.compiler import compile_pack
    from checker.lang.pack import load_checked_pack
    from checker.reference import Evaluator, HistoryIndex

    pack = load_checked_pack(str(ROOT / "rules"))
    evaluator = Evaluator(pack)
    params = evaluator.params(None, "JP")
    if which == "pack":
        # the whole API: the engine in this process (workers=0), findings and the report
        from checker import load_pack
        from checker.api import History

        docs, proposals = documents(size, spread, 500, seed=size + spread)
        api = load_pack(str(ROOT / "rules"))
        history = History(docs)

        def check(proposal: Any) -> Any:
            return api.check(proposal, history)
    elif which == "engine":
        from checker.engine import Engine

        records, proposals = facts(size, spread, 500, seed=size + spread)
        engine = Engine(pack, compile_pack(pack))
        engine.set_history("h", records)

        def check(proposal: Any) -> Any:
            return engine.check(proposal, "h", params)
    else:
        records, proposals = facts(size, spread, 500, seed=size + spread)
        index = HistoryIndex(records)

        def check(proposal: Any) -> Any:
            return evaluator.check(proposal, index, params)

    for proposal in proposals[:50]:  # warm: every partition a proposal needs is loaded
        check(proposal)
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for proposal in proposals[:100]:
            check(proposal)
        done += 100
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    queue.put((done / elapsed, done / cpu, peak_mb()))


def load_time(size: int, queue: Any) -> None:
    """Seconds to hand `size` records to the engine: projected, partitioned, asserted."""
    from checker.compiler import compile_pack
    from checker.engine import Engine
    from checker.lang.pack import load_checked_pack

    pack = load_checked_pack(str(ROOT / "rules"))
    records, _ = facts(size, 100, 1, seed=7)
    engine = Engine(pack, compile_pack(pack))
    started = time.perf_counter()
    engine.set_history("h", records)
    queue.put(time.perf_counter() - started)


def load_from_file(size: int, queue: Any) -> None:
    """Seconds, by stage, to bring `size` records from a JSON file into the engine: read and
    validate (checker.loading), convert to facts, and the first check, which hands them to the
    engine."""
    import json
    import tempfile

    from checker import load_pack
    from checker.api import History
    from checker.loading import load_history

    rng = random.Random(7)
    pool = scopes(100)
    data = [document(rng, f"H{n}", rng.choice(pool), False) for n in range(size)]
    proposal = document(rng, "P", pool[0], True)
    api = load_pack(str(ROOT / "rules"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.json"
        path.write_text(json.dumps(data, default=float), encoding="utf-8")
        stages = [time.perf_counter()]
        history = History(load_history(str(path)))
        stages.append(time.perf_counter())
        history.facts()
        stages.append(time.perf_counter())
        api.check(proposal, history)
        stages.append(time.perf_counter())
    queue.put([b - a for a, b in itertools.pairwise(stages)])


def endurance(count: int, size: int, queue: Any) -> None:
    from checker.compiler import compile_pack
    from checker.engine import Engine
    from checker.lang.pack import load_checked_pack
    from checker.reference import Evaluator

    pack = load_checked_pack(str(ROOT / "rules"))
    params = Evaluator(pack).params(None, "JP")
    records, proposals = facts(size, 100, 1000, seed=11)
    engine = Engine(pack, compile_pack(pack))
    engine.set_history("h", records)
    for proposal in proposals:
        engine.check(proposal, "h", params)
    before = rss_mb()
    started = time.perf_counter()
    for n in range(count):
        engine.check(proposals[n % len(proposals)], "h", params)
    after = rss_mb()
    rate = count / (time.perf_counter() - started)
    for n in range(count):  # as many again: whatever grew in the first run must level off
        engine.check(proposals[n % len(proposals)], "h", params)
    queue.put((before, after, rss_mb(), rate))


def in_child(target: Any, *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 5.0
    endurance_checks = 10_000 if args.quick else 100_000

    print("checks/s by the clock and by CPU time, peak RSS; default pack, each in a fresh process")
    print("pack.check: the API with the engine in-process (findings, report); engine: Engine.check")
    print(f"{'history':>26} | {'pack.check':^27} | {'engine':^27} | {'reference':^27}")
    for size, spread, label in (
        (0, 100, "H=0"),
        (1000, 100, "H=1,000 over 100 scopes"),
        (1000, 1, "H=1,000 in one scope"),
        (10000, 100, "H=10,000 over 100 scopes"),
        (10000, 1, "H=10,000 in one scope"),
    ):
        measured = [
            in_child(measure, which, size, spread, seconds)
            for which in ("pack", "engine", "reference")
        ]
        cells = [f"{wall:6.0f} /s {cpu:6.0f} /s {peak:4.0f} MB" for wall, cpu, peak in measured]
        print(f"{label:>26} | {' | '.join(cells)}", flush=True)
    seconds_10k = in_child(load_time, 10000)
    print(f"loading 10,000 records into the engine: {seconds_10k:.2f} s")
    read, convert, first = in_child(load_from_file, 10000)
    print(
        f"  from a JSON file through pack.check: {read + convert + first:.2f} s (read and "
        f"validate {read:.2f} s, facts {convert:.2f} s, into the engine with the first check "
        f"{first:.2f} s)"
    )
    before, after, again, rate = in_child(endurance, endurance_checks, 1000)
    print(
        f"RSS over {endurance_checks:,} consecutive checks (H=1,000, 100 scopes): "
        f"{before:.1f} MB before, {after:.1f} MB after ({rate:.0f} checks/s); "
        f"{again:.1f} MB after {endurance_checks:,} more"
    )


if __name__ == "__main__":
    main()
