"""Model shorthand: a bare Qwen3 name (`Qwen3-1.7B`, `qwen3-8b`) is the hub id `Qwen/Qwen3-1.7B`.

A local folder of that name wins over the hub. Anything else (a path, a full hub id) is used as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BARE_QWEN3 = re.compile(r"^qwen3-[a-z0-9][a-z0-9.-]*$", re.IGNORECASE)
_SIZE = re.compile(r"^a?\d+(\.\d+)?[bm]$", re.IGNORECASE)  # 1.7B, 30B, A3B, 600M
_ACRONYMS = {"awq", "fp8", "gguf", "gptq", "mlx", "vl"}


@dataclass(frozen=True)
class ModelChoice:
    given: str
    name: str  # what gets loaded: the given string (a folder, a hub id) or the shorthand's hub id
    note: str | None = None  # what the shorthand decided, said to the user


def _spell(part: str) -> str:
    if _SIZE.match(part) or part.lower() in _ACRONYMS:
        return part.upper()
    return part if part.isdigit() else part[:1].upper() + part[1:].lower()


def hub_id(bare: str) -> str:
    """`qwen3-1.7b` -> `Qwen/Qwen3-1.7B`, `qwen3-4b-instruct-2507` -> `Qwen/Qwen3-4B-Instruct-2507`."""
    return "Qwen/Qwen3-" + "-".join(_spell(p) for p in bare.split("-")[1:])


def resolve_model(given: str) -> ModelChoice:
    """The model a command-line or recipe name means, with a note when the shorthand applied."""
    if not BARE_QWEN3.match(given):
        return ModelChoice(given, given)
    hub = hub_id(given)
    if Path(given).is_dir():
        return ModelChoice(given, given, f"{given}: the local folder ./{given} (a folder of that name wins over {hub})")
    return ModelChoice(given, hub, f"{given}: the hub model {hub}")


def same_model(a: str, b: str) -> bool:
    """Whether two names mean one model: the same folder, or the same hub id in any case."""
    a, b = resolve_model(a).name, resolve_model(b).name
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    if pa.exists() or pb.exists():
        return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()
    return a.lower() == b.lower()
