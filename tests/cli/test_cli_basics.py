import subprocess
import sys

import pytest
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app

runner = CliRunner()

COMMANDS = [["sample"], ["train"], ["eval"], ["report"], ["recipe"], ["recipe", "list"], ["recipe", "show"],
            ["recipe", "validate"], ["recipe", "schema"], ["tiny"], ["tiny", "init"]]


def test_help_lists_subcommands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("sample", "train", "eval", "report", "recipe", "tiny"):
        assert name in result.output


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_help_has_an_example(cmd):
    result = runner.invoke(app, [*cmd, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_loading_the_cli_does_not_import_torch():
    code = "import sys; import s2lpo_cli.cli.app; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "s2lpo_cli.cli.app", *args], capture_output=True, text=True)


def test_the_library_does_not_import_the_cli():
    """The CLI calls the library, never the reverse: no module outside s2lpo_cli/cli imports it."""
    import ast
    from pathlib import Path

    import s2lpo_cli

    package = Path(s2lpo_cli.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n == "s2lpo_cli.cli" or n.startswith("s2lpo_cli.cli.") for n in names):
                offenders.append(f"{path.relative_to(package)}:{node.lineno}")
    assert offenders == []


def test_dry_run_shows_the_reference_schedule():
    proc = _run("train", "recipes/4b_8b.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("│")[1:5] for line in proc.stdout.splitlines() if line.count("│") >= 5]
    g_w = [int(r[2]) for r in rows if r[0].strip().isdigit()][:9]
    assert g_w == [16, 14, 12, 10, 7, 5, 3, 0, 0]


def test_user_error_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodels:\n  explroer: a\n  target: b\ndata:\n  train: synthetic\noutput:\n  run_dir: r\n")
    proc = _run("recipe", "validate", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}:3: models.explroer: unknown field (did you mean 'explorer'?)" in proc.stderr.replace("\n", " ") or \
        f"{bad}:3: models.explroer" in proc.stderr


def test_recipe_validate_all_shipped():
    import glob

    proc = _run("recipe", "validate", *sorted(glob.glob("recipes/*.yaml")))
    assert proc.returncode == 0, proc.stderr
