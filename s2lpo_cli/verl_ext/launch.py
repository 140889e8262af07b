"""`s2lpo train` with `engine.kind: verl`: check up front, write the run folder, run verl (or submit it).

`dry_run` makes every check it can on this machine and prints the command; it writes nothing. A
check it cannot make here (no GPUs, models or rollout store on this machine) is a warning, so the
command of any recipe can be inspected anywhere. `launch` makes the same checks strictly, writes
`<run>/verl/` (parquet files, explorer bank, agent-loop config, extension.json), `command.sh` and
`command.txt`, then runs verl in a child process, or submits it as a Ray job with `--ray-address`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.markup import escape

from s2lpo_cli.console import err, out
from s2lpo_cli.errors import UserError
from s2lpo_cli.recipe import Recipe, to_yaml
from s2lpo_cli.verl_ext.command import (
    REWARD_FUNCTION,
    REWARD_MODULE,
    VerlPaths,
    agent_loop_config,
    refused_overrides,
    save_every_problem,
    shell_script,
    total_physical_steps,
    verl_command,
    verl_overrides,
)

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # s2lpo_cli/
VAL_ROWS = 64


@dataclass
class Checks:
    """What the up-front checks found. Errors stop a launch; warnings are checks not made here."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_errors(self, recipe: Recipe) -> None:
        if self.errors:
            raise UserError(f"{len(self.errors)} problem(s) before launching verl for {recipe.name}:\n" + "\n".join(self.errors))


@dataclass
class Prepared:
    """The data side of a run, ready to be written."""

    planned: list = field(default_factory=list)
    val_rows: list = field(default_factory=list)
    responses: dict = field(default_factory=dict)


# ---------------------------------------------------------------- local models (never downloaded here)


TOKENIZER_FILES = ["config.json", "generation_config.json", "tokenizer*", "vocab*", "merges*", "*.jinja"]


def local_model_dir(model: str, download: bool = False) -> Path | None:
    """A local folder with `model`'s config and tokenizer: the path itself, or its Hugging Face snapshot.

    A dry run only looks in the cache; a launch fetches the small files of a hub id (verl fetches the weights).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download, try_to_load_from_cache
    except ImportError:
        return None
    cached = try_to_load_from_cache(model, "config.json")
    if isinstance(cached, str):
        return Path(cached).parent
    if not download:
        return None
    try:
        return Path(snapshot_download(model, allow_patterns=TOKENIZER_FILES))
    except Exception:  # noqa: BLE001 - offline, unknown id: reported by the checks as not available
        return None


def model_context(model_dir: Path) -> int | None:
    config = json.loads((model_dir / "config.json").read_text())
    return config.get("max_position_embeddings")


def with_absolute_model_path(recipe: Recipe) -> Recipe:
    """A target given as a local relative path, made absolute: verl's processes may start elsewhere."""
    target = Path(recipe.models.target).expanduser()
    if not target.is_dir() or target.is_absolute():
        return recipe
    return recipe.model_copy(update={"models": recipe.models.model_copy(update={"target": str(target.resolve())})})


# ---------------------------------------------------------------- the checks


def check_engine_options(recipe: Recipe, checks: Checks) -> None:
    problem = save_every_problem(recipe)
    if problem:
        checks.errors.append(problem)
    checks.errors.extend(refused_overrides(recipe.engine.overrides))
    if recipe.off_policy.correction == "luffy":
        checks.errors.append(
            "off_policy.correction: 'luffy' (policy shaping) has no verl implementation; "
            "use 'truncated_is' (verl's rollout correction) or 'none' with engine.kind verl"
        )


