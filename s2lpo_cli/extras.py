"""Lazy imports of the optional heavy packages, with an install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from s2lpo_cli.errors import MissingExtraError

_EXTRA_OF = {"vllm": "vllm", "verl": "verl", "ray": "ray", "trl": "bench"}


def require(module: str, feature: str) -> ModuleType:
    """Import `module` or raise a MissingExtraError that names the pip extra to install."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the package is there but one of its own dependencies is broken
        extra = _EXTRA_OF.get(top, top)
        raise MissingExtraError(
            f"{feature} needs the '{top}' package, which is not installed: "
            f"pip install 's2lpo[{extra}]'"
        ) from exc
