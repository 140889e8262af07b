"""The pre-built tiny pairs s2lpo ships (tiny_pairs/<task>/): check them against their hashes, lay them out.

A shipped pair is what `s2lpo tiny init --build` writes (explorer/, target/, data/, build.json) plus
SHA256SUMS, the sha256 of every other file in `sha256sum` format (`sha256sum -c SHA256SUMS` checks it).
Every machine starts from these files: the same seed builds other weights on another CPU, because torch's
kernels round differently by instruction set and hundreds of warm-up steps carry the difference.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from s2lpo_cli.errors import UserError
from s2lpo_cli.shipped import shipped_dir
from s2lpo_cli.tiny.build import MANIFEST, OUTPUTS, move_into_place, refuse_existing
from s2lpo_cli.tiny.task import TASKS

FOLDER = "tiny_pairs"  # one of s2lpo_cli.shipped.SHIPPED_FOLDERS
HASHES = "SHA256SUMS"


def pair_dir(task_name: str) -> Path:
    return shipped_dir(FOLDER) / task_name


def file_hashes(folder: Path) -> dict[str, str]:
    """{relative posix path: sha256} of every file under `folder` except SHA256SUMS itself."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != HASHES
    }


def read_hashes(folder: Path) -> dict[str, str]:
    """SHA256SUMS of `folder` as {path: sha256}."""
    recorded = {}
    for number, line in enumerate((folder / HASHES).read_text().splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise UserError(f"{folder / HASHES}, line {number}: not '<sha256>  <path>': {line!r}")
        recorded[name] = digest
    return recorded


def mismatches(folder: Path) -> list[str]:
    """How `folder` differs from its SHA256SUMS: files missing, changed or not listed (empty: it matches)."""
    if not (folder / HASHES).is_file():
        return [f"{HASHES} is missing"]
    recorded, found = read_hashes(folder), file_hashes(folder)
    problems = [f"{name}: missing" for name in recorded if name not in found]
    problems += [f"{name}: sha256 differs" for name in recorded if name in found and found[name] != recorded[name]]
    problems += [f"{name}: not in {HASHES}" for name in found if name not in recorded]
    return problems


def write_hashes(folder: Path) -> None:
    (folder / HASHES).write_text("".join(f"{h}  {name}\n" for name, h in file_hashes(folder).items()))


def lay_out(task_name: str, out_dir: str | Path, force: bool = False) -> dict[str, Any]:
    """Copy the shipped pair of `task_name` into out_dir (checked first); returns its build.json."""
    if task_name not in TASKS:
        raise UserError(f"unknown task {task_name!r}; these are shipped: {', '.join(TASKS)}")
    source = pair_dir(task_name)
    if not (source / MANIFEST).is_file():
        raise UserError(f"no shipped pair at {source}; build one with `s2lpo tiny init DIR --task {task_name} --build`")
    problems = mismatches(source)
    if problems:
        raise UserError(
            f"the shipped pair {source} does not match its {HASHES} ({'; '.join(problems)}); "
            "reinstall s2lpo, or build a pair with --build"
        )
    out = Path(out_dir)
    refuse_existing(out, force)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".copying-") as tmp:
        staging = Path(tmp)
        for name in (*OUTPUTS, HASHES, MANIFEST):
            copy = shutil.copytree if (source / name).is_dir() else shutil.copyfile
            copy(source / name, staging / name)
        move_into_place(staging, out, (*OUTPUTS, HASHES))
    return json.loads((out / MANIFEST).read_text())


def freeze(build_dir: Path, task_name: str) -> Path:
    """Make the build in build_dir the shipped pair of `task_name` (maintainers: scripts/ship_tiny_pair.py)."""
    manifest = json.loads((build_dir / MANIFEST).read_text())
    if manifest.get("task", task_name) != task_name:
        raise UserError(f"{build_dir / MANIFEST} is a build of task {manifest['task']!r}, not {task_name!r}")
    dest = pair_dir(task_name)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in OUTPUTS:
        shutil.copytree(build_dir / name, dest / name)
    manifest |= {"out_dir": f"{FOLDER}/{task_name}", "task": task_name}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    write_hashes(dest)
    return dest
