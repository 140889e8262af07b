"""Check that the GPU install resolves to the tested set, without installing anything.

Usage: python scripts/check_gpu_install.py PIP_INSTALL_ARGS...   (what `make check-gpu-install` passes:
the arguments of `make install-gpu`). Runs `pip install --dry-run --ignore-installed --report` with them
and exits 1, listing the differences, unless verl, vllm, torch and transformers resolve to the versions
pinned in constraints/gpu.txt.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints" / "gpu.txt"
CHECKED = ("verl", "vllm", "torch", "transformers")


def pinned_versions(path: Path = CONSTRAINTS) -> dict[str, str]:
    """name -> version of every `name==version` line of a constraints file."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def resolved_versions(report: dict) -> dict[str, str]:
    """name -> version of every package a `pip install --report` would install."""
    return {
        item["metadata"]["name"].lower(): item["metadata"]["version"] for item in report.get("install", [])
    }


def differences(pins: dict[str, str], resolved: dict[str, str], names=CHECKED) -> list[str]:
    return [
        f"{name}: pinned {pins.get(name)}, resolves to {resolved.get(name, 'nothing')}"
        for name in names
        if pins.get(name) != resolved.get(name)
    ]


def main(pip_args: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        command += ["--report", str(report_path), *pip_args]
        print("$ " + " ".join(command), file=sys.stderr)
        subprocess.run(command, check=True)
        resolved = resolved_versions(json.loads(report_path.read_text()))
    problems = differences(pinned_versions(), resolved)
    for name in CHECKED:
        print(f"{name}=={resolved.get(name, '-')}")
    if problems:
        print("the GPU install does not resolve to the tested set:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"the GPU install resolves to the tested set ({CONSTRAINTS.name})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
