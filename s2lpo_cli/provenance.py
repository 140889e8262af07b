"""What produced a result: package versions and the git commit, recorded in every run folder."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

from s2lpo_cli.shipped import source_checkout


def package_versions(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Installed versions of `names` (missing ones left out), plus the Python version."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_hash() -> str | None:
    """HEAD of the s2lpo checkout, with `-dirty` when it has uncommitted changes; None outside git.

    An installed wheel has no checkout: None, not the commit of whatever repository holds the venv.
    """
    checkout = source_checkout()
    if checkout is None:
        return None
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain"], capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
