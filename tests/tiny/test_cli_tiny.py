"""`s2lpo tiny init`: lays out the shipped pair, refuses to overwrite without --force (the build: test_build.py)."""

from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.tiny.shipped_pair import mismatches


def test_init_lays_out_the_shipped_pair_and_prints_its_accuracy(tmp_path):
    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path / "pair")])
    assert result.exit_code == 0, result.output
    assert mismatches(tmp_path / "pair") == []
    assert "tiny arith pair" in result.stdout and "held-out: linear" in result.stdout


def test_init_refuses_an_existing_build(tmp_path):
    (tmp_path / "explorer").mkdir()
    result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path)])
    assert result.exit_code != 0
    assert "--force" in str(result.exception)
    assert list(tmp_path.iterdir()) == [tmp_path / "explorer"]


def test_seed_and_quick_need_build(tmp_path):
    for flags in (["--quick"], ["--seed", "1"]):
        result = CliRunner().invoke(app, ["tiny", "init", str(tmp_path / "pair"), *flags])
        assert result.exit_code != 0
        assert "--build" in str(result.exception)
    assert not (tmp_path / "pair").exists()
