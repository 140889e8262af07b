"""math-verify as the grader uses it: gold wrapped in \\boxed{}, gold first, and the false-result policy.

math-verify's own signal-based timeouts are switched off here: the grader runs these functions in worker
processes and enforces its time limit from outside (see grader.py). Called in-process, they can hang.
"""

from __future__ import annotations

from collections.abc import Sequence

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from sympy import Expr, Float, Rational, UnevaluatedExpr

DEFAULT_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())


def parse_expression(text: str, extraction: Sequence = DEFAULT_EXTRACTION) -> list:
    """math-verify's parse of text (with $...$ or \\boxed{} delimiters), without its signal timeout."""
    return parse(text, extraction_config=list(extraction), parsing_timeout=None)


def parse_boxed(answer: str) -> list:
    """Parse a bare LaTeX answer (a gold answer or an extracted one) the way it is compared: as \\boxed{answer}.

    Raw MATH-500 answers parsed unwrapped fail for about 100 of 500; wrapped, all 500 parse. A percent sign
    is dropped first (`28\\%` reads as `28`), so the verdict does not depend on the antlr runtime: the
    parser generated for antlr 4.9.3 (the one verl's hydra pins) cannot read `\\%` at all.
    """
    return parse_expression("\\boxed{" + _drop_percent(answer) + "}")


def _drop_percent(answer: str) -> str:
    return answer.replace("\\%", "").replace("%", "").strip()


def _exact_rational(value) -> Rational | None:
    """The value of a constant written without decimals or percent (1/2^99, 1/2004!), else None."""
    if not isinstance(value, Expr) or value.free_symbols or value.has(Float) or value.has(UnevaluatedExpr):
        return None
    exact = value.doit()
    return exact if exact.is_Rational else None


def equivalent(
    gold: list,
    pred: list,
    *,
    float_rounding: int = 6,
    strict: bool = True,
    allow_set_relation_comp: bool = False,
) -> bool:
    """math-verify's verdict on parsed gold (first) and prediction, with the exact-number rule applied.

    Exact-number rule: math-verify compares numbers after rounding to `float_rounding` decimals, so distinct
    exact values closer than that (1/2^99 vs 1/2^98, 1/2004! vs 1/2006!) come out equal. When both sides are
    exact rationals (no decimal point, no percent) a match needs exact equality.
    """
    if not verify(
        gold,
        pred,
        float_rounding=float_rounding,
        strict=strict,
        allow_set_relation_comp=allow_set_relation_comp,
        timeout_seconds=None,
    ):
        return False
    gold_exact = [v for v in map(_exact_rational, gold) if v is not None]
    pred_exact = [v for v in map(_exact_rational, pred) if v is not None]
    if gold_exact and pred_exact:
        return any(g == p for g in gold_exact for p in pred_exact)
    return True
