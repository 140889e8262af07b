"""The checks both training engines make on their data, in one place: rows, prompts, explorer store.

The embedded trainer and verl call `check_training_data` with their own draw rule (`reuse`, see
`training.assembly.explorer_demand`) and strictness; everything else is decided here, the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s2lpo_cli.data.rows import Row
from s2lpo_cli.errors import UserError
from s2lpo_cli.preflight import store as store_checks
from s2lpo_cli.preflight.findings import Finding
from s2lpo_cli.preflight.prompts import check_lengths, check_prompt_count, encode_rows
from s2lpo_cli.recipe import Recipe

DATA_UNAVAILABLE = "data.unavailable"


@dataclass
class TrainingData:
    """A run's training rows and explorer responses, as checked."""

    rows: list[Row] = field(default_factory=list)
    prompt_ids: list[list[int]] | None = None  # per row, with the target's tokenizer; None without it
    store: Any = None  # the RolloutStore, when the run replays one and it was found
    responses: dict[str, list[Any]] = field(default_factory=dict)  # prompt_id -> its StoredResponses


def check_training_data(
    recipe: Recipe, tokenizer: Any | None, *, reuse: bool, strict: bool
) -> tuple[TrainingData, list[Finding]]:
    """Load and check the training set and, when explorer steps need it, the rollout store.

    `tokenizer` is the target's, or None when it is not on this machine: then prompt lengths and token
    ids are not checked (the caller reports why). Without `strict`, a training set or store that is not
    here is `not_checked` instead of an error.
    """
    from s2lpo_cli.data.train_sets import load_train_set
    from s2lpo_cli.prompting import tokenizer_hash
    from s2lpo_cli.schedule import step_plan
    from s2lpo_cli.training.assembly import explorer_demand

    d, data = recipe.data, TrainingData()
    try:
        data.rows = load_train_set(d.train, data_dir=d.data_dir, limit=d.limit)
    except UserError as exc:
        return data, [Finding(DATA_UNAVAILABLE, "data.train", f"{exc}; prompts and explorer store not checked",
                              "error" if strict else "not_checked")]
    too_few = check_prompt_count(len(data.rows), recipe)  # no step can be formed: explorer draws are moot
    findings = list(too_few)
    if tokenizer is not None:
        data.prompt_ids = encode_rows(tokenizer, data.rows, d.prompt)
        findings += check_lengths(data.rows, data.prompt_ids, d.max_prompt_tokens, d.train)
    steps = step_plan(recipe)
    if too_few or not any(s.explorer for s in steps):
        return data, findings
    data.store, found = store_checks.open_store(recipe, strict=strict)
    findings += found
    if data.store is None:
        return data, findings
    data.responses = data.store.responses_by_prompt()
    o = recipe.optim
    demand = explorer_demand(steps, [r.prompt_id for r in data.rows], o.prompts_per_step, o.seed, reuse=reuse)
    findings += store_checks.check_coverage(data.store, data.responses, demand, reuse=reuse)
    if tokenizer is not None:
        mismatch = store_checks.check_tokenizer(data.store, tokenizer_hash(tokenizer), recipe.models.target)
        findings += mismatch
        if mismatch:  # the store's ids mean other text to the target: comparing them says nothing more
            return data, findings
    findings += store_checks.check_prompt_match(data.store, data.responses, recipe, data.rows, data.prompt_ids, demand)
    return data, findings
