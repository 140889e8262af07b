"""Held-out accuracy of a run's checkpoints: `heldout_scores.json` in the run folder, as
`scripts/reproduce_toy.py` writes it: {"<step>": {"sampled": {"all": acc, ...}, "greedy": {...}}}.
The sampled accuracy (mean over k samples per question) is the one reported."""

from __future__ import annotations

import json
from pathlib import Path

from s2lpo_cli.errors import UserError

SCORES = "heldout_scores.json"


def load_checkpoint_scores(folder: Path) -> dict[int, float]:
    """{checkpoint step: held-out accuracy}, steps ascending; empty when the run has no such file."""
    path = folder / SCORES
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected {{\"<step>\": {{\"sampled\": {{\"all\": accuracy}}}}}}")
    scores = {}
    for step, entry in doc.items():
        acc = entry.get("sampled", {}).get("all") if isinstance(entry, dict) and isinstance(entry.get("sampled"), dict) else None
        if not step.isdigit() or not isinstance(acc, int | float):
            raise UserError(f"{path}: {step}.sampled.all must be a held-out accuracy under an integer step, got {entry!r}"[:300])
        scores[int(step)] = float(acc)
    return dict(sorted(scores.items()))
