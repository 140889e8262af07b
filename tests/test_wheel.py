"""The wheel carries recipes/, eval_data/, train_data/, tiny_pairs/: an installed s2lpo finds them from any folder.

Builds the source distribution from the build inputs, the wheel from it (as `python -m build` does),
installs the wheel into a folder of its own and runs it from another folder, with no checkout on the path.
No network: the build uses the setuptools already installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from s2lpo_cli.shipped import SHIPPED_FOLDERS

REPO = Path(__file__).resolve().parent.parent
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "s2lpo_cli", *SHIPPED_FOLDERS)

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the folder it is installed in)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    _run([sys.executable, "-c", "from setuptools import build_meta; build_meta.build_sdist('dist')"], cwd=source)
    (sdist,) = (source / "dist").glob("*.tar.gz")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(root / "wheels"), str(sdist)],
         cwd=root)
    (wheel,) = (root / "wheels").glob("s2lpo-*.whl")
    site = root / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], cwd=root)
    return wheel, site


def _outside_env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(site), "COLUMNS": "200"}


def test_the_wheel_holds_every_shipped_file(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in SHIPPED_FOLDERS:
        shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*") if p.is_file())
        assert shipped, folder
        missing = [f for f in shipped if f"s2lpo_cli/_shipped/{f}" not in names]
        assert not missing, f"not in {wheel.name}: {missing}"


def test_installed_s2lpo_finds_recipes_benchmarks_and_training_sets_from_another_folder(installed, tmp_path):
    _, site = installed
    env = _outside_env(site)
    listing = _run([str(site / "bin" / "s2lpo"), "recipe", "list"], cwd=tmp_path, env=env)
    for recipe in (REPO / "recipes").glob("*.yaml"):
        assert recipe.stem in listing
    probe = (
        "import json, s2lpo_cli\n"
        "from s2lpo_cli.data.benchmarks import get_benchmark\n"
        "from s2lpo_cli.data.train_sets import registered\n"
        "from s2lpo_cli.provenance import git_hash\n"
        "from s2lpo_cli.recipe import load_recipe\n"
        "print(json.dumps({'package': s2lpo_cli.__file__, 'aime24': get_benchmark('aime24').file,\n"
        "                  'train_sets': sorted(registered()), 'tiny': load_recipe('recipes/tiny.yaml').data.train,\n"
        "                  'git': git_hash()}))\n"
    )
    found = json.loads(_run([sys.executable, "-c", probe], cwd=tmp_path, env=env))
    assert Path(found["package"]).resolve().is_relative_to(site.resolve())
    assert found["aime24"] == "aime24.jsonl"
    assert found["train_sets"] == sorted(p.stem for p in (REPO / "train_data").glob("*.yaml"))
    assert found["tiny"] == "synthetic"
    assert found["git"] is None  # an installed wheel has no checkout to describe


def test_installed_s2lpo_lays_out_the_shipped_tiny_pair_from_another_folder(installed, tmp_path):
    _, site = installed
    _run([str(site / "bin" / "s2lpo"), "tiny", "init", "pair"], cwd=tmp_path, env=_outside_env(site))
    assert (tmp_path / "pair" / "SHA256SUMS").read_bytes() == (REPO / "tiny_pairs" / "arith" / "SHA256SUMS").read_bytes()
