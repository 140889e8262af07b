"""Checkpoints without pickle: the model in Hugging Face format, optimizer and RNG state beside it.

checkpoints/step_NNNN/ (NNNN = the logical step just completed):
  model.safetensors, config.json, generation_config.json, tokenizer files   <- loadable by transformers / vLLM
  optimizer.safetensors   AdamW moments and step counts, keyed by parameter name
  rng.safetensors         torch's CPU (and CUDA) generator state
  trainer_state.json      logical step, physical steps done, explorer pool cursors, optimizer hyperparameters
A checkpoint is written to a temporary folder and renamed into place, so a kill leaves either the whole
checkpoint or none; `trainer_state.json` is written last and marks it complete.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.run_folder import CHECKPOINT_PREFIX, RunFolder

STATE = "trainer_state.json"


@dataclass(frozen=True)
class TrainerState:
    step: int  # logical steps completed
    physical_done: int  # physical optimizer steps completed (= metrics.jsonl lines)
    pool: dict[str, int]  # explorer pool cursors


def latest_checkpoint(run_dir: Path) -> Path | None:
    root = RunFolder(run_dir).checkpoints
    if not root.is_dir():
        return None
    # step_NNNN.tmp holds a state file too when a kill came between its last write and its rename
    done = [p for p in root.iterdir()
            if p.name.startswith(CHECKPOINT_PREFIX) and p.name[len(CHECKPOINT_PREFIX):].isdigit() and (p / STATE).is_file()]
    return max(done, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]), default=None)


def save_model(model: Any, tokenizer: Any, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def _optimizer_tensors(model: Any, optimizer: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    names = {id(p): n for n, p in model.named_parameters()}
    tensors = {}
    for param, state in optimizer.state.items():
        for key, value in state.items():
            tensors[f"{names[id(param)]}::{key}"] = value.detach().cpu().contiguous()
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return tensors, groups


def save_checkpoint(run_dir: Path, model: Any, tokenizer: Any, optimizer: Any, state: TrainerState) -> Path:
    import torch
    from safetensors.torch import save_file

    final = RunFolder(run_dir).checkpoint(state.step)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, tokenizer, tmp)
    tensors, groups = _optimizer_tensors(model, optimizer)
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    save_file(rng, str(tmp / "rng.safetensors"))
    payload = {"step": state.step, "physical_done": state.physical_done, "pool": state.pool, "param_groups": groups}
    (tmp / STATE).write_text(json.dumps(payload, indent=1), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def load_checkpoint(folder: Path, model: Any, optimizer: Any) -> TrainerState:
    """Load optimizer and RNG state from `folder`; `model` must already hold the folder's weights
    (loaded with from_pretrained), its parameters being the optimizer's single group."""
    import torch
    from safetensors.torch import load_file

    payload = json.loads((folder / STATE).read_text(encoding="utf-8"))
    tensors = load_file(str(folder / "optimizer.safetensors"))
    index = {n: i for i, (n, _) in enumerate(model.named_parameters())}
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        name, _, field = key.rpartition("::")
        per_param.setdefault(index[name], {})[field] = value
    groups = [dict(g, params=list(range(len(index)))) for g in payload["param_groups"]]
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    rng = load_file(str(folder / "rng.safetensors"))
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    return TrainerState(step=payload["step"], physical_done=payload["physical_done"], pool=payload["pool"])
