"""What a preflight check reports: one `Finding` type for every engine, and the error that carries them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from s2lpo_cli.errors import UserError

Severity = Literal["error", "not_checked"]


@dataclass(frozen=True)
class Finding:
    """One problem found before a job starts.

    `code` is stable (`store.tokenizer_mismatch`): callers and tests decide on it, never on the message.
    `field` is what the user changes: a recipe field (`data.max_prompt_tokens`) or, for an installation
    problem, the package. `severity` "not_checked" marks a check this machine cannot make (no GPUs, the
    model or the store is elsewhere): a dry run warns, a launch refuses.
    """

    code: str
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def as_error(self) -> Finding:
        return replace(self, severity="error")


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def not_checked(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "not_checked"]


class PreflightError(UserError):
    """Every error a preflight found, one `field: message` line each (exit code 2, as any UserError)."""

    def __init__(self, subject: str, findings: list[Finding]):
        self.findings = findings
        lines = "\n".join(str(f) for f in findings)
        super().__init__(f"{subject}: {len(findings)} problem(s):\n{lines}")


def raise_errors(subject: str, findings: Iterable[Finding]) -> None:
    """Raise one PreflightError listing every error among `findings`; `subject` says what cannot start."""
    found = errors(findings)
    if found:
        raise PreflightError(subject, found)
