"""The `s2lpo` command: registers one thin module per subcommand.

Nothing heavy is imported here: torch, transformers, verl and vLLM load inside the commands.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from s2lpo_cli.cli import eval as eval_cmd
from s2lpo_cli.cli import recipe as recipe_cmd
from s2lpo_cli.cli import report as report_cmd
from s2lpo_cli.cli import sample as sample_cmd
from s2lpo_cli.cli import tiny as tiny_cmd
from s2lpo_cli.cli import train as train_cmd
from s2lpo_cli.console import debug_enabled, err
from s2lpo_cli.errors import UserError

app = typer.Typer(
    name="s2lpo",
    help="S2L-PO: small-to-large policy optimization. A smaller explorer model's responses guide "
    "GRPO training of a larger target, annealed away over the first N steps.",
    epilog="Example: s2lpo tiny init tiny_models && s2lpo train recipes/tiny.yaml --dry-run",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("sample", epilog=sample_cmd.EPILOG)(sample_cmd.sample)
app.command("train", epilog=train_cmd.EPILOG)(train_cmd.train)
app.command("eval", epilog=eval_cmd.EPILOG)(eval_cmd.evaluate)
app.command("report", epilog=report_cmd.EPILOG)(report_cmd.report)
app.add_typer(recipe_cmd.app, name="recipe")
app.add_typer(tiny_cmd.app, name="tiny")


def main() -> None:
    """Entry point: usage errors and user errors exit with code 2 and one clear message."""
    try:
        app()  # standalone mode: click prints usage errors itself and exits 2
    except UserError as exc:
        if debug_enabled():
            raise
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # [..] is text
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
