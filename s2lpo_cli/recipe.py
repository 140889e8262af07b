"""The recipe: one YAML file that fixes one experiment.

Precedence: field defaults < recipe YAML < `--set a.b=value` overrides; the merged dict is
validated once. Errors name the file, the line and the field, all at once.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.errors import UserError
from s2lpo_cli.prompting import DEFAULT_INSTRUCTION
from s2lpo_cli.shipped import shipped_dir

RECIPES_DIR = shipped_dir("recipes")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelsConfig(_Section):
    """The model pair."""

    explorer: str | None = Field(
        None, description="The smaller explorer model: hub id (Qwen/Qwen3-1.7B) or local path. None: plain GRPO."
    )
    target: str = Field(..., description="The model being trained: hub id (Qwen/Qwen3-8B) or local path.")
    explorer_rollouts: str | None = Field(
        None, description="Folder of the explorer rollout store written by `s2lpo sample`."
    )
    max_model_len: int | None = Field(
        None, gt=0, description="Context length of the target; when set, prompt + response must fit in it."
    )


class PromptConfig(_Section):
    """How a question becomes a chat prompt."""

    instruction: str = Field(
        DEFAULT_INSTRUCTION, description="Appended to each question; asks for the final answer in \\boxed{}."
    )
    enable_thinking: bool = Field(
        False, description="Qwen3 chat template switch: True renders the thinking mode, False /no_think."
    )
    system: str | None = Field(None, description="Optional system message.")


class DataConfig(_Section):
    """The training set."""

    train: str = Field(
        ..., description="Registered training-set name (train_data/: synthetic, math_train, dapo17k) or a path to jsonl/parquet rows with question and answer."
    )
    data_dir: str | None = Field(
        None, description="Folder holding registered data files (NAME.jsonl); default: the registry's own rule."
    )
    prompt: PromptConfig = Field(default_factory=PromptConfig, description="Prompt template.")
    max_prompt_tokens: int = Field(512, gt=0, description="Longer prompts are refused before any work.")
    limit: int | None = Field(None, gt=0, description="Use only the first N training rows (smoke tests).")


class RolloutConfig(_Section):
    """Sampling of responses (explorer and target alike)."""

    group_size: int = Field(16, description="G: responses per prompt in one group.")
    max_response_tokens: int = Field(4096, gt=0, description="Longest response; explorer responses are truncated to it.")
    temperature: float = Field(1.0, ge=0, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling threshold.")
    top_k: int = Field(-1, description="Top-k sampling; -1 disables it (vLLM's convention).")
    presence_penalty: float = Field(0.0, description="vLLM presence penalty.")

    def sampling_params(self, n: int = 1, enable_thinking: bool = False) -> SamplingParams:
        """These settings as one generation request of `n` responses per prompt."""
        return SamplingParams(n=n, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                              presence_penalty=self.presence_penalty, max_tokens=self.max_response_tokens,
                              enable_thinking=enable_thinking)


class ScheduleConfig(_Section):
    """The annealing schedule of S2L-PO."""

    anneal_steps: int = Field(8, ge=0, description="N: alpha falls from 1 to 0 over steps 1..N; 0 means plain GRPO.")
    total_steps: int = Field(16, gt=0, description="Logical training steps.")
    mode: Literal["mixed", "split"] = Field(
        "mixed",
        description="mixed: G_w explorer + G_s target responses in one group (the paper). "
        "split: explorer-only then target-only steps (the reference scripts).",
    )


class KLConfig(_Section):
    enabled: bool = Field(True, description="Add a KL loss to the frozen initial model.")
    coef: float = Field(0.001, ge=0, description="KL loss coefficient.")
    type: Literal["low_var_kl", "kl", "mse", "abs"] = Field("low_var_kl", description="KL estimator.")


class OptimConfig(_Section):
    """Optimization."""

    lr: float = Field(1e-6, gt=0, description="AdamW learning rate.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    prompts_per_step: int = Field(1024, gt=0, description="Prompts per training step (train batch size).")
    mini_batch: int = Field(32, gt=0, description="Prompts per optimizer update (PPO mini-batch).")
    micro_batch: int = Field(4, gt=0, description="Responses per forward/backward pass (per GPU for verl).")
    epochs: int = Field(1, gt=0, description="PPO epochs per step.")
    kl: KLConfig = Field(default_factory=KLConfig, description="KL loss.")
    entropy_coef: float = Field(0.0, ge=0, description="Entropy bonus coefficient.")
    clip_ratio_low: float = Field(0.2, ge=0, description="PPO clip ratio below 1.")
    clip_ratio_high: float = Field(0.2, ge=0, description="PPO clip ratio above 1.")
    loss_agg: Literal["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"] = Field(
        "token-mean", description="Loss aggregation over the batch."
    )
    norm_adv_by_std: bool = Field(True, description="GRPO: divide the group-centred reward by the group std.")
    grad_clip: float = Field(1.0, gt=0, description="Gradient norm clipping.")
    seed: int = Field(42, description="Seed of sampling, data order and explorer draws.")


class OffPolicyConfig(_Section):
    """Correction for explorer tokens, which the target did not sample."""

    correction: Literal["none", "truncated_is", "luffy"] = Field(
        "none",
        description="none: old log-probs recomputed by the target (reference); truncated_is: weight "
        "target/explorer from stored explorer log-probs, clipped; luffy: policy shaping p/(p+gamma).",
    )
    is_threshold: float = Field(2.0, gt=0, description="truncated_is: upper clip of the importance weight.")
    luffy_gamma: float = Field(0.1, gt=0, description="luffy: gamma of the shaping p/(p+gamma).")


class EngineConfig(_Section):
    """Where training runs."""

    kind: Literal["embedded", "verl"] = Field("embedded", description="embedded: torch in this process; verl: verl on Ray.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="embedded: device; auto picks cuda when present.")
    nodes: int = Field(1, gt=0, description="verl: number of nodes.")
    gpus_per_node: int = Field(8, gt=0, description="verl: GPUs per node.")
    tensor_parallel_size: int = Field(1, gt=0, description="vLLM tensor parallel size for rollouts.")
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1, description="vLLM GPU memory share for rollouts.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="verl: raw Hydra overrides (key: value) passed through unchanged, last."
    )


class OutputConfig(_Section):
    run_dir: str = Field(..., description="The run folder: resolved recipe, metrics, checkpoints.")
    save_every: int = Field(0, ge=0, description="Checkpoint every N steps (0: only at the end).")
    logger: list[Literal["console", "jsonl", "wandb", "tensorboard"]] = Field(
        default_factory=lambda: ["console", "jsonl"], description="Metric sinks."
    )


class ValidationConfig(_Section):
    """Held-out accuracy during training: the current weights answer benchmark questions as `s2lpo eval` would."""

    every: int = Field(
        0, ge=0, description="Validate every K logical steps and after the last one (verl: trainer.test_freq); 0: off."
    )
    before_train: bool = Field(True, description="Also validate the untrained model, at step 0 (verl: val_before_train).")
    benchmarks: list[str] = Field(
        default_factory=list,
        description="Registered benchmark names (eval_data/: aime24, math500, ...) or paths to jsonl/parquet files "
        "of {question, answer} rows (named after the file, graded as LaTeX).",
    )
    data_dir: str = Field("data", description="Folder holding registered benchmarks' local files (NAME.jsonl), as `s2lpo eval --data-dir`.")
    limit: int | None = Field(None, gt=0, description="Only the first N questions of each benchmark (None: all).")
    mode: Literal["think", "nothink"] = Field(
        "nothink", description="Sampling settings of `s2lpo eval --mode` (nothink: T 0.7, top-p 0.8, top-k 20, presence penalty 1.5)."
    )
    k: int = Field(4, ge=1, description="Samples per question: Pass@1 is their mean, Pass@k the unbiased estimate.")
    seed: int = Field(0, description="Base seed of `s2lpo eval --seed`; each question gets its own from it.")
    instruction: str | None = Field(
        None, description="Appended to every validation question, as `s2lpo eval --instruction` (None: each "
        "registered benchmark's own, `s2lpo eval`'s default for a file). A held-out split of the training data "
        "is asked as in training with the training prompt's instruction (data.prompt.instruction).",
    )
    temperature: float | None = Field(None, ge=0, description="Override the mode's temperature (None: the mode's).")
    top_p: float | None = Field(None, gt=0, le=1, description="Override the mode's top-p (None: the mode's).")
    top_k: int | None = Field(None, description="Override the mode's top-k, -1 off (None: the mode's).")
    presence_penalty: float | None = Field(None, description="Override the mode's presence penalty (None: the mode's).")

    @property
    def enabled(self) -> bool:
        return self.every > 0


class Recipe(_Section):
    """One S2L-PO (or GRPO) experiment."""

    name: str = Field(..., description="Short name of the experiment.")
    description: str = Field("", description="What this recipe is for.")
    models: ModelsConfig
    data: DataConfig
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    off_policy: OffPolicyConfig = Field(default_factory=OffPolicyConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    output: OutputConfig
    validation: ValidationConfig = Field(default_factory=ValidationConfig)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Recipe:
        problems: list[str] = []
        s, r, o, e = self.schedule, self.rollout, self.optim, self.engine
        if r.group_size < 2:
            problems.append(f"rollout.group_size: is {r.group_size}; GRPO needs G >= 2 to form an advantage, set it to 2 or more")
        if s.anneal_steps > s.total_steps:
            problems.append(
                f"schedule.anneal_steps: {s.anneal_steps} > schedule.total_steps {s.total_steps}; "
                f"lower anneal_steps or raise total_steps to at least {s.anneal_steps}"
            )
        if s.anneal_steps > 0 and self.models.explorer is None and self.models.explorer_rollouts is None:
            problems.append(
                "models.explorer: S2L-PO (schedule.anneal_steps > 0) needs an explorer or explorer_rollouts; "
                "set one, or set schedule.anneal_steps: 0 for plain GRPO"
            )
        ctx = self.models.max_model_len
        if ctx is not None and self.data.max_prompt_tokens + r.max_response_tokens > ctx:
            problems.append(
                f"rollout.max_response_tokens: prompt {self.data.max_prompt_tokens} + response "
                f"{r.max_response_tokens} > models.max_model_len {ctx}; shorten one of them"
            )
        if o.mini_batch > o.prompts_per_step:
            problems.append(
                f"optim.mini_batch: {o.mini_batch} > optim.prompts_per_step {o.prompts_per_step}; "
                "a mini-batch cannot hold more prompts than a step"
            )
        elif o.prompts_per_step % o.mini_batch:
            problems.append(
                f"optim.mini_batch: optim.prompts_per_step {o.prompts_per_step} is not divisible by {o.mini_batch}; "
                "pick a divisor so every update has the same size"
            )
        if e.kind == "verl":
            gpus = e.nodes * e.gpus_per_node
            if (o.prompts_per_step * r.group_size) % gpus:
                problems.append(
                    f"optim.prompts_per_step: prompts_per_step*G = {o.prompts_per_step * r.group_size} is not divisible "
                    f"by the {gpus} GPUs (engine.nodes*engine.gpus_per_node); verl splits the batch evenly"
                )
            if gpus % e.tensor_parallel_size:
                problems.append(
                    f"engine.tensor_parallel_size: {e.tensor_parallel_size} does not divide the {gpus} GPUs"
                )
            per_gpu = o.mini_batch * r.group_size / gpus
            if per_gpu < 1 or per_gpu != int(per_gpu):
                problems.append(
                    f"optim.mini_batch: mini_batch*G/GPUs = {o.mini_batch}*{r.group_size}/{gpus} = {per_gpu:g} "
                    "must be a whole number >= 1 (verl's normalized mini-batch)"
                )
            elif int(per_gpu) % o.micro_batch:
                problems.append(
                    f"optim.micro_batch: the normalized mini-batch {int(per_gpu)} (mini_batch*G/GPUs) is not "
                    f"divisible by micro_batch {o.micro_batch}; pick a divisor of {int(per_gpu)}"
                )
        if self.validation.enabled and not self.validation.benchmarks:
            problems.append("validation.benchmarks: validation.every > 0 needs at least one benchmark, e.g. "
                            "[math500, aime24] or a path to a jsonl file; or set validation.every: 0")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def is_grpo(self) -> bool:
        return self.schedule.anneal_steps == 0

    def as_baseline(self) -> Recipe:
        """The same experiment as plain on-policy GRPO (no explorer), in its own run folder."""
        data = self.model_dump()
        data["schedule"]["anneal_steps"] = 0
        data["models"]["explorer"] = None
        data["models"]["explorer_rollouts"] = None
        data["name"] = f"{self.name}_grpo"
        data["output"]["run_dir"] = str(Path(self.output.run_dir).with_name(Path(self.output.run_dir).name + "_grpo"))
        return Recipe.model_validate(data)


# ---------------------------------------------------------------- loading with line numbers


def _line_index(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path in a composed YAML document to its 1-based line."""
    index: dict[tuple, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index[(*path, key)] = key_node.start_mark.line + 1
            for sub, line in _line_index(value_node, (*path, key)).items():
                if sub != (*path, key):
                    index[sub] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_line_index(item, (*path, i)))
    return index


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Recipe
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def _format_error(err: dict, lines: dict[tuple, int], source: str) -> str:
    loc = tuple(p for p in err["loc"])
    field = ".".join(str(p) for p in loc) or "(recipe)"
    line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), None)
    where = f"{source} (--set)" if line == 0 else f"{source}:{line}" if line else source
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{where}: {field}: unknown field{hint}; allowed: {', '.join(allowed)}"
    if err["type"] == "missing":
        return f"{where}: {field}: required field is missing"
    msg = err["msg"]
    if err["type"] == "value_error":
        # Cross-field rules: each line already names its field; point at that field's line.
        out = []
        for part in str(err["ctx"]["error"]).splitlines():
            name = part.split(":", 1)[0]
            key = tuple(name.split("."))
            where2 = (f"{source} (--set)" if lines[key] == 0 else f"{source}:{lines[key]}") if key in lines else where
            out.append(f"{where2}: {part}")
        return "\n".join(out)
    given = err.get("input")
    given_txt = f" (got {given!r})" if not isinstance(given, dict | list) else ""
    return f"{where}: {field}: {msg}{given_txt}"


