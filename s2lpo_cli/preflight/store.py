"""Explorer rollout store checks: present, same tokenizer, same prompt token ids, enough responses.

The rule for prompts is the stricter of the two the engines used to apply: the token ids the store
holds for a prompt must equal the ids the recipe's `data.prompt` renders with the *target's*
tokenizer. The explorer's responses (and their log-probabilities) were sampled after exactly those
ids, and both engines put them after the target's prompt: the embedded trainer scores them after its
own rendering, verl's agent loop renders the prompt with the target's chat template. Equal manifest
fields (instruction, system, enable_thinking) are not enough: another chat template, question text
or tokenizer gives other ids from the same fields. The manifest fields only name the likely cause,
and decide alone when the target's tokenizer is not on this machine (a verl dry run elsewhere).
"""

from __future__ import annotations

from typing import Any

from s2lpo_cli.data.rows import Row
from s2lpo_cli.errors import UserError
from s2lpo_cli.preflight.findings import Finding
from s2lpo_cli.recipe import Recipe

FIELD = "models.explorer_rollouts"
NOT_SET = "store.not_set"
UNAVAILABLE = "store.unavailable"
TOKENIZER_MISMATCH = "store.tokenizer_mismatch"
PROMPT_MISMATCH = "store.prompt_mismatch"
MISSING_PROMPTS = "store.missing_prompts"
TOO_FEW_RESPONSES = "store.too_few_responses"


def open_store(recipe: Recipe, *, strict: bool) -> tuple[Any, list[Finding]]:
    """The recipe's rollout store (None when unset or unreadable); not finding it is `not_checked` unless strict."""
    from s2lpo_cli.data.rollout_store import RolloutStore

    path = recipe.models.explorer_rollouts
    if path is None:
        return None, [Finding(NOT_SET, FIELD, "S2L-PO steps replay the explorer's stored responses; write them "
                              "with `s2lpo sample --recipe RECIPE` and set this field to the store's folder")]
    try:
        return RolloutStore.open(path), []
    except UserError as exc:
        return None, [Finding(UNAVAILABLE, FIELD, str(exc), "error" if strict else "not_checked")]


def check_tokenizer(store: Any, target_hash: str, target: str) -> list[Finding]:
    if store.tokenizer_hash == target_hash:
        return []
    return [Finding(
        TOKENIZER_MISMATCH, FIELD,
        f"{store.path} was tokenized with another tokenizer (hash {store.tokenizer_hash}) than the target "
        f"{target} ({target_hash}): vocabulary or chat template differ, so its token ids mean something else "
        "to the target; explorer and target must share one tokenizer",
    )]


def manifest_differences(manifest: dict, recipe: Recipe) -> list[str]:
    """`field=stored value` for each prompt field the store's manifest records differently from data.prompt."""
    stored = manifest.get("prompt")
    if not isinstance(stored, dict):
        return []
    p = recipe.data.prompt
    ours = {"instruction": p.instruction, "system": p.system, "enable_thinking": p.enable_thinking}
    return [f"{k}={stored[k]!r}" for k, v in ours.items() if k in stored and stored[k] != v]


def check_prompt_match(
    store: Any, responses: dict[str, list[Any]], recipe: Recipe, rows: list[Row],
    prompt_ids: list[list[int]] | None, demand: dict[str, int],
) -> list[Finding]:
    """The store's prompts are the target's: equal token ids (see the module docstring).

    `prompt_ids` holds each row's ids with the target's tokenizer, or is None when the tokenizer is not
    here; then the manifest's prompt fields decide.
    """
    differences = manifest_differences(store.manifest, recipe)
    fix = "sample the store again with this recipe (`s2lpo sample --recipe RECIPE`) or match data.prompt"
    if prompt_ids is None:
        if not differences:
            return []
        return [Finding(PROMPT_MISMATCH, FIELD, f"{store.path} was sampled with another prompt "
                        f"({', '.join(differences)}) than this recipe's data.prompt; {fix}")]
    other = {
        row.prompt_id for row, ids in zip(rows, prompt_ids, strict=True)
        if row.prompt_id in demand and row.prompt_id in responses
        and list(responses[row.prompt_id][0].prompt_token_ids) != ids
    }
    if not other:
        return []
    cause = f" (its manifest has {', '.join(differences)})" if differences else ""
    return [Finding(
        PROMPT_MISMATCH, FIELD,
        f"{len(other)} of the {len(demand)} prompts that get explorer responses were sampled with another prompt: "
        f"their token ids in {store.path}{cause} differ from what data.prompt renders with the target's "
        f"tokenizer; {fix}",
    )]


def check_coverage(store: Any, responses: dict[str, list[Any]], demand: dict[str, int], *, reuse: bool) -> list[Finding]:
    """Every prompt that gets explorer responses is in the store, with as many as the run draws from it.

    `demand` comes from `training.assembly.explorer_demand` with the same `reuse` rule.
    """
    findings = []
    missing = sorted(pid for pid in demand if pid not in responses)
    if missing:
        findings.append(Finding(
            MISSING_PROMPTS, FIELD,
            f"{len(missing)} training prompt(s) that get explorer responses are not in {store.path} (e.g. prompt_id "
            f"{', '.join(missing[:3])}); sample them with `s2lpo sample` on the same training set",
        ))
    short = {pid: need for pid, need in demand.items() if pid in responses and len(responses[pid]) < need}
    if short:
        pid = max(short, key=lambda p: short[p])
        worst = short[pid]
        rule, lower = (
            ("a step draws that many distinct responses of a prompt", "rollout.group_size") if reuse else
            ("verl replays draws fixed before launch, without replacement over the whole run",
             "schedule.anneal_steps / optim.prompts_per_step")
        )
        findings.append(Finding(
            TOO_FEW_RESPONSES, FIELD,
            f"{len(short)} prompt(s) have fewer explorer responses in {store.path} than the run draws from them "
            f"(e.g. prompt {pid} has {len(responses[pid])}, needs {worst}; {rule}); sample more per prompt "
            f"(`s2lpo sample --n {worst}`) or lower {lower}",
        ))
    return findings
