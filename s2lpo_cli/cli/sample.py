"""`s2lpo sample`: offline explorer rollouts (being built; see issue 3)."""

from s2lpo_cli.errors import UserError

EPILOG = "Example: s2lpo sample --explorer tiny_models/explorer --recipe tiny"


def sample() -> None:
    """Generate G explorer responses per training prompt into a rollout store."""
    raise UserError("s2lpo sample is not built yet")
