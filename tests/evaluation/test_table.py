"""The results table `s2lpo eval` prints, cell by cell (values worked out by hand)."""

from __future__ import annotations

from s2lpo_cli.evaluation.table import results_table

AIME = {"n_questions": 30, "pass@1": 0.125, "pass@k": {"1": 0.125, "2": 0.2, "4": 0.25, "16": 0.5},
        "accuracy": 0.1, "mean_length": 1234.4, "truncated_rate": 0.05, "timeouts": 2}
MATH = {"n_questions": 500, "pass@1": 0.6, "pass@k": {"1": 0.6, "2": 0.7, "4": 0.8},
        "accuracy": 0.55, "mean_length": 99.6, "truncated_rate": 0.0, "timeouts": 0}


def _columns(table) -> dict[str, list[str]]:
    return {column.header: list(column.cells) for column in table.columns}


def test_one_row_per_benchmark_in_percent_with_every_k_but_1_in_numeric_order():
    table = results_table({"model": "Qwen/Qwen3-8B", "mode": "think", "benchmarks": {"aime24": AIME, "math500": MATH}})
    assert table.title == "Qwen/Qwen3-8B, think"
    assert _columns(table) == {
        "benchmark": ["aime24", "math500"],
        "n": ["30", "500"],
        "Pass@1": ["12.5", "60.0"],
        "Pass@2": ["20.0", "70.0"],
        "Pass@4": ["25.0", "80.0"],
        "Pass@16": ["50.0", "-"],  # math500 has no pass@16
        "acc": ["10.0", "55.0"],
        "len": ["1234", "100"],
        "trunc": ["5.0", "0.0"],
        "t/o": ["2", "0"],
    }
    assert [c.header for c in table.columns][:6] == ["benchmark", "n", "Pass@1", "Pass@2", "Pass@4", "Pass@16"]
    assert table.columns[0].no_wrap and table.columns[0].justify == "left"
    assert all(c.justify == "right" for c in table.columns[1:])
    assert table.caption == (
        "n questions; Pass@k and acc (share of all responses correct) in %; len: mean response tokens; "
        "trunc: % cut at --max-tokens; t/o: grading timeouts"
    )


def test_the_title_is_the_model_alone_without_a_mode():
    only = {"n_questions": 1, "pass@1": 1.0, "pass@k": {"1": 1.0}, "accuracy": 1.0, "mean_length": 3,
            "truncated_rate": 0.0, "timeouts": 0}
    for summary in ({"model": "m", "benchmarks": {"b": only}}, {"model": "m", "mode": None, "benchmarks": {"b": only}}):
        table = results_table(summary)
        assert table.title == "m"
        assert _columns(table) == {"benchmark": ["b"], "n": ["1"], "Pass@1": ["100.0"], "acc": ["100.0"],
                                   "len": ["3"], "trunc": ["0.0"], "t/o": ["0"]}
