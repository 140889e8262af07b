"""How a question becomes chat messages, and how those are rendered with a tokenizer."""

from __future__ import annotations

from typing import Any

from s2lpo_cli.engines.base import ChatMessages

DEFAULT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def build_messages(question: str, instruction: str = DEFAULT_INSTRUCTION, system: str | None = None) -> ChatMessages:
    messages: ChatMessages = []
    if system:
        messages.append({"role": "system", "content": system})
    content = f"{question.strip()}\n{instruction}" if instruction else question.strip()
    messages.append({"role": "user", "content": content})
    return messages


def render_prompt(tokenizer: Any, messages: ChatMessages, enable_thinking: bool) -> str:
    """Render with the model's own chat template (Qwen3's `enable_thinking` switch)."""
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=enable_thinking
    )


def encode_prompt(tokenizer: Any, messages: ChatMessages, enable_thinking: bool) -> list[int]:
    """Token ids of the rendered prompt (the template already holds the special tokens)."""
    text = render_prompt(tokenizer, messages, enable_thinking)
    return list(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def tokenizer_hash(tokenizer: Any) -> str:
    """Identity of a tokenizer: vocabulary, special tokens and chat template. Equal hashes, same token ids."""
    import hashlib
    import json

    payload = {
        "vocab": sorted(tokenizer.get_vocab().items()),
        "special": sorted(str(t) for t in tokenizer.all_special_tokens),
        "chat_template": tokenizer.chat_template or "",
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
