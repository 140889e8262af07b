"""Where an evaluation writes, in the method's layout:

    ROOT/output/<Model>_<TIMESTAMP>/config.txt, <bench>_raw.jsonl, <bench>.jsonl
    ROOT/result/<Model>_<TIMESTAMP>/<bench>.json, summary.json

A run is finished when its summary.json exists; until then it can be resumed.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.settings import EvalSettings

CONFIG = "config.txt"
SUMMARY = "summary.json"


def model_folder_name(model: str) -> str:
    """A folder name for a model id or path: its last two components, only [A-Za-z0-9._-], never hidden.

    `Qwen/Qwen3-8B` -> `Qwen_Qwen3-8B`; `../../etc` -> `etc`; it cannot hold a separator or be `..`.
    """
    parts = [p for p in re.split(r"[\\/]+", model.strip()) if p not in ("", ".", "..")]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts[-2:]))
    name = name.lstrip("._-")[:100]
    return name or "model"


@dataclass(frozen=True)
class RunDirs:
    output: Path
    result: Path

    @classmethod
    def under(cls, root: Path, name: str) -> RunDirs:
        return cls(root / "output" / name, root / "result" / name)

    @classmethod
    def new(cls, root: Path, model: str) -> RunDirs:
        base = f"{model_folder_name(model)}_{time.strftime('%Y%m%d_%H%M%S')}"
        name, n = base, 1
        while (root / "output" / name).exists() or (root / "result" / name).exists():
            n += 1
            name = f"{base}_{n}"
        return cls.under(root, name)

    @property
    def name(self) -> str:
        return self.output.name

    @property
    def config_path(self) -> Path:
        return self.output / CONFIG

    @property
    def summary_path(self) -> Path:
        return self.result / SUMMARY

    def raw_path(self, bench: str) -> Path:
        return self.output / f"{bench}_raw.jsonl"

    def scored_path(self, bench: str) -> Path:
        return self.output / f"{bench}.jsonl"

    def result_path(self, bench: str) -> Path:
        return self.result / f"{bench}.json"

    def finished(self) -> bool:
        return self.summary_path.is_file()

    def write_config(self, settings: EvalSettings, extra: dict[str, Any]) -> None:
        write_text_atomic(self.config_path, json.dumps({"settings": settings.to_dict(), **extra}, indent=2) + "\n")

    def read_settings(self) -> EvalSettings:
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
            return EvalSettings.from_dict(data["settings"])
        except FileNotFoundError:
            raise UserError(f"{self.output}: no {CONFIG} here; not an `s2lpo eval` output folder") from None
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(f"{self.config_path}: not a readable eval config ({exc})") from None


def run_dirs_of(path: str | Path) -> RunDirs:
    """The run of an `output/<run>` or `result/<run>` folder (what --resume takes)."""
    path = Path(path)
    if path.parent.name in ("output", "result"):
        dirs = RunDirs.under(path.parent.parent, path.name)
        if dirs.config_path.is_file():
            return dirs
    raise UserError(f"{path}: not an eval run folder (expected output/<run>/ holding {CONFIG})")


def find_unfinished(root: Path, settings: EvalSettings) -> RunDirs | None:
    """The newest unfinished run under root made with exactly these settings (rerunning continues it)."""
    prefix = model_folder_name(settings.model) + "_"
    candidates = sorted((root / "output").glob(prefix + "*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in candidates:
        dirs = RunDirs.under(root, folder.name)
        if not dirs.config_path.is_file() or dirs.finished():
            continue
        try:
            if dirs.read_settings() == settings:
                return dirs
        except (UserError, TypeError):
            continue
    return None
