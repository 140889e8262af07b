"""The training set in verl's RL parquet schema, the explorer bank beside it, and their validation.

One row per prompt and step (verl starts a group of sessions for it, all under one uid):
  data_source  str                      where the problem comes from (the grader ignores it)
  prompt       list<{role, content}>    chat messages, rendered by verl with the target's template
  ability      str                      "math"
  reward_model {style: "rule", ground_truth: str}
  extra_info   {split, index, prompt_id, step, explorer: list<int32>}
               index is unique per row; step is the verl global step the row is planned for;
               explorer lists the rollout store's response_index values served to the first G_w slots
  agent_name   str                      training rows only: selects s2lpo's agent loop
  __rollout_n__ int64                   training rows only: how many sessions verl's agent-loop worker
                                        starts for the row (it pops the key, else uses rollout.n): the
                                        row's planned group, G in mixed mode, G_w or G_s in split mode
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from s2lpo_cli.atomic import replace_atomically
from s2lpo_cli.data.rows import Row
from s2lpo_cli.errors import UserError
from s2lpo_cli.prompting import build_messages
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.verl_ext.command import AGENT_NAME
from s2lpo_cli.verl_ext.draws import PlannedRow

ABILITY = "math"

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
_EXTRA = pa.struct(
    [
        ("split", pa.string()),
        ("index", pa.int64()),
        ("prompt_id", pa.string()),
        ("step", pa.int64()),
        ("explorer", pa.list_(pa.int32())),
    ]
)
_COLUMNS = [
    ("data_source", pa.string()),
    ("prompt", pa.list_(_MESSAGE)),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", _EXTRA),
]
ROLLOUT_N = "__rollout_n__"
TRAIN_SCHEMA = pa.schema([*_COLUMNS, ("agent_name", pa.string()), (ROLLOUT_N, pa.int64())])
VAL_SCHEMA = pa.schema(_COLUMNS)
BANK_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("response_index", pa.int32()),
        ("response_token_ids", pa.list_(pa.int32())),
        ("response_logprobs", pa.list_(pa.float32())),
        ("finish_reason", pa.string()),
    ]
)


def data_source_name(recipe: Recipe) -> str:
    """The training set's name: a registered name as is, a file's name without its suffix."""
    return Path(recipe.data.train).stem


def verl_record(
    row: Row, recipe: Recipe, *, index: int, split: str, step: int = 0, explorer: Iterable[int] = (),
    sessions: int | None = None,
) -> dict[str, Any]:
    """One parquet row; `sessions` (training rows only) is the group verl starts for it."""
    p = recipe.data.prompt
    record = {
        "data_source": str(row.extra.get("data_source") or data_source_name(recipe)),
        "prompt": build_messages(row.question, p.instruction, p.system),
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": row.answer},
        "extra_info": {
            "split": split,
            "index": index,
            "prompt_id": row.prompt_id,
            "step": step,
            "explorer": [int(i) for i in explorer],
        },
    }
    if sessions is not None:
        record["agent_name"] = AGENT_NAME
        record[ROLLOUT_N] = sessions
    return record


def train_table(planned: list[PlannedRow], recipe: Recipe) -> pa.Table:
    """Training rows; each starts only its step's planned sessions (split mode: no idle session per row)."""
    plan = step_plan(recipe)
    records = [
        verl_record(p.row, recipe, index=i, split="train", step=p.step, explorer=p.explorer,
                    sessions=plan[p.step - 1].group_size)
        for i, p in enumerate(planned)
    ]
    return pa.Table.from_pylist(records, schema=TRAIN_SCHEMA)


def val_table(rows: list[Row], recipe: Recipe) -> pa.Table:
    records = [verl_record(r, recipe, index=i, split="val") for i, r in enumerate(rows)]
    return pa.Table.from_pylist(records, schema=VAL_SCHEMA)


def validation_table(recipe: Recipe) -> pa.Table:
    """The recipe's validation benchmarks as verl's validation rows: the questions and prompts of `s2lpo eval`
    (each benchmark's own instruction, no system message), `data_source` the benchmark's name, so verl logs
    `val-core/<benchmark>/...` and `verl_ext.validation` maps them back to val.jsonl rows."""
    from s2lpo_cli.evaluation.runner import load_questions
    from s2lpo_cli.evaluation.validation import eval_settings

    settings = eval_settings(recipe)
    records = []
    for name, rows in load_questions(settings).items():
        instruction = settings.instruction_for(name)
        for row in rows:
            records.append({
                "data_source": name,
                "prompt": build_messages(row.question, instruction),
                "ability": ABILITY,
                "reward_model": {"style": "rule", "ground_truth": row.answer},
                "extra_info": {"split": "val", "index": len(records), "prompt_id": row.prompt_id, "step": 0,
                               "explorer": []},
            })
    return pa.Table.from_pylist(records, schema=VAL_SCHEMA)


