"""Model shorthand: bare Qwen3 names mean the hub id unless a local folder of that name exists."""

import pytest

from s2lpo_cli.lookup.models import hub_id, resolve_model, same_model


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Qwen3-1.7B", "Qwen/Qwen3-1.7B"),
        ("qwen3-8b", "Qwen/Qwen3-8B"),
        ("QWEN3-14B", "Qwen/Qwen3-14B"),
        ("qwen3-30b-a3b", "Qwen/Qwen3-30B-A3B"),
        ("qwen3-4b-instruct-2507", "Qwen/Qwen3-4B-Instruct-2507"),
        ("Qwen3-0.6B-Base", "Qwen/Qwen3-0.6B-Base"),
        ("qwen3-8b-fp8", "Qwen/Qwen3-8B-FP8"),
    ],
)
def test_bare_qwen3_names_spell_the_hub_id(given, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert hub_id(given) == expected
    choice = resolve_model(given)
    assert choice.name == expected
    assert choice.note == f"{given}: the hub model {expected}"


@pytest.mark.parametrize("given", ["Qwen/Qwen3-1.7B", "tiny_models/explorer", "./Qwen3-8B", "/abs/Qwen3-8B",
                                   "Qwen2.5-7B", "meta-llama/Llama-3.1-8B"])
def test_other_names_are_used_as_given(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    choice = resolve_model(given)
    assert (choice.name, choice.note) == (given, None)


def test_a_local_folder_of_that_name_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Qwen3-1.7B").mkdir()
    choice = resolve_model("Qwen3-1.7B")
    assert choice.name == "Qwen3-1.7B"
    assert "local folder" in choice.note and "Qwen/Qwen3-1.7B" in choice.note
    assert resolve_model("qwen3-8b").name == "Qwen/Qwen3-8B"  # only that name's folder counts


def test_same_model_compares_folders_by_place_and_hub_ids_in_any_case(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m" / "explorer").mkdir(parents=True)
    assert same_model("Qwen3-1.7B", "Qwen/Qwen3-1.7B")
    assert same_model("qwen/qwen3-1.7b", "Qwen/Qwen3-1.7B")
    assert not same_model("Qwen3-1.7B", "Qwen/Qwen3-4B")
    assert same_model("m/explorer", f"{tmp_path}/m/../m/explorer")
    assert not same_model("m/explorer", "m/target")
    assert not same_model("m/explorer", "Qwen/Qwen3-1.7B")
