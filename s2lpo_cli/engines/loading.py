"""Loading a causal LM and its tokenizer from a local folder or a Hugging Face hub id."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from s2lpo_cli.errors import UserError

_HUB_ID = re.compile(r"^([A-Za-z0-9][\w.-]*/)?[\w.-]+$")


def _looks_like_path(model: str) -> bool:
    """A name the user meant as a folder: explicit path syntax, or a first component that exists here."""
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        return True
    return "/" in model and Path(model.split("/")[0]).is_dir()


def _offline() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _in_hub_cache(model: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(model, "config.json"), str)


def check_model_path(model: str) -> None:
    """Fail before any work when `model` is neither a usable local model folder nor a hub id.

    A local folder must hold `config.json`. A name that looks like a path (or whose first
    component is a folder here) must exist. A hub id (`Qwen/Qwen3-1.7B`) is accepted when it is in
    the local Hugging Face cache, or when downloads are allowed.
    """
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise UserError(
                f"{model}: not a model folder (expected config.json in it, as save_pretrained writes)"
            )
        return
    hint = " (build the tiny models with: s2lpo tiny init DIR)" if "tiny" in model else ""
    if _looks_like_path(model) or not _HUB_ID.match(model):
        raise UserError(f"{model}: no such model folder{hint}")
    if _offline() and not _in_hub_cache(model):
        raise UserError(
            f"{model}: no such local folder, and not in the Hugging Face cache while offline{hint}"
        )


def resolve_device(device: str | None) -> str:
    """`auto` (or None) picks cuda when a GPU is visible, else cpu."""
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    check_model_path(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise UserError(f"{model}: cannot load its tokenizer ({exc})") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model_and_tokenizer(model: str, device: str | None = "auto") -> tuple[Any, Any]:
    """The model in eval mode on `device` (float32 on CPU, bfloat16 on GPU) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(model)
    device = resolve_device(device)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    try:
        lm = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise UserError(f"{model}: cannot load the model ({exc})") from exc
    return lm.to(device).eval(), tokenizer