def parse_set(assignments: list[str]) -> dict[tuple[str, ...], Any]:
    """`a.b=value` strings to {(a, b): value}; values are parsed as YAML scalars."""
    out: dict[tuple[str, ...], Any] = {}
    for item in assignments:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set optim.lr=2e-6")
        key, _, raw = item.partition("=")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        out[tuple(key.strip().split("."))] = value
    return out


def _apply_overrides(data: dict, overrides: dict[tuple[str, ...], Any]) -> dict:
    data = copy.deepcopy(data)
    for path, value in overrides.items():
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = value
    return data


def resolve_recipe_path(name_or_path: str) -> Path:
    """A path to a YAML file, or a shipped recipe's name (`tiny`, `1.7b_8b`).

    A path that does not exist but names a shipped recipe (`recipes/1.7b_8b.yaml` typed outside the
    repository) means the shipped one, with a note.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = RECIPES_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    same_stem = RECIPES_DIR / f"{path.stem}.yaml"
    if path.suffix in (".yaml", ".yml") and same_stem.is_file():
        from s2lpo_cli.console import err

        err.print(f"note: {name_or_path} does not exist here; using the shipped recipe {same_stem}", highlight=False)
        return same_stem
    known = shipped_recipes()
    close = difflib.get_close_matches(path.stem if path.suffix in (".yaml", ".yml") else name_or_path, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UserError(
        f"recipe {name_or_path!r}: no such file and no shipped recipe of that name.{hint} "
        f"Shipped: {', '.join(known)} (see `s2lpo recipe list`)"
    )


def shipped_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Load, merge `--set` overrides, validate. Raises UserError listing every problem."""
    path = resolve_recipe_path(str(name_or_path))
    text = path.read_text()
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise UserError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: a recipe is a YAML mapping (name:, models:, data:, ...), got {type(data).__name__}")
    lines = _line_index(node) if node is not None else {}
    set_values = parse_set(overrides or [])
    data = _apply_overrides(data, set_values)
    for key in set_values:
        lines[key] = 0  # overrides have no line; reported as --set
    return validate_recipe(data, str(path), lines)


def validate_recipe(data: dict, source: str = "<recipe>", lines: dict[tuple, int] | None = None) -> Recipe:
    lines = lines or {}
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        messages = [_format_error(e, lines, source) for e in exc.errors()]
        raise UserError(f"{len(messages)} problem(s) in {source}:\n" + "\n".join(messages)) from None


def to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

