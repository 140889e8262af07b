import json

import pytest
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.layout import RunDirs
from s2lpo_cli.evaluation.runner import run_eval
from s2lpo_cli.evaluation.settings import EvalSettings, resolve_sampling

from .scripted import ScriptedEngine

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["eval", *map(str, args)], terminal_width=200)


def user_error(result) -> str:
    assert isinstance(result.exception, UserError), result.output
    return str(result.exception)


@pytest.fixture
def model_dir(tmp_path):
    """Passes the model-path check (it holds config.json); no test here gets as far as loading it."""
    path = tmp_path / "models" / "toy"
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


def test_missing_model_path_is_reported_before_any_work(tmp_path):
    result = invoke("--model", tmp_path / "nowhere" / "model", "--output", tmp_path / "out")
    assert "no such model folder" in user_error(result)
    assert not (tmp_path / "out").exists()


def test_unknown_benchmark_lists_the_known_ones(tmp_path, model_dir):
    result = invoke("--model", model_dir, "--benchmarks", "aime24,aime2025", "--output", tmp_path)
    message = user_error(result)
    assert "unknown benchmark 'aime2025'" in message and "Known: aime24, aime25, commonsenseqa, math500" in message


def test_bad_benchmark_file_names_file_and_line(tmp_path, model_dir):
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?"}\n')
    result = invoke("--model", model_dir, "--benchmark-file", bad, "--output", tmp_path / "out")
    assert f"{bad}:2: missing field(s) 'answer'" in user_error(result)
    assert not (tmp_path / "out" / "output").exists()


def test_score_only_prints_json_and_resume_refuses_other_settings(tmp_path, bench_file, grader):
    from s2lpo_cli.data.benchmarks import load_benchmark_file

    settings = EvalSettings(model="toy", mode="think", k=2, sampling=resolve_sampling("think"),
                            benchmarks={"toy": str(bench_file)})
    dirs = RunDirs.new(tmp_path, "toy")
    engine = ScriptedEngine({r.question: r.answer for r in load_benchmark_file(bench_file)})
    summary = run_eval(settings, dirs, lambda: engine, grader)

    result = invoke("--responses", dirs.raw_path("toy"), "--json", "--grader-workers", 1)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == summary

    table = invoke("--responses", dirs.raw_path("toy"), "--grader-workers", 1)
    assert "Pass@1" in table.stdout and "Pass@2" in table.stdout and "toy" in table.stdout

    assert "differs from the run being resumed (k=2" in user_error(invoke("--resume", dirs.output, "--k", 8))
    assert "not an eval run folder" in user_error(invoke("--resume", tmp_path))
    assert "takes no --model" in user_error(invoke("--responses", dirs.raw_path("toy"), "--model", "x"))


@pytest.mark.slow
def test_end_to_end_on_the_tiny_target(tiny_models, shared_data, tmp_path):
    """The real embedded engine on slices of aime24 and math500, k=4: full layout, score-only gives the same
    numbers, a killed run resumes without duplicates. (math500's 5th prompt is longer than the tiny model's
    512 positions: it is recorded as skipped.)"""
    n = 6
    args = ["--model", tiny_models / "target", "--mode", "nothink", "--k", 4, "--benchmarks", "aime24,math500",
            "--data-dir", shared_data, "--limit", n, "--max-tokens", 12, "--output", tmp_path, "--grader-workers", 2]
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["mode"] == "nothink" and summary["k"] == 4 and summary["sampling"]["top_p"] == 0.8
    for name in ("aime24", "math500"):
        entry = summary["benchmarks"][name]
        assert entry["n_questions"] == n and entry["k"] == 4 and list(entry["pass@k"]) == ["1", "2", "4"]
        assert 0 <= entry["pass@1"] <= entry["pass@k"]["4"] <= 1 and entry["mean_length"] > 0

    (out_dir,) = (tmp_path / "output").iterdir()
    dirs = RunDirs.under(tmp_path, out_dir.name)
    assert out_dir.name.endswith(tuple("0123456789")) and "target" in out_dir.name
    for path in (dirs.config_path, dirs.summary_path, *(p for b in ("aime24", "math500") for p in (
            dirs.raw_path(b), dirs.scored_path(b), dirs.result_path(b)))):
        assert path.is_file(), path
    raw_lines = dirs.raw_path("math500").read_text().splitlines()
    assert len(raw_lines) == n and all(len(json.loads(line)["responses"]) == 4 for line in raw_lines)
    assert "leaves no room" in json.loads(raw_lines[4])["skipped"]

    rescored = invoke("--responses", dirs.raw_path("aime24"), "--responses", dirs.raw_path("math500"), "--json")
    assert rescored.exit_code == 0, rescored.output
    assert json.loads(rescored.stdout)["benchmarks"] == summary["benchmarks"]

    # kill math500 after 3 questions, in the middle of writing the 4th line
    dirs.raw_path("math500").write_text("\n".join(raw_lines[:3]) + "\n" + raw_lines[3][:40])
    for path in (dirs.result_path("math500"), dirs.scored_path("math500"), dirs.summary_path):
        path.unlink()
    resumed = invoke("--resume", dirs.output, "--json")
    assert resumed.exit_code == 0, resumed.output
    ids = [json.loads(line)["id"] for line in dirs.raw_path("math500").read_text().splitlines()]
    assert ids == [json.loads(line)["id"] for line in raw_lines]
    assert json.loads(resumed.stdout)["benchmarks"]["aime24"] == summary["benchmarks"]["aime24"]
