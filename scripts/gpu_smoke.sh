#!/usr/bin/env bash
# Three verl steps of S2L-PO on the tiny models, on one GPU (not run in CI).
#
# Step 1 replays 8 stored explorer responses per prompt (alpha = 1), step 2 mixes 4 explorer and 4
# target responses per group (alpha = 1/2), step 3 samples 8 from the target (alpha = 0): both paths of
# the agent loop, s2lpo's sampler (which stops the run on an incomplete group), the grader as reward,
# checkpoints, and the mapping of verl's outputs into the run folder.
# Needs: `make install-gpu` (vllm, verl, ray) and one CUDA GPU.
#
# Usage: scripts/gpu_smoke.sh [WORK_DIR]      (default: a fresh temporary folder)
set -euo pipefail

WORK="${1:-$(mktemp -d -t s2lpo-gpu-smoke-XXXX)}"
S2LPO="${S2LPO:-s2lpo}"
mkdir -p "$WORK"
echo "gpu_smoke: working in $WORK" >&2

[ -f "$WORK/tiny/build.json" ] || "$S2LPO" tiny init "$WORK/tiny" --quick

cat > "$WORK/smoke.yaml" <<EOF
# gpu_smoke: tiny explorer guides the tiny target for 3 verl steps on one GPU.
name: gpu_smoke
models:
  explorer: $WORK/tiny/explorer
  target: $WORK/tiny/target
  explorer_rollouts: $WORK/rollouts
  max_model_len: 512
data:
  train: $WORK/tiny/data/train.jsonl
  limit: 16
  prompt: {enable_thinking: false, instruction: "Put the final answer in \\\\boxed{}."}
  max_prompt_tokens: 64
rollout: {group_size: 8, max_response_tokens: 32, temperature: 1.0}
schedule: {anneal_steps: 3, total_steps: 3, mode: mixed}
optim: {lr: 1.0e-5, prompts_per_step: 8, mini_batch: 8, micro_batch: 8, kl: {enabled: true, coef: 0.001}}
engine:
  kind: verl
  nodes: 1
  gpus_per_node: 1
  tensor_parallel_size: 1
  gpu_memory_utilization: 0.3
  overrides:
    actor_rollout_ref.model.use_remove_padding: false
    actor_rollout_ref.rollout.enforce_eager: true
    data.dataloader_num_workers: 0
output: {run_dir: $WORK/run, save_every: 2}
EOF

"$S2LPO" recipe validate "$WORK/smoke.yaml"
"$S2LPO" sample --recipe "$WORK/smoke.yaml" --explorer "$WORK/tiny/explorer" --engine vllm --n 8 --limit 16
"$S2LPO" train "$WORK/smoke.yaml" --dry-run > "$WORK/dry_run.txt"
"$S2LPO" train "$WORK/smoke.yaml"

# What must be there afterwards: three metric lines in our keys (explorer-only, mixed, on-policy), the
# sampler's per-group counts in verl's log, checkpoints at logical steps 2 and 3, a final HF model.
python - "$WORK/run" <<'EOF'
import json, pathlib, sys
run = pathlib.Path(sys.argv[1])
lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
assert [(m["step"], m["g_w"], m["g_s"]) for m in lines] == [(1, 8, 0), (2, 4, 4), (3, 0, 8)], lines
assert all(m["reward_mean"] is not None and m["loss"] is not None for m in lines), lines
assert all(m["time_generation_s"] is not None and m["time_update_s"] is not None for m in lines), lines
assert lines[0]["target_tokens"] == 0 and all(m["target_tokens"] > 0 and m["tokens_per_s"] for m in lines[1:]), lines
verl = [json.loads(x)["data"] for x in (run / "verl" / "metrics.jsonl").read_text().splitlines() if x.strip()]
counts = [(d["s2lpo/explorer_responses"], d["s2lpo/target_responses"]) for d in verl if "s2lpo/groups" in d]
assert counts == [(64, 0), (32, 32), (0, 64)], counts
assert (run / "checkpoints" / "step_0002" / "config.json").is_file(), "no checkpoint at logical step 2"
assert (run / "final" / "config.json").is_file(), "no HF model in final/"
print("gpu_smoke: OK", json.dumps(lines[-1]))
EOF
