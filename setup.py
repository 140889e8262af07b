"""Ships the top-level recipes/, eval_data/, train_data/ and tiny_pairs/ inside the wheel, as
s2lpo_cli/_shipped/.

Everything else is declared in pyproject.toml. An editable install reads the folders where they are
(s2lpo_cli/shipped.py), so only a regular build copies them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_FOLDERS = ("recipes", "eval_data", "train_data", "tiny_pairs")  # = s2lpo_cli.shipped.SHIPPED_FOLDERS


class BuildWithShippedFolders(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "s2lpo_cli" / "_shipped"
        shutil.rmtree(target, ignore_errors=True)
        for name in SHIPPED_FOLDERS:
            shutil.copytree(name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithShippedFolders})
