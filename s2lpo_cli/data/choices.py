"""Multiple-choice questions: their labelled choices, and the question text the model sees."""

from __future__ import annotations

from typing import Any

from s2lpo_cli.errors import UserError

LABELS = "ABCDEFGHIJ"


def normalize_choices(value: Any, where: str) -> dict[str, str]:
    """Choices as {label: text}, from {"label": [...], "text": [...]} (the hub's layout), {"A": text, ...},
    or a list of texts (labelled A, B, ... in order)."""
    if isinstance(value, dict) and set(value) == {"label", "text"}:
        labels, texts = list(value["label"]), list(value["text"])
        if len(labels) != len(texts):
            raise UserError(f"{where}: choices has {len(labels)} labels but {len(texts)} texts")
        pairs = zip(labels, texts, strict=True)
    elif isinstance(value, dict):
        pairs = value.items()
    elif isinstance(value, list):
        pairs = zip(LABELS, value, strict=False)
    else:
        raise UserError(f"{where}: needs 'choices': {{label: text}}, a list of texts, or {{\"label\": [...], \"text\": [...]}}")
    choices = {str(label).strip(): str(text).strip() for label, text in pairs}
    if len(choices) < 2 or any(len(label) != 1 or not label.isalpha() for label in choices):
        raise UserError(f"{where}: choices need at least two single-letter labels (got {', '.join(choices) or 'none'})")
    return choices


def format_question(question: str, choices: dict[str, str]) -> str:
    """The question followed by its labelled choices, one per line: `(A) text`."""
    lines = "\n".join(f"({label}) {text}" for label, text in choices.items())
    return f"{question.strip()}\n\nChoices:\n{lines}"
