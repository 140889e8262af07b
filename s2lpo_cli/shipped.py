"""Where the folders s2lpo ships beside its code are: recipes/, eval_data/, train_data/, tiny_pairs/.

In the repository they are top-level folders (the product's layout). A wheel carries them inside the
package, as `s2lpo_cli/_shipped/<name>/` (setup.py copies them at build time), so an installed s2lpo
finds them from any folder. A checkout, or an editable install of one, reads the top-level folders.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("recipes", "eval_data", "train_data", "tiny_pairs")
IN_WHEEL = "_shipped"  # setup.py copies SHIPPED_FOLDERS to s2lpo_cli/_shipped/


def source_checkout() -> Path | None:
    """The repository s2lpo_cli is imported from; None for an installed wheel."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "setup.py").is_file() else None


def shipped_dir(name: str) -> Path:
    """The shipped folder `name` (one of SHIPPED_FOLDERS): the checkout's, else the one in the wheel."""
    if name not in SHIPPED_FOLDERS:
        raise ValueError(f"{name!r} is not a shipped folder; these are: {', '.join(SHIPPED_FOLDERS)}")
    checkout = source_checkout()
    return checkout / name if checkout else PACKAGE_DIR / IN_WHEEL / name