def bank_table(planned: list[PlannedRow], responses: dict[str, dict[int, Any]], max_response_tokens: int) -> pa.Table:
    """The stored explorer responses the plan uses, cut to the response budget (each once)."""
    wanted = sorted({(p.row.prompt_id, i) for p in planned for i in p.explorer})
    cols: dict[str, list] = {name: [] for name in BANK_SCHEMA.names}
    for pid, index in wanted:
        stored = responses[pid][index]
        ids = list(stored.response_token_ids)
        logprobs = list(stored.response_logprobs)
        if len(logprobs) != len(ids):
            raise UserError(
                f"explorer store: prompt {pid} response {index} has {len(ids)} tokens but {len(logprobs)} "
                "log-probs; re-sample it with `s2lpo sample` (log-probs are needed for the off-policy terms)"
            )
        cut = len(ids) > max_response_tokens
        cols["prompt_id"].append(pid)
        cols["response_index"].append(index)
        cols["response_token_ids"].append(ids[:max_response_tokens])
        cols["response_logprobs"].append(logprobs[:max_response_tokens])
        cols["finish_reason"].append("length" if cut else stored.finish_reason)
    return pa.Table.from_pydict(cols, schema=BANK_SCHEMA)


def write_bank(table: pa.Table, path: Path) -> None:
    """The bank sorted by prompt, one row group per prompt: a worker reads only the prompts it serves
    (`explorer_bank.ExplorerBank`). No column statistics: the reader indexes prompts itself."""
    table = table.sort_by([("prompt_id", "ascending"), ("response_index", "ascending")])
    prompt_ids = table.column("prompt_id").to_pylist()
    starts = [i for i in range(len(prompt_ids)) if i == 0 or prompt_ids[i] != prompt_ids[i - 1]]
    ends = [*starts[1:], len(prompt_ids)] if starts else []  # a GRPO run (--baseline) replays nothing

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema, write_statistics=False) as writer:
            for start, end in zip(starts, ends, strict=True):
                writer.write_table(table.slice(start, end - start))

    replace_atomically(path, write)


def write_table(table: pa.Table, path: Path) -> None:
    """Atomic write: a killed launch leaves the old file or the new one, never half of one."""
    replace_atomically(path, lambda tmp: pq.write_table(table, tmp))


def validate_verl_parquet(path: Path, *, train: bool) -> int:
    """Check a file against the schema verl and the agent loop rely on; returns its row count."""
    schema = TRAIN_SCHEMA if train else VAL_SCHEMA
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise UserError(f"{path}: not a readable parquet file ({exc})") from None
    for field in schema:
        if field.name not in table.schema.names:
            raise UserError(f"{path}: column {field.name!r} is missing (verl's RL schema needs it)")
        if not table.schema.field(field.name).type.equals(field.type):
            raise UserError(f"{path}: column {field.name!r} has type {table.schema.field(field.name).type}, expected {field.type}")
    for column in ("agent_name", ROLLOUT_N):
        if not train and column in table.schema.names:
            raise UserError(f"{path}: validation rows must not carry {column} (they use verl's single-turn loop)")
    rows = table.to_pylist()
    seen: set[int] = set()
    for n, rec in enumerate(rows, 1):
        where = f"{path}: row {n}"
        if not rec["prompt"] or rec["prompt"][-1]["role"] != "user" or not rec["prompt"][-1]["content"]:
            raise UserError(f"{where}: prompt must end with a non-empty user message")
        if rec["reward_model"]["style"] != "rule" or rec["reward_model"]["ground_truth"] in (None, ""):
            raise UserError(f"{where}: reward_model needs style 'rule' and a non-empty ground_truth")
        info = rec["extra_info"]
        if info["index"] in seen:
            raise UserError(f"{where}: extra_info.index {info['index']} is not unique")
        seen.add(info["index"])
        if train and rec["agent_name"] != AGENT_NAME:
            raise UserError(f"{where}: agent_name is {rec['agent_name']!r}, expected {AGENT_NAME!r}")
        if train and info["step"] < 1:
            raise UserError(f"{where}: extra_info.step must be a global step >= 1")
        if train and (rec[ROLLOUT_N] is None or rec[ROLLOUT_N] < 1):
            raise UserError(f"{where}: {ROLLOUT_N} must be the step's group size (>= 1)")
    if not rows:
        raise UserError(f"{path}: holds no rows")
    return len(rows)
