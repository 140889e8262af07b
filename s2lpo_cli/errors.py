"""User-facing errors: the CLI prints them as one red line and exits with code 2."""


class UserError(Exception):
    """A mistake the user can fix (bad recipe, missing file, wrong flag). Never a bug."""


class MissingExtraError(UserError):
    """An optional dependency group (extra) is needed but not installed."""
