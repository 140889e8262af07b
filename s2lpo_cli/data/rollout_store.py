"""The rollout store: explorer responses as sharded parquet, one row per response, with a manifest.

Layout: `<dir>/manifest.json` and `<dir>/shards/part-NNNNN.parquet`. Shard k holds every response to
prompts k*S .. (k+1)*S-1 of the run's prompt list (S = `shard_prompts` in the manifest). A shard is
written to a temporary file and renamed into place, so after a crash (even kill -9) a shard is either
complete or absent; a resumed run writes only the absent ones.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import replace_atomically
from s2lpo_cli.errors import UserError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARDS = "shards"
_SHARD_NAME = re.compile(r"^part-(\d{5})\.parquet$")
# Manifest keys that must match for a run to continue (or be reused) in an existing folder.
IDENTITY_KEYS = (
    "explorer",
    "tokenizer_hash",
    "sampling",
    "seed",
    "dataset",
    "prompts_hash",
    "n_prompts",
    "n_per_prompt",
    "prompt",
    "shard_prompts",
    "engine",
    "ray_backend",  # ray stores only: vLLM and embedded engines draw different samples
)


def schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("prompt_id", pa.string()),
            ("question", pa.string()),
            ("ground_truth", pa.string()),
            ("data_source", pa.string()),
            ("prompt_token_ids", pa.list_(pa.int32())),
            ("response_index", pa.int32()),
            ("response_text", pa.string()),
            ("response_token_ids", pa.list_(pa.int32())),
            ("response_logprobs", pa.list_(pa.float32())),
            ("finish_reason", pa.string()),
            ("reward", pa.float32()),
            ("extracted_answer", pa.string()),
            ("grade_status", pa.string()),
        ]
    )


@dataclass(frozen=True)
class StoredResponse:
    """One stored explorer response (one parquet row)."""

    prompt_id: str
    question: str
    ground_truth: str
    data_source: str
    prompt_token_ids: list[int]
    response_index: int
    response_text: str
    response_token_ids: list[int]
    response_logprobs: list[float]
    finish_reason: str
    reward: float
    extracted_answer: str | None
    grade_status: str


COLUMNS = tuple(f.name for f in fields(StoredResponse))


def grade_fields(grade: Any) -> dict[str, Any]:
    """A grader's verdict (`Grade`) as a row's `reward`, `extracted_answer` and `grade_status`."""
    return {"reward": 1.0 if grade.correct else 0.0, "extracted_answer": grade.extracted, "grade_status": grade.status}


def _write_json(path: Path, data: dict) -> None:
    replace_atomically(
        path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    )


def _differences(old: dict, new: dict) -> list[str]:
    return [
        f"{k}: stored {old.get(k)!r}, now {new.get(k)!r}" for k in IDENTITY_KEYS if old.get(k) != new.get(k)
    ]


def _delete_shards(folder: Path) -> None:
    """Delete an old setup's shards before `--force` starts over. A failure stops the run: shards left
    behind would be resumed as rollouts of the new setup."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(
            f"{folder}: cannot delete the rollouts of the old setup ({exc}); delete the folder by hand "
            "or choose another --output"
        ) from None


class RolloutStore:
    """A rollout folder. `open` reads a finished or partial store; `prepare` starts or resumes one."""

    def __init__(self, path: str | Path, manifest: dict[str, Any]):
        self.path = Path(path)
        self.manifest = manifest

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path) -> RolloutStore:
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise UserError(f"{path}: not a rollout store (no {MANIFEST}); write one with `s2lpo sample`")
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{manifest_path}: not valid JSON ({exc.msg})") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise UserError(
                f"{manifest_path}: rollout store format {manifest.get('format')!r}, expected {FORMAT_VERSION}"
            )
        return cls(path, manifest)

    @classmethod
    def prepare(cls, path: str | Path, manifest: dict[str, Any], force: bool = False) -> RolloutStore:
        """Start a store at `path`, or continue the one there if it was written with the same identity.

        A folder holding rollouts of another explorer, tokenizer, dataset or sampling setup is refused
        unless `force`, which deletes them first. A non-empty folder that is not a store is never touched.
        """
        path = Path(path)
        if (path / MANIFEST).is_file():
            existing = cls.open(path)
            differences = _differences(existing.manifest, manifest)
            if differences and not force:
                raise UserError(
                    f"{path}: holds rollouts of another setup ({'; '.join(differences)}); "
                    "choose another --output, or pass --force to delete them and start over"
                )
            if not differences:
                return existing
            _delete_shards(path / SHARDS)
            (path / MANIFEST).unlink()
        elif path.is_dir() and any(path.iterdir()):
            raise UserError(
                f"{path}: exists and is not a rollout store; choose an empty or new --output folder"
            )
        (path / SHARDS).mkdir(parents=True, exist_ok=True)
        manifest = {**manifest, "format": FORMAT_VERSION, "complete": False, "counts": None}
        _write_json(path / MANIFEST, manifest)
        return cls(path, manifest)

    # ------------------------------------------------------------------ writing

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))

    @property
    def tokenizer_hash(self) -> str:
        return str(self.manifest["tokenizer_hash"])

    def shard_path(self, index: int) -> Path:
        return self.path / SHARDS / f"part-{index:05d}.parquet"

    def existing_shards(self) -> list[int]:
        folder = self.path / SHARDS
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _SHARD_NAME.match(p.name)))

    def remove_partial_files(self) -> None:
        """Temporary files left by a killed writer."""
        for p in (self.path / SHARDS).glob(".part-*.tmp"):
            p.unlink(missing_ok=True)

    def write_shard(self, index: int, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows, schema=schema())
        replace_atomically(self.shard_path(index), lambda tmp: pq.write_table(table, tmp))

    def regrade(self, grade: Callable[[list[tuple[str, str]]], list[Any]], rules_version: int) -> int:
        """Grade every written shard's responses again with `grade` (the grader of `rules_version`); returns
        the shards graded. The manifest records the new rules only after the last shard, so a run killed
        midway grades them all again the next time."""
        import pyarrow.parquet as pq

        shards = self.existing_shards()
        for index in shards:
            rows = pq.read_table(self.shard_path(index)).to_pylist()
            grades = grade([(r["response_text"], r["ground_truth"]) for r in rows])
            self.write_shard(index, [{**r, **grade_fields(g)} for r, g in zip(rows, grades, strict=True)])
        self.manifest = {**self.manifest, "grading_rules_version": rules_version}
        _write_json(self.path / MANIFEST, self.manifest)
        return len(shards)

    def finish(self, counts: dict[str, Any]) -> None:
        self.manifest = {**self.manifest, "complete": True, "counts": counts}
        _write_json(self.path / MANIFEST, self.manifest)

    # ------------------------------------------------------------------ reading

    def table(self) -> Any:
        """Every stored row as one pyarrow Table, in shard order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = [pq.read_table(self.shard_path(i), schema=schema()) for i in self.existing_shards()]
        return pa.concat_tables(tables) if tables else schema().empty_table()

    def responses(self) -> list[StoredResponse]:
        return [StoredResponse(**row) for row in self.table().to_pylist()]

    def responses_by_prompt(self) -> dict[str, list[StoredResponse]]:
        """Responses grouped by prompt id (prompts in store order), each group in response_index order."""
        groups: dict[str, list[StoredResponse]] = {}
        for response in self.responses():
            groups.setdefault(response.prompt_id, []).append(response)
        return {pid: sorted(group, key=lambda r: r.response_index) for pid, group in groups.items()}
