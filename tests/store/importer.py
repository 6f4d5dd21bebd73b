"""An importer process for the concurrency and kill tests (run as a script, not collected).

    python importer.py URL FIRST COUNT [--title TEXT] [--hold SECONDS] [--wait FILE]

imports COUNT synthetic records numbered from FIRST through `Store.import_records`. It prints
`ready` once the store is open, waits for FILE to exist when given (so two importers start
together), prints `writing N` after each chunk it has written (inside the transaction) and then
sleeps SECONDS, so that a test can kill it, or race another importer, while it holds a
half-written transaction; at the end it prints the import's summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from checker.diagnostics import BcmError
from checker.store import Store
from tests.store.records import record


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("first", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--title", default=None)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--wait", default=None)
    args = parser.parse_args()
    changes = {"title": args.title} if args.title else {}
    records = [record(n, **changes) for n in range(args.first, args.first + args.count)]
    store = Store(args.url)
    print("ready", flush=True)
    if args.wait:
        while not Path(args.wait).exists():
            time.sleep(0.01)

    def progress(done: int, total: int) -> None:
        print(f"writing {done}", flush=True)
        time.sleep(args.hold)

    try:
        result = store.import_records(records, progress=progress)
    except BcmError as err:
        print("failed: " + "; ".join(d.message for d in err.diagnostics), flush=True)
        return 2
    print(result.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
