"""The demo's pipeline, smaller, through the public CLI: tiny init, sample, train S2L-PO and GRPO, eval, report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_small_demo_leaves_a_report(tmp_path):
    demo = tmp_path / "demo"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--small", "--out", str(demo)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = demo / "report" / "report.md"
    assert f"Report: {report}" in proc.stdout
    data = json.loads((demo / "report" / "report.json").read_text())
    runs = {r["name"]: r for r in data["runs"]}
    assert list(runs) == ["base_target", "tiny", "tiny_grpo"] and data["baseline"] == "tiny_grpo"
    s2l, grpo = runs["tiny"]["training"], runs["tiny_grpo"]["training"]
    assert s2l["complete"] and grpo["complete"]
    assert [s["g_w"] for s in s2l["steps"]] == [4, 0]  # N=1, G=4: one explorer-only step, then on-policy
    assert [s["g_w"] for s in grpo["steps"]] == [0, 0]
    assert s2l["target_tokens"] < grpo["target_tokens"]  # the explorer step generated nothing with the target
    for run in runs.values():
        heldout = run["benchmarks"]["heldout"]
        assert heldout["n_questions"] == 4 and heldout["k"] == 2
        assert 0.0 <= heldout["pass@1"] <= heldout["pass@k"] <= 1.0
    if (REPO.parent / "shared" / "data" / "math500.jsonl").is_file():
        assert all(r["benchmarks"]["math500"]["n_questions"] == 4 for r in runs.values())
    for plot in ("reward", "schedule", "kl_entropy", "target_tokens", "passk_heldout"):
        assert (demo / "report" / f"{plot}.png").stat().st_size > 5000
        assert f"({plot}.png)" in report.read_text()
