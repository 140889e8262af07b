"""Torch threads for a trainer that may share the machine with other trainers.

Two torch processes with default threads on 2 cores slow each other 15-25x (each spins as many threads as
there are cores). Every embedded trainer registers its pid in a per-user folder; before each step it
counts the live trainers and takes an equal share of the cores (at least one thread). An explicit
S2LPO_THREADS, OMP_NUM_THREADS or MKL_NUM_THREADS wins: the user's choice is kept as it is.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

EXPLICIT = ("S2LPO_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def explicit_threads() -> int | None:
    """The thread count the environment fixes, if any."""
    for name in EXPLICIT:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def share(n_cores: int, n_trainers: int) -> int:
    """Threads for one of `n_trainers` trainers on `n_cores` cores."""
    return max(1, n_cores // max(1, n_trainers))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TrainerRegistry:
    """The live trainers of this user on this machine, one empty file per pid."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder or Path(tempfile.gettempdir()) / f"s2lpo-{os.getuid()}" / "trainers"
        self.pid = os.getpid()

    def __enter__(self) -> TrainerRegistry:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / str(self.pid)).touch()
        return self

    def __exit__(self, *exc: object) -> None:
        (self.folder / str(self.pid)).unlink(missing_ok=True)

    def live(self) -> int:
        """Live registered trainers (this one included); files of dead processes are removed."""
        count = 0
        for entry in self.folder.iterdir():
            if not entry.name.isdigit():
                continue
            if _alive(int(entry.name)):
                count += 1
            else:
                entry.unlink(missing_ok=True)
        return max(count, 1)

    def threads(self) -> int:
        """This trainer's thread count now: the explicit setting, else its share of the cores."""
        return explicit_threads() or share(cores(), self.live())


def apply_threads(registry: TrainerRegistry) -> int:
    """Set torch's intra-op threads to the registry's answer when it changed; returns the count."""
    import torch

    n = registry.threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
