"""Run every bench/bench_*.py module's main() in turn: `python -m bench.run_all`."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main() -> int:
    failed = []
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        name = f"bench.{path.stem}"
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(name).main()
        except (Exception, SystemExit) as exc:  # one failing bench must not hide the others' figures
            failed.append(name)
            print(f"{name} FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"== {name} took {time.perf_counter() - started:.1f} s\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
