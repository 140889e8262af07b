import json

import pytest

from s2lpo_cli.data.benchmarks import load_benchmark_file
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.layout import RunDirs, find_unfinished, run_dirs_of
from s2lpo_cli.evaluation.raw import read_raw
from s2lpo_cli.evaluation.runner import rescore, run_eval
from s2lpo_cli.evaluation.settings import EvalSettings, resolve_sampling
from s2lpo_cli.grading.passk import pass_at_k
from s2lpo_cli.grading.version import RULES_VERSION

from .scripted import ScriptedEngine, expected_correct


def settings_for(bench_file, k=4, **kw):
    return EvalSettings(
        model="org/Toy-Model", mode="nothink", k=k, sampling=resolve_sampling("nothink", max_tokens=64),
        benchmarks={"toy": str(bench_file)}, **kw,
    )


def engine_for(bench_file, fail_after=None):
    rows = load_benchmark_file(bench_file)
    return ScriptedEngine({r.question: r.answer for r in rows}, fail_after=fail_after)


def test_full_layout_and_metrics(tmp_path, bench_file, grader):
    settings = settings_for(bench_file)
    dirs = RunDirs.new(tmp_path, settings.model)
    engine = engine_for(bench_file)
    summary = run_eval(settings, dirs, lambda: engine, grader, batch_size=2)

    assert dirs.output.parent == tmp_path / "output" and dirs.output.name.startswith("org_Toy-Model_")
    assert dirs.result == tmp_path / "result" / dirs.name
    for path in (dirs.config_path, dirs.raw_path("toy"), dirs.scored_path("toy"), dirs.result_path("toy"), dirs.summary_path):
        assert path.is_file(), path
    assert json.loads(dirs.config_path.read_text())["settings"] == settings.to_dict()

    raw = read_raw(dirs.raw_path("toy"))
    assert [r["id"] for r in raw] == ["q1", "q2", "q3", "q4", "q5"]
    assert all(len(r["responses"]) == 4 for r in raw)
    assert raw[3]["subject"] == "Algebra" and raw[3]["level"] == 1

    rows = load_benchmark_file(bench_file)
    correct = expected_correct(settings, rows)
    scored = [json.loads(line) for line in dirs.scored_path("toy").read_text().splitlines()]
    assert [sum(s["correct"]) for s in scored] == [correct[r.id] for r in rows]
    assert all(e in ("x+1", r.answer) for s, r in zip(scored, rows, strict=True) for e in s["extracted"])

    entry = summary["benchmarks"]["toy"]
    assert set(entry) == {"n_questions", "k", "pass@1", "pass@k", "accuracy", "mean_length", "truncated_rate", "timeouts",
                          "grading_rules_version", "spec_version"}
    assert entry["grading_rules_version"] == RULES_VERSION and entry["spec_version"] is None  # a --benchmark-file
    assert entry["n_questions"] == 5 and entry["k"] == 4
    assert entry["pass@1"] == pytest.approx(sum(c / 4 for c in correct.values()) / 5)
    assert entry["pass@k"]["2"] == pytest.approx(sum(pass_at_k(4, c, 2) for c in correct.values()) / 5)
    assert list(entry["pass@k"]) == ["1", "2", "4"]
    assert entry["accuracy"] == pytest.approx(sum(correct.values()) / 20)
    assert entry["mean_length"] == pytest.approx(5 + 1.5)  # token counts 5, 6, 7, 8
    assert entry["truncated_rate"] == pytest.approx(0.25)
    assert summary["model"] == "org/Toy-Model" and summary["mode"] == "nothink" and summary["k"] == 4
    assert summary["sampling"]["presence_penalty"] == 1.5
    result = json.loads(dirs.result_path("toy").read_text())
    assert result["breakdown"]["subject"]["Algebra"]["n_questions"] == 2
    assert json.loads(dirs.summary_path.read_text()) == summary


def test_killed_run_resumes_without_duplicates_and_matches_an_uninterrupted_run(tmp_path, bench_file, grader):
    settings = settings_for(bench_file)
    dirs = RunDirs.new(tmp_path / "a", settings.model)
    with pytest.raises(RuntimeError, match="killed"):
        run_eval(settings, dirs, lambda: engine_for(bench_file, fail_after=1), grader, batch_size=2)
    assert len(read_raw(dirs.raw_path("toy"))) == 2
    assert not dirs.finished()
    with dirs.raw_path("toy").open("a") as fh:  # the kill came in the middle of writing a line
        fh.write('{"id": "q3", "question": "Name the')

    assert find_unfinished(tmp_path / "a", settings) == dirs  # rerunning the same command continues it
    assert find_unfinished(tmp_path / "a", settings_for(bench_file, k=2)) is None
    assert run_dirs_of(dirs.output) == dirs and run_dirs_of(dirs.result) == dirs

    resumed_engine = engine_for(bench_file)
    resumed = run_eval(settings, dirs, lambda: resumed_engine, grader, batch_size=2)
    ids = [r["id"] for r in read_raw(dirs.raw_path("toy"))]
    assert ids == ["q1", "q2", "q3", "q4", "q5"]
    assert len(resumed_engine.asked) == 3  # only the questions not yet written

    fresh = run_eval(settings, RunDirs.new(tmp_path / "b", settings.model), lambda: engine_for(bench_file), grader)
    assert resumed["benchmarks"] == fresh["benchmarks"]

    def no_engine():
        raise AssertionError("a finished benchmark needs no model")

    assert run_eval(settings, dirs, no_engine, grader) == resumed


