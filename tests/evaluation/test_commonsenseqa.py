"""CommonsenseQA: local files in our layout and the hub's, the prompt, the multiple-choice grader in a run
and in score-only mode, and versions in the results."""

import json

import pytest
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.data.benchmarks import default_names, get_benchmark, load_benchmark, resolve_names
from s2lpo_cli.engines.base import Completion, PromptOutput
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.layout import RunDirs
from s2lpo_cli.evaluation.runner import run_eval
from s2lpo_cli.evaluation.settings import EvalSettings, resolve_sampling
from s2lpo_cli.grading.version import RULES_VERSION

runner = CliRunner()

# Two questions in the hub's own layout (tau/commonsense_qa), one in ours.
HUB_ROWS = [
    {"id": "q-ice", "question": "What is cold and sweet?", "question_concept": "food",
     "choices": {"label": ["A", "B", "C", "D", "E"], "text": ["bank", "ice cream", "library", "a dog", "park"]},
     "answerKey": "B"},
    {"id": "q-book", "question": "Where do you borrow books?", "question_concept": "book",
     "choices": {"label": ["A", "B", "C", "D", "E"], "text": ["bank", "ice cream", "library", "a dog", "park"]},
     "answerKey": "C"},
]
OUR_ROW = {"id": "q-money", "question": "Where do you keep money?",
           "choices": {"A": "bank", "B": "ice cream", "C": "library", "D": "a dog", "E": "park"}, "answer": "A"}

# Per question: the responses a scripted model gives, and which of them are right.
RESPONSES = {
    "What is cold and sweet?": (["\\boxed{B}", "(B)", "the answer is B", "\\boxed{\\text{B}}", "\\boxed{ice cream}",
                                 "B.", "\\boxed{C}", "no idea"],
                                [True, True, True, True, True, True, False, False]),
    "Where do you borrow books?": (["\\boxed{library}", "\\boxed{A}", "\\boxed{C or B}", "(C)", "\\boxed{(C) library}",
                                    "\\boxed{(C) bank}", "the answer is c", "\\boxed{E}"],
                                   [True, False, False, True, True, False, True, False]),
    "Where do you keep money?": (["\\boxed{A}"] * 4 + ["\\boxed{bank}", "\\boxed{B}", "A.", "\\boxed{A dog}"],
                                 [True] * 5 + [False, True, False]),
}


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rows = HUB_ROWS + [OUR_ROW]
    (folder / "commonsenseqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


class ChoiceEngine:
    """Answers each question with its scripted responses; records the prompts it was given."""

    def __init__(self):
        self.prompts = []

    def generate(self, prompts, params, seeds=None):
        outputs = []
        for messages in prompts:
            content = messages[-1]["content"]
            self.prompts.append(content)
            texts, _ = next(v for q, v in RESPONSES.items() if content.startswith(q))
            outputs.append(PromptOutput([1, 2], [Completion(t, [1], [0.0], "stop") for t in texts[: params.n]]))
        return outputs


def test_registered_but_not_a_default():
    spec = get_benchmark("commonsenseqa")
    assert spec.answer_type == "choice" and spec.hub.dataset == "tau/commonsense_qa" and spec.hub.split == "validation"
    assert "commonsenseqa" not in default_names() and default_names() == ["aime24", "aime25", "math500"]
    assert resolve_names(["all"]) == ["aime24", "aime25", "commonsenseqa", "math500"]
    assert resolve_names(["math500", "all"])[0] == "math500"


def test_local_file_in_both_layouts(data_dir):
    rows = load_benchmark(get_benchmark("commonsenseqa"), data_dir)
    assert [(r.id, r.answer) for r in rows] == [("q-ice", "B"), ("q-book", "C"), ("q-money", "A")]
    assert rows[0].extra["choices"] == {"A": "bank", "B": "ice cream", "C": "library", "D": "a dog", "E": "park"}
    assert rows[0].question == (
        "What is cold and sweet?\n\nChoices:\n(A) bank\n(B) ice cream\n(C) library\n(D) a dog\n(E) park"
    )


def test_bad_rows_are_named(data_dir):
    path = data_dir / "commonsenseqa.jsonl"
    path.write_text(json.dumps({**OUR_ROW, "answer": "F"}) + "\n")
    with pytest.raises(UserError, match=r"question 'q-money': answer 'F' is not one of its choice labels \(A, B, C, D, E\)"):
        load_benchmark(get_benchmark("commonsenseqa"), data_dir)
    path.write_text(json.dumps({"id": "x", "question": "q", "answerKey": "A"}) + "\n")
    with pytest.raises(UserError, match=rf"{path}:1: no field 'choices'"):
        load_benchmark(get_benchmark("commonsenseqa"), data_dir)


def test_run_grades_with_the_choice_grader_and_score_only_agrees(tmp_path, data_dir, grader):
    settings = EvalSettings(model="toy", mode="nothink", k=8, sampling=resolve_sampling("nothink"),
                            benchmarks={"commonsenseqa": None}, data_dir=str(data_dir))
    dirs = RunDirs.new(tmp_path, "toy")
    engine = ChoiceEngine()
    summary = run_eval(settings, dirs, lambda: engine, grader)

    assert all("(A) bank" in p and "letter of the correct choice" in p and "\\boxed{}" in p for p in engine.prompts)
    scored = [json.loads(line) for line in dirs.scored_path("commonsenseqa").read_text().splitlines()]
    expected = {row["question"]: RESPONSES[row["question"]][1] for row in HUB_ROWS + [OUR_ROW]}
    assert [s["correct"] for s in scored] == list(expected.values())
    entry = summary["benchmarks"]["commonsenseqa"]
    assert entry["accuracy"] == sum(map(sum, expected.values())) / 24
    assert entry["grading_rules_version"] == RULES_VERSION and entry["spec_version"] == 1

    # score-only, from a copy outside the eval layout: the file's benchmark name picks the grader
    alone = tmp_path / "elsewhere" / "commonsenseqa_raw.jsonl"
    alone.parent.mkdir()
    alone.write_text(dirs.raw_path("commonsenseqa").read_text())
    result = runner.invoke(app, ["eval", "--responses", str(alone), "--json", "--grader-workers", "1"])
    assert result.exit_code == 0, result.output
    rescored = json.loads(result.stdout)["benchmarks"]["commonsenseqa"]
    assert rescored == entry
    assert [json.loads(line)["correct"] for line in (alone.parent / "commonsenseqa.jsonl").read_text().splitlines()] \
        == list(expected.values())


@pytest.mark.slow
def test_cli_on_a_local_file(tmp_path, data_dir, random_lm_dir):
    """`s2lpo eval --benchmarks commonsenseqa --data-dir DIR` with a real (untrained) model."""
    result = runner.invoke(app, [
        "eval", "--model", str(random_lm_dir), "--benchmarks", "commonsenseqa", "--data-dir", str(data_dir),
        "--k", "2", "--max-tokens", "8", "--mode", "nothink", "--output", str(tmp_path / "out"), "--json",
        "--grader-workers", "1",
    ])
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["benchmarks"]["commonsenseqa"]
    assert entry["n_questions"] == 3 and entry["k"] == 2 and entry["spec_version"] == 1
    (raw,) = (tmp_path / "out" / "output").glob("*/commonsenseqa_raw.jsonl")
    assert all(json.loads(line)["choices"]["C"] == "library" for line in raw.read_text().splitlines())
