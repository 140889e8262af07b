"""`s2lpo tiny init` refuses to overwrite a build without --force (the build itself: test_build.py)."""

from typer.testing import CliRunner

from s2lpo_cli.cli.app import app


def test_init_refuses_an_existing_build(tmp_path):
    (tmp_path / "explorer").mkdir()
    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path)])
    assert result.exit_code != 0
    assert "--force" in str(result.exception)
    assert list(tmp_path.iterdir()) == [tmp_path / "explorer"]