def test_score_only_gives_the_same_numbers(tmp_path, bench_file, grader):
    settings = settings_for(bench_file, k=3)
    dirs = RunDirs.new(tmp_path, settings.model)
    summary = run_eval(settings, dirs, lambda: engine_for(bench_file), grader)
    result = json.loads(dirs.result_path("toy").read_text())
    dirs.scored_path("toy").unlink()

    rescored, where = rescore([dirs.raw_path("toy")], grader)
    assert where == dirs.result
    assert rescored == summary
    assert json.loads(dirs.result_path("toy").read_text()) == result
    assert dirs.scored_path("toy").is_file()

    # a raw file outside an eval folder: results go beside it
    loose = tmp_path / "elsewhere" / "toy_raw.jsonl"
    loose.parent.mkdir()
    loose.write_text(dirs.raw_path("toy").read_text())
    loose_summary, loose_where = rescore([loose], grader)
    assert loose_where == loose.parent
    assert loose_summary["benchmarks"] == summary["benchmarks"]
    assert (loose.parent / "toy.jsonl").is_file() and (loose.parent / "toy.json").is_file()


def test_bad_raw_line_names_file_and_line(tmp_path, grader):
    raw = tmp_path / "toy_raw.jsonl"
    raw.write_text('{"id": "a", "answer": "1", "responses": [{"text": "1"}]}\n{not json\n')
    with pytest.raises(UserError, match=rf"{raw}:2: not valid JSON"):
        rescore([raw], grader)
    with pytest.raises(UserError, match="expected a <bench>_raw.jsonl"):
        rescore([tmp_path / "toy.jsonl"], grader)


def test_settings_validation():
    with pytest.raises(UserError, match="--mode"):
        resolve_sampling("fast")
    assert resolve_sampling("think") == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "presence_penalty": 0.0, "max_tokens": 32768}
    assert resolve_sampling("think", temperature=1.0, top_k=None)["temperature"] == 1.0
    with pytest.raises(UserError, match="--k"):
        EvalSettings(model="m", mode="think", k=0, sampling={}, benchmarks={"a": None})
    s = EvalSettings(model="m", mode="think", k=2, sampling=resolve_sampling("think"), benchmarks={"a": None})
    params = s.sampling_params()
    assert params.n == 2 and params.enable_thinking and params.top_k == 20
    assert s.question_seed("x") == s.question_seed("x") != s.question_seed("y")


class RejectsLongPrompts(ScriptedEngine):
    """Like an engine whose context is too short for one question: it raises ValueError for that prompt."""

    def generate(self, prompts, params, seeds=None):
        if any("half of one" in p[-1]["content"] for p in prompts):
            raise ValueError("prompt of 900 tokens leaves no room in 512 positions")
        return super().generate(prompts, params, seeds)


def test_a_prompt_the_engine_rejects_is_recorded_wrong_and_the_run_goes_on(tmp_path, bench_file, grader):
    settings = settings_for(bench_file, k=2)
    dirs = RunDirs.new(tmp_path, settings.model)
    rows = load_benchmark_file(bench_file)
    engine = RejectsLongPrompts({r.question: r.answer for r in rows})
    summary = run_eval(settings, dirs, lambda: engine, grader, batch_size=4)
    raw = {r["id"]: r for r in read_raw(dirs.raw_path("toy"))}
    assert list(raw) == ["q1", "q2", "q3", "q4", "q5"]
    assert "leaves no room" in raw["q2"]["skipped"] and all(r["text"] == "" for r in raw["q2"]["responses"])
    assert json.loads(dirs.result_path("toy").read_text())["skipped_questions"] == 1
    correct = expected_correct(settings, rows)
    correct["q2"] = 0
    assert summary["benchmarks"]["toy"]["accuracy"] == pytest.approx(sum(correct.values()) / 10)


class RecordsPrompts(ScriptedEngine):
    """Keeps the user message of every prompt it is asked."""

    def __init__(self, answers):
        super().__init__(answers)
        self.contents: list[str] = []

    def generate(self, prompts, params, seeds=None):
        self.contents += [messages[-1]["content"] for messages in prompts]
        return super().generate(prompts, params, seeds)


@pytest.mark.parametrize(("instruction", "expected"), [
    (None, "Please reason step by step, and put your final answer within \\boxed{}."),  # a file's default
    ("Put the final answer in \\boxed{}.", "Put the final answer in \\boxed{}."),
], ids=["file_default", "the_runs_own"])  # ids without backslashes: mutmut's fork server finds them by name
def test_every_question_is_asked_with_the_runs_instruction(tmp_path, bench_file, grader, instruction, expected):
    settings = settings_for(bench_file, instruction=instruction)
    rows = load_benchmark_file(bench_file)
    engine = RecordsPrompts({r.question: r.answer for r in rows})
    run_eval(settings, RunDirs.new(tmp_path, settings.model), lambda: engine, grader, batch_size=2)
    assert engine.contents == [f"{r.question.strip()}\n{expected}" for r in rows]


def test_a_registered_benchmark_keeps_its_own_instruction_unless_the_run_names_one():
    from s2lpo_cli.data.benchmarks import get_benchmark

    own = EvalSettings(model="m", mode="nothink", k=1, sampling={}, benchmarks={"math500": None})
    assert own.instruction_for("math500") == get_benchmark("math500").instruction
    assert EvalSettings(model="m", mode="nothink", k=1, sampling={}, benchmarks={"math500": None},
                        instruction="Answer.").instruction_for("math500") == "Answer."


def test_a_config_written_before_the_instruction_setting_still_reads(tmp_path, bench_file):
    """Eval runs written before `instruction` existed resume with None (each benchmark's own instruction)."""
    settings = settings_for(bench_file)
    dirs = RunDirs.new(tmp_path, settings.model)
    dirs.write_config(settings, {})
    old = json.loads(dirs.config_path.read_text())
    del old["settings"]["instruction"]
    dirs.config_path.write_text(json.dumps(old))
    assert dirs.read_settings() == settings
