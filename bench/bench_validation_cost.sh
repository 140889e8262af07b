#!/usr/bin/env bash
# Held-out accuracy of a tiny GRPO run, two ways (docs/validation.md, "Cost"):
#   a) train 20 steps with checkpoints at 10 and 20, then score the base and both checkpoints afterwards as
#      scripts/reproduce_toy.py did (8 samples at T=1 and a greedy answer per held-out question);
#   b) train the same 20 steps with validation during training at steps 0, 10, 20 (8 samples at T=1).
# Usage: bench/bench_validation_cost.sh WORK_DIR TINY_MODELS_DIR   (WORK_DIR is emptied of runs/)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$1
mkdir -p "$WORK" && cd "$WORK" && ln -sfn "$(realpath "$2")" tiny_models
export OMP_NUM_THREADS=1 S2LPO_THREADS=1 PYTHONPATH=$REPO
PY=${PYTHON:-python}
SETS=(--set schedule.total_steps=20 --set schedule.anneal_steps=8 --set output.save_every=10 --set "output.logger=[jsonl]")
rm -rf runs base_scores.json
s=$(date +%s.%N)
$PY -m s2lpo_cli.cli.app train "$REPO/recipes/tiny.yaml" --baseline "${SETS[@]}" --set output.run_dir=runs/a \
    --set validation.every=0 >>train.log 2>&1
t1=$(date +%s.%N)
$PY - <<PYEOF
import json, sys
from pathlib import Path
sys.path.insert(0, "$REPO/scripts")
from transformers import AutoModelForCausalLM, AutoTokenizer
from s2lpo_cli.tiny.accuracy import sample_responses
heldout = [json.loads(l) for l in Path("tiny_models/data/heldout.jsonl").read_text().splitlines() if l]
for model_dir in ["tiny_models/target", "runs/a_grpo/checkpoints/step_0010", "runs/a_grpo/checkpoints/step_0020"]:
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    questions = [r["question"] for r in heldout]
    sample_responses(model, tokenizer, questions * 8, temperature=1.0, seed=1234, batch_size=256)
    sample_responses(model, tokenizer, questions, temperature=0.0, batch_size=256)
PYEOF
t2=$(date +%s.%N)
$PY -m s2lpo_cli.cli.app train "$REPO/recipes/tiny.yaml" --baseline "${SETS[@]}" --set output.run_dir=runs/b \
    --set validation.every=10 --set validation.k=8 >>train.log 2>&1
t3=$(date +%s.%N)
echo "a) train $(echo "$t1-$s" | bc) s + score base and 2 checkpoints afterwards $(echo "$t2-$t1" | bc) s = $(echo "$t2-$s" | bc) s"
echo "b) train with validation at steps 0, 10, 20: $(echo "$t3-$t2" | bc) s (time_validation_s summed: $(grep -o '"time_validation_s": [0-9.]*' runs/b_grpo/metrics.jsonl | awk '{s+=$2} END {print s}') s)"
