"""How messages name a grading rules version."""

from s2lpo_cli.grading.version import rules_name


def test_a_version_and_an_unrecorded_one_by_name():
    assert rules_name(3) == "rules v3"
    assert rules_name(None) == "unrecorded rules"  # a store or result written before versions were recorded
