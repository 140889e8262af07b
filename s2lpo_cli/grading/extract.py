"""The final answer of a model response: the last brace-matched \\boxed{} after any <think> block.

Rules (see docs/grading-policy.md):
- Reasoning is dropped first: everything up to the last `</think>`; an unclosed `<think>` (a response cut off
  while thinking) drops everything from it on, so an answer guessed mid-thought never counts.
- The last non-empty `\\boxed{...}` (or `\\fbox{...}`) whose braces close wins; a box cut off by truncation is
  skipped. Escaped braces `\\{` `\\}` do not count as grouping. `\\boxed 5` (no braces) is read too.
- Boxes written one after the other, joined only by commas, semicolons, "and", spacing or math delimiters
  (`\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}`), are one answer: their contents as a list. Any other
  text between two boxes (a word such as "or", a sentence) ends the answer at the last box.
- Without a box, the last "the answer is X" phrase gives X (math delimiters, bold and a final period removed).
"""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\b")
# What may stand between two boxes of one answer: commas, semicolons, "and", spacing, math delimiters.
_JOINER = re.compile(
    r"(?:\s|[,;$]|\\[()\[\],;: ]|\\q?quad\b|\band\b|\\text\s*\{\s*(?:and|,)?\s*\})*"
)
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*", re.IGNORECASE)


def strip_think(text: str) -> str:
    """The part of a response after its reasoning block."""
    close = text.rfind("</think>")
    if close >= 0:
        text = text[close + len("</think>"):]
    opened = text.find("<think>")
    return text[:opened] if opened >= 0 else text


def _braced(text: str, start: int) -> str | None:
    """The content of the group opening at text[start] == '{', or None if it never closes."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2  # an escaped character (\{, \}, \\) is never a group delimiter
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    return None


def _box(text: str, match: re.Match) -> tuple[int, str] | None:
    """The end and content of the box opening at match, or None when it never closes or is empty."""
    rest = match.end()
    stripped = text[rest:].lstrip()
    opened = len(text) - len(stripped)
    if stripped.startswith("{"):
        content = _braced(text, opened)
        end = opened + len(content) + 2 if content is not None else rest
    else:  # `\boxed 5`: one token
        token = re.match(r"[^\s$]+", stripped) if rest < len(text) and text[rest].isspace() else None
        content = token.group(0) if token else None
        end = opened + len(content) if content is not None else rest
    return (end, content.strip()) if content is not None and content.strip() else None


def last_boxed(text: str) -> str | None:
    """The final answer given in boxes: the last complete, non-empty box, with the boxes joined to it."""
    answer: list[str] = []
    start = len(text)
    for match in reversed(list(_BOX.finditer(text))):
        box = _box(text, match)
        if box is None and not answer:
            continue  # a box cut off by truncation, or an empty one, after the answer
        if box is None or (answer and (box[0] > start or not _JOINER.fullmatch(text[box[0]:start]))):
            break  # before the answer: an empty box, a box around it, or text that does not join
        answer.insert(0, box[1])
        start = match.start()
    return ", ".join(answer) if answer else None


def _clean_phrase(rest: str) -> str | None:
    rest = rest.strip().strip("*").strip()
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if rest.startswith(opener):
            end = rest.find(closer, len(opener))
            if end > 0:
                return rest[len(opener):end].strip() or None
    line = rest.split("\n", 1)[0]
    line = re.split(r"\.(?:\s|$)", line, maxsplit=1)[0]  # up to the end of the sentence
    line = line.strip().strip("*").rstrip(".").strip()
    return line or None


def extract_answer(text: str) -> str | None:
    """The final answer in a response as LaTeX, or None when it gives none."""
    body = strip_think(text)
    boxed = last_boxed(body)
    if boxed is not None:
        return boxed
    for match in reversed(list(_ANSWER_IS.finditer(body))):
        found = _clean_phrase(body[match.end():])
        if found is not None:
            return found
    return None
