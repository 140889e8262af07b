"""`s2lpo eval` (being built; see issue 4)."""

from s2lpo_cli.errors import UserError

EPILOG = "Example: s2lpo eval --model tiny_models/target --mode nothink --k 4"


def evaluate() -> None:
    """Evaluate a model on math benchmarks with Pass@1 and Pass@k."""
    raise UserError("s2lpo eval is not built yet")
