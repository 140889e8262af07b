import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from s2lpo_cli.data.rollout_store import RolloutStore
from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.engines.embedded import EmbeddedEngine
from s2lpo_cli.errors import UserError
from s2lpo_cli.grading.version import RULES_VERSION
from s2lpo_cli.prompting import DEFAULT_INSTRUCTION
from s2lpo_cli.sampling.job import SampleJob
from s2lpo_cli.sampling.runner import run_sampling

QUESTIONS = [
    ("What is 12 + 7?", "19"),
    ("What is 3 - 5?", "-2"),
    ("Solve 2x = 8 for x.", "4"),
    ("What is 6 * 7?", "42"),
    ("What is 12 + 7?", "19"),
    ("What is 9 + 9?", "18"),
]


class Interrupted(Exception):
    pass


class FailingAfter:
    """A real engine that is interrupted (like Ctrl-C or a crash) after `calls` generate calls."""

    def __init__(self, engine: EmbeddedEngine, calls: int):
        self.engine, self.calls, self.tokenizer = engine, calls, engine.tokenizer

    def generate(self, prompts, params, seeds=None):
        if self.calls == 0:
            raise Interrupted
        self.calls -= 1
        return self.engine.generate(prompts, params, seeds)


@pytest.fixture(scope="module")
def engine(random_lm_dir):
    return EmbeddedEngine.load(str(random_lm_dir), device="cpu")


@pytest.fixture(scope="module")
def grader():
    from s2lpo_cli.grading.grader import Grader

    with Grader(workers=1) as pool:
        yield pool


@pytest.fixture
def dataset(tmp_path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i, "question": q, "answer": a}) + "\n" for i, (q, a) in enumerate(QUESTIONS)
        )
    )
    return path


def _job(explorer, dataset, output, **changes) -> SampleJob:
    base = dict(
        explorer=str(explorer),
        dataset=str(dataset),
        output=Path(output),
        params=SamplingParams(n=3, temperature=1.0, top_p=0.95, max_tokens=8),
        seed=0,
        shard_prompts=2,
    )
    return SampleJob(**{**base, **changes})


def _rows(store: RolloutStore) -> list[dict]:
    return store.table().to_pylist()


