"""Maintainers: make a tiny pair built on this machine the one s2lpo ships (tiny_pairs/<task>/).

    s2lpo tiny init /tmp/pair --task transfer --build          # one torch thread per model: S2LPO_THREADS=1
    python scripts/ship_tiny_pair.py /tmp/pair --task transfer  # copies it, writes SHA256SUMS; commit the folder

Shipping other weights changes every number measured on the toy: rerun `make reproduce-toy` and update
docs/toy.md in the same commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from s2lpo_cli.tiny.shipped_pair import freeze  # noqa: E402
from s2lpo_cli.tiny.task import TASKS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build_dir", type=Path, help="a folder `s2lpo tiny init --build` wrote")
    parser.add_argument("--task", required=True, choices=list(TASKS))
    args = parser.parse_args()
    dest = freeze(args.build_dir, args.task)
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        print(f"{path.stat().st_size:>10,}  {path.relative_to(dest)}")
    print(f"{sum(p.stat().st_size for p in dest.rglob('*') if p.is_file()):>10,}  total in {dest}")


if __name__ == "__main__":
    main()
