"""verl 0.9.1's own trainer (main_ppo, sync V1 trainer, FSDP2 actor and reference, TransferQueue, reward
workers, checkpoints) with s2lpo's agent loop, explorer bank, reward and sampler, on this machine's CPU.

Every run goes through `s2lpo train` as a user types it, on the tiny pair. G = 4 and N = 3, so the
schedule's groups are, by hand: alpha_t = 1 - (t-1)/2 -> G_w = ceil(4 alpha_t) = 4, 2, 0, 0.
`make test-verl` runs this module; it takes several minutes (each run starts Ray and verl's workers).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.verl_cpu, pytest.mark.slow]
pytest.importorskip("verl")

PROMPTS, GROUP = 2, 4
SMALL = ["--set", "schedule.total_steps=4", "--set", "schedule.anneal_steps=3", "--set", f"rollout.group_size={GROUP}",
         "--set", f"optim.prompts_per_step={PROMPTS}", "--set", f"optim.mini_batch={PROMPTS}",
         "--set", f"optim.micro_batch={PROMPTS * GROUP}",
         "--set", "output.save_every=2", "--set", "optim.lr=1e-3"]
MIXED_G_W = [4, 2, 0, 0]  # by hand, see the module docstring
RUN_TIMEOUT_S = 420


def s2lpo(workdir: Path, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2LPO_THREADS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "s2lpo_cli.cli.app", *args], cwd=workdir, env=env, text=True,
                          capture_output=True, timeout=RUN_TIMEOUT_S, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"s2lpo {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-6000:]}")
    return proc


def verl_lines(path: Path) -> dict[int, dict]:
    """Global step -> verl's training metrics of that step (validation lines, logged apart, left out)."""
    lines = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "training/global_step" in entry.get("data", {}):
            lines[int(entry["step"])] = entry["data"]
    return lines


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def kill_after_checkpoint(workdir: Path, run: Path, args: list[str], global_step: int) -> dict[int, dict]:
    """Start `s2lpo train`, SIGKILL its whole process group once verl has logged `global_step` and saved its
    checkpoint (the next step is under way); returns verl's log lines written before the kill."""
    env = dict(os.environ, OMP_NUM_THREADS="1", S2LPO_THREADS="1", HF_HUB_OFFLINE="1")
    output = (workdir / "killed_run.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "s2lpo_cli.cli.app", "train", *args], cwd=workdir, env=env,
                            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    log = run / "verl" / "metrics.jsonl"
    checkpoint = run / "verl" / "checkpoints" / f"global_step_{global_step}" / "actor" / "huggingface"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if global_step in verl_lines(log) and checkpoint.is_dir():
                break
            time.sleep(0.5)
        assert proc.poll() is None, (f"the run ended (exit {proc.returncode}) before global step {global_step + 1}:\n"
                                     + (workdir / "killed_run.log").read_text()[-4000:])
        assert global_step in verl_lines(log), "the run did not reach its checkpoint in time"
        return verl_lines(log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        output.close()
        stop_orphaned_ray(run)


def stop_orphaned_ray(run: Path) -> None:
    """The killed run's Ray processes (started in its own session by ray.init) end with it, as a user's `ray stop` would."""
    subprocess.run([str(Path(sys.executable).with_name("ray")), "stop", "--force"], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_models) -> Path:
    root = tmp_path_factory.mktemp("verl_cpu")
    (root / "tiny_models").symlink_to(tiny_models, target_is_directory=True)
    s2lpo(root, "sample", "--explorer", "tiny_models/explorer", "--recipe", "tiny_verl")
    return root


@pytest.fixture(scope="module")
def embedded_run(workdir) -> Path:
    s2lpo(workdir, "train", "tiny", *SMALL, "--set", "schedule.total_steps=1", "--set", "schedule.anneal_steps=1",
          "--set", "output.run_dir=runs/embedded")
    return workdir / "runs" / "embedded"


@pytest.fixture(scope="module")
def mixed_run(workdir) -> tuple[Path, dict[int, dict]]:
    """S2L-PO mixed, killed with SIGKILL in global step 3 (after step 2's checkpoint), then the same command again."""
    args = ["tiny_verl", *SMALL, "--set", "output.run_dir=runs/mixed", "--set", "validation.every=2",
            "--set", "validation.limit=4"]
    before = kill_after_checkpoint(workdir, workdir / "runs" / "mixed", args, global_step=2)
    s2lpo(workdir, "train", *args)
    return workdir / "runs" / "mixed", before


def test_mixed_run_follows_the_schedule_with_verl_counts(mixed_run):
    run, _ = mixed_run
    rows = metrics(run)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert [r["g_w"] for r in rows] == MIXED_G_W
    assert [r["g_s"] for r in rows] == [GROUP - g for g in MIXED_G_W]
    # verl's own per-step counts, from its log (the sampler counts sessions in the batch verl sampled)
    logged = {**verl_lines(next((run / "verl").glob("metrics.2*.jsonl"))), **verl_lines(run / "verl" / "metrics.jsonl")}
    assert [logged[g]["s2lpo/explorer_responses"] for g in (1, 2, 3, 4)] == [PROMPTS * g for g in MIXED_G_W]
    assert [logged[g]["s2lpo/target_responses"] for g in (1, 2, 3, 4)] == [PROMPTS * (GROUP - g) for g in MIXED_G_W]
    # target-only steps 3-4 (after the updates of steps 1-2 and a resume): the rollout server's log-probs are the
    # actor's, so it sampled with the actor's weights (this guards the weight sync only where steps 1-2 changed them)
    assert all(logged[g]["training/rollout_probs_diff_max"] < 1e-4 for g in (3, 4))


def test_verl_validation_lands_in_val_jsonl(mixed_run):
    """verl validates before training and every 2 global steps (test_freq) with s2lpo's reward; each validation
    step is in val.jsonl once, although the resumed attempt validated again where it started."""
    run, _ = mixed_run
    rows = [json.loads(line) for line in (run / "val.jsonl").read_text().splitlines()]
    assert sorted(r["step"] for r in rows) == [0, 2, 4]
    assert all(r["benchmark"] == "heldout" and 0.0 <= r["pass@1"] <= 1.0 for r in rows)


def test_verl_metrics_have_the_embedded_keys(mixed_run, embedded_run):
    run, _ = mixed_run
    (embedded,) = metrics(embedded_run)
    for row in metrics(run):
        assert set(row) - {"verl_global_step"} == set(embedded)
        # verl's V1 trainer grades inside the agent loop, within its generation time: no grading timer of its own
        assert all(row[k] is not None for k in ("time_generation_s", "time_update_s", "step_time_s"))
        assert row["time_grading_s"] is None


def test_killed_run_resumes_from_its_checkpoint(mixed_run):
    run, before = mixed_run
    assert sorted(before)[:2] == [1, 2]
    resumed = verl_lines(run / "verl" / "metrics.jsonl")  # the second attempt's log
    assert min(resumed) == 3, "verl did not resume from global step 2's checkpoint"
    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.verl_ext.checkpoints import map_metrics

    recipe = load_recipe(run / "recipe.yaml")
    rows = metrics(run)
    for step in (1, 2):
        assert rows[step - 1] == map_metrics({"step": step, "data": before[step]}, recipe,
                                             json.loads((run / "verl" / "explorer_steps.json").read_text()).get(str(step)))


def test_final_checkpoint_loads_evaluates_and_reports(mixed_run, embedded_run, workdir):
    run, _ = mixed_run
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(run / "final")
    assert model.config.model_type == "qwen3"
    s2lpo(workdir, "eval", "--model", str(run / "final"), "--benchmark-file", "tiny_models/data/heldout.jsonl",
          "--mode", "nothink", "--k", "1", "--pass-k", "1", "--max-tokens", "32", "--limit", "8", "--output", "evals")
    summaries = list((workdir / "evals").rglob("summary.json"))
    assert summaries, "s2lpo eval wrote no summary"
    report = s2lpo(workdir, "report", str(run), str(embedded_run), "--out", "report")
    assert (workdir / "report" / "report.md").is_file(), report.stderr


def test_split_mode_runs_one_phase_per_physical_step(workdir):
    s2lpo(workdir, "train", "tiny_verl", *SMALL, "--set", "schedule.total_steps=3", "--set", "schedule.mode=split",
          "--set", "output.save_every=0", "--set", "output.run_dir=runs/split")
    rows = metrics(workdir / "runs" / "split")
    # logical steps 1..3: G_w = 4, 2, 0 -> physical steps: explorer 4 | explorer 2, target 2 | target 4
    assert [(r["step"], r["phase"], r["g_w"], r["g_s"]) for r in rows] == [
        (1, "explorer", 4, 0), (2, "explorer", 2, 0), (2, "target", 0, 2), (3, "target", 0, 4)]


def test_baseline_is_plain_grpo(workdir):
    s2lpo(workdir, "train", "tiny_verl", *SMALL, "--baseline", "--set", "schedule.total_steps=2",
          "--set", "schedule.anneal_steps=2",
          "--set", "output.save_every=0", "--set", "output.run_dir=runs/grpo")
    rows = metrics(workdir / "runs" / "grpo_grpo")  # --baseline appends _grpo to the run folder
    assert [(r["g_w"], r["g_s"]) for r in rows] == [(0, GROUP), (0, GROUP)]
    assert all(r["reward_target"] is not None for r in rows)


def test_actor_matches_embedded(tiny_models):
    """One fixed batch (prompts, responses, advantages, old log-probs shifted so that the ratio clips): verl's
    FSDP2 actor engine and the embedded trainer's forward, loss and gradient give the same numbers."""
    script = Path(__file__).with_name("verl_actor_batch.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, str(script), str(tiny_models / "target")], env=env, text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["old_max_abs_diff"] < 1e-5
    ours, theirs = result["embedded"], result["verl"]
    assert ours["clip_frac"] > 0  # the update clips: the comparison covers the clipped branch
    assert ours["clip_frac"] == pytest.approx(theirs["clip_frac"], abs=1e-7)
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
    assert ours["grad_norm"] == pytest.approx(theirs["grad_norm"], rel=1e-4)
