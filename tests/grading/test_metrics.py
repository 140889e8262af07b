import pytest

from s2lpo_cli.grading.metrics import QuestionResult, benchmark_metrics, core_metrics, reported_ks


def q(correct, lengths=None, finish=None, statuses=None, **groups):
    n = len(correct)
    return QuestionResult(
        correct=correct, lengths=lengths or [10] * n, finish_reasons=finish or ["stop"] * n,
        statuses=statuses or ["ok"] * n, groups={k: str(v) for k, v in groups.items()} or None,
    )


def test_reported_ks_stop_at_the_samples_drawn():
    assert reported_ks(4) == [1, 2, 4]
    assert reported_ks(3) == [1, 2, 3]
    assert reported_ks(16) == [1, 2, 4, 8, 16]


def test_metrics_by_hand():
    questions = [
        q([True, False, False], lengths=[10, 20, 30], finish=["stop", "length", "stop"], subject="Algebra", level=1),
        q([False, False, False], statuses=["ok", "timeout", "no_answer"], subject="Geometry", level=1),
    ]
    m = benchmark_metrics(questions, ks=[1, 2])
    assert m["n_questions"] == 2 and m["k"] == 3
    assert m["pass@1"] == pytest.approx((1 / 3 + 0) / 2)
    assert m["pass@k"]["2"] == pytest.approx((2 / 3 + 0) / 2)  # n=3, c=1, k=2 -> 2/3
    assert m["pass@k"]["3"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(1 / 6)
    assert m["mean_length"] == pytest.approx((10 + 20 + 30 + 30) / 6)
    assert m["truncated_rate"] == pytest.approx(1 / 6)
    assert m["timeouts"] == 1
    assert m["no_answer_rate"] == pytest.approx(1 / 6)
    assert set(m["breakdown"]["subject"]) == {"Algebra", "Geometry"}
    assert m["breakdown"]["subject"]["Algebra"]["pass@1"] == pytest.approx(1 / 3)
    assert m["breakdown"]["level"]["1"]["n_questions"] == 2


def test_no_breakdown_without_groups():
    assert benchmark_metrics([q([True])])["breakdown"] == {}


def test_the_ks_asked_for_the_sample_count_and_grading_errors():
    questions = [q([True, False, True, False], statuses=["ok", "error", "ok", "no_answer"], subject="Algebra")]
    m = benchmark_metrics(questions, ks=[1])  # n = 4, c = 2: pass@1 = 1/2, pass@4 = 1; no pass@2 (not asked for)
    assert m["pass@k"] == pytest.approx({"1": 0.5, "4": 1.0})
    assert m["breakdown"]["subject"]["Algebra"]["pass@k"] == pytest.approx({"1": 0.5, "4": 1.0})
    assert m["grading_errors"] == 1 and m["no_answer_rate"] == pytest.approx(0.25)


def test_nothing_to_score_is_refused():
    with pytest.raises(ValueError, match="^no questions to score$"):
        core_metrics([])
    with pytest.raises(ValueError, match="^every question needs at least one response$"):
        core_metrics([q([True]), q([])])
