"""The multiple-choice grader: which choice a response picks, compared with the gold letter.

Accepted forms of an answer (in a `\\boxed{}`, after "the answer is", or as the response's last line):
`B`, `(B)`, `B.`, `B)`, `B:`, `\\text{B}`, `\\textbf{B}`, the choice's text, a letter with its own text
(`B ice cream`), or an answer that opens with a marked letter (`B. a river`, `B) river`, `(B) river`): the
marked letter picks its choice unless the text after it is another choice's text. A letter with another
choice's text, several letters, or anything else picks nothing: wrong. Pure string work, no math-verify: it
runs in this process. Rules in docs/grading-policy.md.
"""

from __future__ import annotations

import re

from s2lpo_cli.grading.extract import extract_answer, strip_think
from s2lpo_cli.grading.grader import Grade

_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit)\s*\{([^{}]*)\}")
# A letter, marked `(B)`, `B.`, `B)`, `B:` or not, then the rest of the answer.
_LETTER = re.compile(r"^(?:\(([A-Za-z])\)|([A-Za-z])\s*[.:)])\s*(.*)$|^([A-Za-z])(?:\s+(.*))?$", re.DOTALL)


def _plain(text: str) -> str:
    """Without LaTeX text commands, math delimiters, bold markers, quotes and final periods, in any nesting
    (`**B**.`, `"B".`, `$B$.` are `B`)."""
    text = _TEXT_CMD.sub(r"\1", text)
    while True:
        before = text
        text = text.strip().strip("\"'`").rstrip(".").strip()
        for opener, closer in (("$", "$"), ("\\(", "\\)"), ("**", "**")):
            if text.startswith(opener) and text.endswith(closer) and len(text) > len(opener) + len(closer):
                text = text[len(opener):-len(closer)]
        if text == before:
            return text


def _same_text(a: str, b: str) -> bool:
    def fold(s: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", " ", s.casefold()).split())

    return fold(a) == fold(b) != ""


def choice_of(answer: str, choices: dict[str, str]) -> str | None:
    """The label an extracted answer picks, or None when it picks no single choice."""
    text = _plain(answer)
    for label, choice_text in choices.items():  # the choice's own text first ("A dog" is not the letter A)
        if _same_text(text, choice_text):
            return label
    match = _LETTER.match(text)
    if match is None:
        return None
    bracketed, dotted, marked_rest, bare, bare_rest = match.groups()
    label = (bracketed or dotted or bare).upper()
    rest = _plain((marked_rest if bare is None else bare_rest) or "")
    if label not in choices:
        return None
    if not rest or _same_text(rest, choices[label]):
        return label
    marked = bare is None
    names_another = any(_same_text(rest, other) for key, other in choices.items() if key != label)
    return label if marked and not names_another else None


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in strip_think(text).strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def grade_choice(response: str, gold: str, choices: dict[str, str]) -> Grade:
    """The verdict on one response to a multiple-choice question whose right choice is `gold` (a label)."""
    extracted = extract_answer(response)
    if extracted is None:
        last = _last_line(response)
        if last is None or choice_of(last, choices) is None:
            return Grade(False, None, "no_answer")
        extracted = last
    picked = choice_of(extracted, choices)
    return Grade(picked == gold.strip().upper(), picked or extracted, "ok")