def test_sampling_writes_graded_rows_and_a_manifest(random_lm_dir, engine, grader, dataset, tmp_path):
    result = run_sampling(_job(random_lm_dir, dataset, tmp_path / "out"), engine=engine, grader=grader)
    assert result.dropped_duplicates == 1
    rows = _rows(result.store)
    assert len(rows) == 5 * 3
    assert sorted(p.name for p in (tmp_path / "out" / "shards").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert [r["response_index"] for r in rows[:3]] == [0, 1, 2]
    assert {r["ground_truth"] for r in rows} == {"19", "-2", "4", "42", "18"}
    for r in rows:
        assert len(r["response_token_ids"]) == len(r["response_logprobs"]) <= 8
        assert r["reward"] == (
            1.0 if r["grade_status"] == "ok" and r["extracted_answer"] == r["ground_truth"] else 0.0
        )
        assert r["data_source"] == "train"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["n_per_prompt"] == 3 and manifest["counts"]["responses"] == 15
    assert manifest["tokenizer_hash"] and manifest["versions"]["torch"]
    assert manifest["grading_rules_version"] == RULES_VERSION and manifest["dataset_version"] is None  # a file
    assert result.summary.prompts == 5 and result.summary.responses == 15


def _uninterrupted_and_killed(random_lm_dir, engine, grader, dataset, tmp_path):
    """An uninterrupted run's result, and the job of a run killed after its first shard (in tmp_path/resumed)."""
    reference = run_sampling(_job(random_lm_dir, dataset, tmp_path / "full"), engine=engine, grader=grader)
    job = _job(random_lm_dir, dataset, tmp_path / "resumed")
    with pytest.raises(Interrupted):
        run_sampling(job, engine=FailingAfter(engine, calls=1), grader=grader)
    return reference, job


def test_interrupted_run_resumes_to_exactly_the_uninterrupted_rows(
    random_lm_dir, engine, grader, dataset, tmp_path
):
    reference, job = _uninterrupted_and_killed(random_lm_dir, engine, grader, dataset, tmp_path)
    assert RolloutStore.open(tmp_path / "resumed").existing_shards() == [0]
    resumed = run_sampling(job, engine=engine, grader=grader)
    assert resumed.resumed_shards == 1 and not resumed.already_complete
    assert _rows(resumed.store) == _rows(reference.store)
    # A finished run is not redone: no generation at all.
    again = run_sampling(job, engine=FailingAfter(engine, calls=0), grader=grader)
    assert again.already_complete and again.summary == reference.summary


def _make_stale(store_dir: Path, rules_version: int | None) -> None:
    """Every stored verdict flipped, and the manifest saying the store was graded under `rules_version`."""
    store = RolloutStore.open(store_dir)
    for index in store.existing_shards():
        rows = pq.read_table(store.shard_path(index)).to_pylist()
        store.write_shard(index, [{**r, "reward": 1.0 - r["reward"], "extracted_answer": "x", "grade_status": "ok"}
                                  for r in rows])
    manifest = json.loads((store_dir / "manifest.json").read_text())
    manifest.pop("grading_rules_version")
    if rules_version is not None:
        manifest["grading_rules_version"] = rules_version
    (store_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("stored", "said"), [(3, "rules v3"), (None, "unrecorded rules")])
def test_a_store_of_other_grading_rules_is_graded_again_not_sampled(
    random_lm_dir, engine, grader, dataset, tmp_path, stored, said
):
    reference = run_sampling(_job(random_lm_dir, dataset, tmp_path / "full"), engine=engine, grader=grader)
    job = _job(random_lm_dir, dataset, tmp_path / "stale")
    run_sampling(job, engine=engine, grader=grader)
    _make_stale(tmp_path / "stale", stored)
    again = run_sampling(job, engine=FailingAfter(engine, calls=0), grader=grader)  # no generation
    assert again.already_complete and again.regraded_from == said
    assert _rows(again.store) == _rows(reference.store) and again.summary == reference.summary
    manifest = json.loads((tmp_path / "stale" / "manifest.json").read_text())
    assert manifest["grading_rules_version"] == RULES_VERSION and manifest["counts"] == reference.summary.as_dict()


def test_a_resumed_store_of_other_grading_rules_is_graded_again_then_finished(
    random_lm_dir, engine, grader, dataset, tmp_path
):
    reference, job = _uninterrupted_and_killed(random_lm_dir, engine, grader, dataset, tmp_path)
    _make_stale(tmp_path / "resumed", 3)
    resumed = run_sampling(job, engine=engine, grader=grader)
    assert resumed.regraded_from == "rules v3" and resumed.resumed_shards == 1 and not resumed.already_complete
    assert _rows(resumed.store) == _rows(reference.store)
    assert json.loads((tmp_path / "resumed" / "manifest.json").read_text())["grading_rules_version"] == RULES_VERSION


def test_seed_fixes_the_rollouts(random_lm_dir, engine, grader, dataset, tmp_path):
    one = run_sampling(_job(random_lm_dir, dataset, tmp_path / "a"), engine=engine, grader=grader)
    two = run_sampling(
        _job(random_lm_dir, dataset, tmp_path / "b", shard_prompts=5), engine=engine, grader=grader
    )
    other = run_sampling(_job(random_lm_dir, dataset, tmp_path / "c", seed=1), engine=engine, grader=grader)
    # Another shard size batches prompts differently: same tokens, log-probs equal up to float rounding.
    strip = [{k: v for k, v in r.items() if k != "response_logprobs"} for r in _rows(one.store)]
    assert strip == [{k: v for k, v in r.items() if k != "response_logprobs"} for r in _rows(two.store)]
    for a, b in zip(_rows(one.store), _rows(two.store), strict=True):
        assert a["response_logprobs"] == pytest.approx(b["response_logprobs"], abs=1e-5)
    assert [r["response_token_ids"] for r in _rows(one.store)] != [
        r["response_token_ids"] for r in _rows(other.store)
    ]


def test_other_sampling_setup_is_refused_unless_forced(random_lm_dir, engine, grader, dataset, tmp_path):
    run_sampling(_job(random_lm_dir, dataset, tmp_path / "out", limit=2), engine=engine, grader=grader)
    hotter = _job(
        random_lm_dir,
        dataset,
        tmp_path / "out",
        limit=2,
        params=SamplingParams(n=3, temperature=1.5, max_tokens=8),
    )
    with pytest.raises(UserError, match=r"holds rollouts of another setup \(sampling: .*--force"):
        run_sampling(hotter, engine=engine, grader=grader)
    forced = run_sampling(SampleJob(**{**hotter.__dict__, "force": True}), engine=engine, grader=grader)
    assert forced.store.manifest["sampling"]["temperature"] == 1.5
    assert len(_rows(forced.store)) == 2 * 3


def test_bad_dataset_rows_name_file_and_line(random_lm_dir, engine, grader, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "What is 1 + 1?", "answer": "2"}\n{"question": "What is 2 + 2?"}\n')
    # A row without an answer is left out (real sets such as MATH train have a few), with a warning naming it.
    result = run_sampling(_job(random_lm_dir, bad, tmp_path / "out"), engine=engine, grader=grader)
    assert result.summary.prompts == 1
    assert f"{bad}: skipped 1 row(s) without question or answer (line/row 2)" in " ".join(
        capsys.readouterr().err.split()
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "What is 1 + 1?", "answer": "2"}\n{"question": "What is 2 + 2?", \n')
    with pytest.raises(UserError, match=f"{broken}:2: not valid JSON"):
        run_sampling(_job(random_lm_dir, broken, tmp_path / "out2"), engine=engine, grader=grader)
    assert not (tmp_path / "out2").exists()


def test_too_long_prompt_is_refused_before_any_work(random_lm_dir, engine, grader, dataset, tmp_path):
    with pytest.raises(
        UserError, match=r"data.max_prompt_tokens: \d+ prompt\(s\) of .* are longer than 5 tokens \(longest: row \d+"
    ):
        run_sampling(
            _job(random_lm_dir, dataset, tmp_path / "out", max_prompt_tokens=5), engine=engine, grader=grader
        )
    assert not (tmp_path / "out").exists()
    lengths = [
        len(engine.encode([{"role": "user", "content": f"{q}\n{DEFAULT_INSTRUCTION}"}], False))
        for q, _ in QUESTIONS
    ]
    limit = sorted(set(lengths))[-2]  # the longest question(s) go
    result = run_sampling(
        _job(random_lm_dir, dataset, tmp_path / "out", max_prompt_tokens=limit, skip_long_prompts=True),
        engine=engine,
        grader=grader,
    )
    kept = {q for (q, _), n in zip(QUESTIONS, lengths, strict=True) if n <= limit}
    assert result.dropped_long == len({q for q, _ in QUESTIONS} - kept) > 0
    assert {r["question"] for r in _rows(result.store)} == kept