def check_composes(overrides: list[str], checks: Checks) -> Any:
    """Compose the overrides against verl's own Hydra config and run verl's own config validation."""
    try:
        import verl
        from hydra import compose, initialize_config_dir
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:
        checks.warnings.append("verl is not installed here: the command was not composed against its config "
                               "(pip install 's2lpo[verl]')")
        return None
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    try:
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            config = compose(config_name="ppo_trainer", overrides=overrides)
        # verl prints its verdict to stdout and warns that GRPO needs no critic: keep stdout for the command
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    except (HydraException, OmegaConfBaseException, AssertionError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        checks.errors.append(f"verl config: {first} (check engine.overrides and the batch fields)")
        return None
    return config


def cluster_gpus(ray_address: str | None) -> tuple[int | None, str]:
    """GPUs of the Ray cluster at `ray_address` (or $RAY_ADDRESS), else of this machine."""
    address = ray_address or os.environ.get("RAY_ADDRESS")
    if address is not None and not address.startswith(("http://", "https://")):
        try:
            import ray

            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
            try:
                return int(ray.cluster_resources().get("GPU", 0)), f"Ray cluster at {address}"
            finally:
                ray.shutdown()
        except Exception as exc:  # noqa: BLE001 - any failure to connect means: not checked
            return None, f"no Ray cluster reachable at {address} ({type(exc).__name__})"
    if address is not None:
        return None, f"{address} is a Ray job server; verl checks the cluster's GPUs when the job starts"
    try:
        import torch

        return torch.cuda.device_count(), "this machine"
    except ImportError:
        return None, "torch is not installed"


def check_gpus(recipe: Recipe, ray_address: str | None, checks: Checks) -> None:
    needed = recipe.engine.nodes * recipe.engine.gpus_per_node
    found, where = cluster_gpus(ray_address)
    if found is None:
        checks.warnings.append(f"GPUs: not checked ({where}); the run needs {needed}")
    elif found < needed and where == "this machine":
        checks.warnings.append(f"GPUs: this machine has {found} and no Ray cluster is reachable; the run needs "
                               f"{needed} (run on a GPU node, or start a Ray cluster and pass --ray-address)")
    elif found < needed:
        checks.errors.append(
            f"engine.gpus_per_node: the run needs {needed} GPUs (engine.nodes*engine.gpus_per_node) but {where} "
            f"has {found}; start the workers (`ray start --address=HEAD:6379`) or lower engine.nodes/gpus_per_node"
        )


def check_context(recipe: Recipe, model_dir: Path | None, checks: Checks) -> None:
    need = recipe.data.max_prompt_tokens + recipe.rollout.max_response_tokens
    if model_dir is None:
        checks.warnings.append(f"context length: {recipe.models.target} is not available locally; not checked "
                               f"(prompt + response = {need} tokens)")
        return
    context = model_context(model_dir)
    if context is not None and need > context:
        checks.errors.append(
            f"rollout.max_response_tokens: prompt {recipe.data.max_prompt_tokens} + response "
            f"{recipe.rollout.max_response_tokens} = {need} tokens > the context of {recipe.models.target} ({context})"
        )


VERL_VERSIONS = ("0.9.1", "0.10")  # [lowest, first refused): pyproject's verl extra pins the same range


def verl_version_problem(installed: str) -> str | None:
    """The agent loop and the sampler rely on verl 0.9.1 internals (ct_build_initial_tokens, per-session
    session_id, AgentLoopOutput's fields, the V1 ReplayBuffer's hooks)."""
    from packaging.version import Version

    low, high = VERL_VERSIONS
    if Version(low) <= Version(installed) < Version(high):
        return None
    return f"verl {installed} is installed; s2lpo's agent loop and sampler need verl>={low},<{high}: pip install 's2lpo[verl]'"


def check_modules(checks: Checks) -> None:
    """The modules verl will load from s2lpo: the reward function (imported) and the agent loop."""
    try:
        reward = importlib.import_module(REWARD_MODULE.removeprefix("pkg://"))
        getattr(reward, REWARD_FUNCTION)
    except Exception as exc:  # noqa: BLE001 - report whatever keeps verl from loading it
        checks.errors.append(f"reward module {REWARD_MODULE}: does not import ({type(exc).__name__}: {exc})")
    if importlib.util.find_spec("verl") is not None:
        problem = verl_version_problem(importlib.metadata.version("verl"))
        if problem:
            checks.errors.append(problem)
        if importlib.util.find_spec("transfer_queue") is None:
            checks.errors.append("verl's V1 trainer needs TransferQueue, which is not installed: pip install 's2lpo[verl]'")


def check_agent_loop_imports(checks: Checks) -> None:
    """Import the agent loop as a verl worker will (slow: it imports verl's rollout stack)."""
    try:
        importlib.import_module("s2lpo_cli.verl_ext.agent_loop")
    except Exception as exc:  # noqa: BLE001
        checks.errors.append(f"agent loop s2lpo_cli.verl_ext.agent_loop: does not import ({type(exc).__name__}: {exc})")


def check_tokenizer_and_prompts(recipe: Recipe, model_dir: Path | None, store: Any, prepared: Prepared,
                                checks: Checks) -> None:
    """Explorer store and target share a tokenizer; every planned prompt fits data.max_prompt_tokens."""
    if model_dir is None:
        checks.warnings.append(f"tokenizer: {recipe.models.target} is not available locally; tokenizer identity "
                               "and prompt lengths not checked")
        return
    from transformers import AutoTokenizer

    from s2lpo_cli.prompting import build_messages, render_prompt, tokenizer_hash

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if store is not None and store.tokenizer_hash != tokenizer_hash(tokenizer):
        checks.errors.append(
            f"models.explorer_rollouts: the store was tokenized with tokenizer {store.tokenizer_hash}, the target "
            f"{recipe.models.target} uses {tokenizer_hash(tokenizer)}; explorer and target must share one tokenizer"
        )
    p = recipe.data.prompt
    questions = {pr.row.question for pr in prepared.planned} | {r.question for r in prepared.val_rows}
    too_long = []
    for q in sorted(questions):
        text = render_prompt(tokenizer, build_messages(q, p.instruction, p.system), p.enable_thinking)
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if n > recipe.data.max_prompt_tokens:
            too_long.append(n)
    if too_long:
        checks.errors.append(
            f"data.max_prompt_tokens: {len(too_long)} prompt(s) are longer than {recipe.data.max_prompt_tokens} "
            f"tokens (longest {max(too_long)}); raise data.max_prompt_tokens or filter the training set"
        )


def check_store_prompt(recipe: Recipe, manifest: dict, checks: Checks) -> None:
    """The explorer answered the prompt the target will see (instruction, system, thinking switch)."""
    stored = manifest.get("prompt")
    if not isinstance(stored, dict):
        return
    p = recipe.data.prompt
    ours = {"instruction": p.instruction, "system": p.system, "enable_thinking": p.enable_thinking}
    differ = [k for k, v in ours.items() if k in stored and stored[k] != v]
    if differ:
        checks.errors.append(
            f"models.explorer_rollouts: the store was sampled with another prompt ({', '.join(differ)}: "
            f"{', '.join(repr(stored[k]) for k in differ)}); match data.prompt or sample again"
        )


def prepare_data(recipe: Recipe, checks: Checks) -> tuple[Prepared, Any]:
    """Training rows in verl's step order with their explorer draws; the store (None when not needed/found)."""
    from s2lpo_cli.verl_ext.draws import plan_draws

    prepared = Prepared()
    try:
        from s2lpo_cli.data.train_sets import load_train_set

        rows = load_train_set(recipe.data.train, data_dir=recipe.data.data_dir, limit=recipe.data.limit)
    except UserError as exc:
        checks.warnings.append(f"training set: not loaded here ({exc}); parquet layout and store coverage not checked")
        return prepared, None
    store = None
    available: dict[str, list[int]] = {}
    if not recipe.is_grpo:
        if recipe.models.explorer_rollouts is None:
            checks.errors.append("models.explorer_rollouts: verl replays stored explorer responses; "
                                 "write them with `s2lpo sample` and set this field")
            return prepared, None
        from s2lpo_cli.data.rollout_store import RolloutStore

        try:
            store = RolloutStore.open(recipe.models.explorer_rollouts)
        except UserError as exc:
            checks.warnings.append(f"explorer store: not available here ({exc}); coverage not checked")
            return prepared, None
        check_store_prompt(recipe, store.manifest, checks)
        prepared.responses = {pid: {r.response_index: r for r in group}
                              for pid, group in store.responses_by_prompt().items()}
        available = {pid: sorted(group) for pid, group in prepared.responses.items()}
    prepared.planned, problems = plan_draws(rows, recipe, available)
    checks.errors.extend(problems)
    prepared.val_rows = rows[:VAL_ROWS]
    return prepared, store


def run_checks(recipe: Recipe, ray_address: str | None, *, strict: bool) -> tuple[Checks, Prepared]:
    """All checks; `strict` (a launch) also imports the agent loop and fetches a hub model's tokenizer."""
    checks = Checks()
    check_engine_options(recipe, checks)
    paths = VerlPaths.for_run(recipe.output.run_dir)
    check_composes(verl_overrides(recipe, paths), checks)
    check_gpus(recipe, ray_address, checks)
    model_dir = local_model_dir(recipe.models.target, download=strict)
    check_context(recipe, model_dir, checks)
    check_modules(checks)
    if strict:
        check_agent_loop_imports(checks)
    prepared, store = prepare_data(recipe, checks)
    if prepared.planned:
        check_tokenizer_and_prompts(recipe, model_dir, store, prepared, checks)
    return checks, prepared


# ---------------------------------------------------------------- dry run and launch


def _report_warnings(checks: Checks) -> None:
    for warning in checks.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def dry_run(recipe: Recipe, ray_address: str | None = None) -> None:
    """Every check this machine allows, then the verl command on stdout; nothing is written."""
    recipe = with_absolute_model_path(recipe)
    checks, prepared = run_checks(recipe, ray_address, strict=False)
    _report_warnings(checks)
    checks.raise_errors(recipe)
    paths = VerlPaths.for_run(recipe.output.run_dir)
    steps = total_physical_steps(recipe)
    err.print(f"[bold]verl command[/] ({steps} global steps; would write {paths.root})")
    if prepared.planned:
        n_explorer = sum(len(p.explorer) for p in prepared.planned)
        err.print(f"{len(prepared.planned)} training rows planned, {n_explorer} explorer responses drawn")
    out.print(shlex.join(verl_command(recipe, paths)), markup=False, highlight=False, soft_wrap=True)


def write_run_folder(recipe: Recipe, prepared: Prepared) -> tuple[VerlPaths, list[str]]:
    from s2lpo_cli.verl_ext.draws import explorer_step_stats
    from s2lpo_cli.verl_ext.parquet import (
        bank_table,
        train_table,
        val_table,
        validate_verl_parquet,
        write_bank,
        write_table,
    )

    run_dir = Path(recipe.output.run_dir)
    paths = VerlPaths.for_run(run_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    write_table(train_table(prepared.planned, recipe), paths.train_parquet)
    write_table(val_table(prepared.val_rows, recipe), paths.val_parquet)
    write_bank(bank_table(prepared.planned, prepared.responses, recipe.rollout.max_response_tokens), paths.explorer_bank)
    validate_verl_parquet(paths.train_parquet, train=True)
    validate_verl_parquet(paths.val_parquet, train=False)
    paths.agent_loop_config.write_text(yaml.safe_dump(agent_loop_config(recipe, paths), sort_keys=False))
    stats = explorer_step_stats(prepared.planned, prepared.responses, recipe.rollout.max_response_tokens)
    paths.explorer_steps.write_text(json.dumps(stats, indent=1) + "\n")
    paths.extension.write_text(json.dumps({
        "reward_function": {"path": REWARD_MODULE, "name": REWARD_FUNCTION},
        "agent_loop_config": str(paths.agent_loop_config),
        "explorer_bank": str(paths.explorer_bank),
        "train_files": str(paths.train_parquet),
        "val_files": str(paths.val_parquet),
    }, indent=2) + "\n")
    argv = verl_command(recipe, paths)
    (run_dir / "recipe.yaml").write_text(to_yaml(recipe))
    (run_dir / "command.sh").write_text(shell_script(argv, paths.metrics))
    (run_dir / "command.sh").chmod(0o755)
    (run_dir / "command.txt").write_text(shlex.join(argv) + "\n")
    (run_dir / "env.json").write_text(json.dumps(_env(), indent=2) + "\n")
    return paths, argv


def _env() -> dict[str, Any]:
    from s2lpo_cli.provenance import git_hash, package_versions

    versions = package_versions(("s2lpo", "verl", "ray", "torch", "transformers", "vllm"))
    return {"python": versions.pop("python"), "packages": versions, "git": git_hash(),
            "device": "verl (Ray cluster)", "engine": "verl"}


def launch(recipe: Recipe, ray_address: str | None = None) -> None:
    """Check strictly, write the run folder, then run verl here or submit it to the Ray cluster."""
    recipe = with_absolute_model_path(recipe)
    checks, prepared = run_checks(recipe, ray_address, strict=True)
    for warning in checks.warnings:  # a launch cannot skip what a dry run may, except GPUs a job server counts
        if not (ray_address and warning.startswith("GPUs: not checked")):
            checks.errors.append(warning)
    checks.raise_errors(recipe)
    paths, argv = write_run_folder(recipe, prepared)
    run_dir = Path(recipe.output.run_dir).resolve()
    err.print(f"[bold]verl[/]: {total_physical_steps(recipe)} global steps, run folder {run_dir}")
    if ray_address:
        submit(recipe, ray_address, run_dir)
        return
    env = dict(os.environ, PYTHON=argv[0])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    with paths.log.open("ab") as log:
        proc = subprocess.Popen(["bash", str(run_dir / "command.sh")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
        code = proc.wait()
    collect(run_dir, recipe)
    if code != 0:
        raise UserError(f"verl exited with code {code}; its log is {paths.log}. Rerun `bash {run_dir}/command.sh` to resume")


def collect(run_dir: Path, recipe: Recipe) -> None:
    from s2lpo_cli.verl_ext.checkpoints import convert_metrics, link_checkpoints

    steps = convert_metrics(run_dir, recipe)
    exposed = link_checkpoints(run_dir, recipe)
    out.print(f"{run_dir}: {steps} steps in metrics.jsonl; checkpoints: {', '.join(sorted(exposed)) or 'none'}")


def ray_job(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """The Ray job of a run: its entrypoint and runtime environment.

    The runtime environment only ships `s2lpo_cli`. Environment variables travel once, in the verl
    command's `ray_kwargs.ray_init.runtime_env` (which reaches every actor): verl's `main_ppo` calls
    `ray.init(runtime_env=...)` inside the job, and Ray refuses to start a driver whose runtime
    environment sets a variable the job's also sets ("Failed to merge the Job's runtime env").
    """
    entrypoint = (f"PYTHON=python bash {shlex.quote(str(run_dir / 'command.sh'))} && "
                  f"python -m s2lpo_cli.verl_ext.checkpoints {shlex.quote(str(run_dir))}")
    return entrypoint, {"py_modules": [str(PACKAGE_DIR)]}


def submit(recipe: Recipe, ray_address: str, run_dir: Path) -> None:
    """A Ray job that runs command.sh on the cluster, then maps verl's outputs into the run folder.

    The run folder must be on storage every node sees (verl reads the parquet files, the agent loop
    the explorer bank, and checkpoints are written there); s2lpo's modules travel with the job.
    """
    from ray.job_submission import JobSubmissionClient

    entrypoint, runtime_env = ray_job(run_dir)
    client = JobSubmissionClient(ray_address)
    job_id = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env, submission_id=None)
    (run_dir / "verl" / "ray_job.json").write_text(json.dumps({"address": ray_address, "job_id": job_id,
                                                               "entrypoint": entrypoint}, indent=2) + "\n")
    out.print(f"submitted Ray job {job_id} to {ray_address}")
    err.print(f"follow it with: ray job logs --address {ray_address} --follow {job_id}")
