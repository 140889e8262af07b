"""`s2lpo report` (being built; see issue 7)."""

from s2lpo_cli.errors import UserError

EPILOG = "Example: s2lpo report runs/tiny runs/tiny_grpo --out report"


def report() -> None:
    """Compare training runs and evaluations: tables, PNG plots, report.md."""
    raise UserError("s2lpo report is not built yet")
