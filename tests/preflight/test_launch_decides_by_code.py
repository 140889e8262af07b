"""A verl launch refuses every check it could not make, except by code the GPU count a Ray job server makes."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from s2lpo_cli.preflight.findings import PreflightError

from .conftest import on_verl, tiny_recipe, write_store

pytestmark = pytest.mark.verl


@pytest.fixture
def verl_recipe(tiny_models, tiny_questions, tmp_path):
    pytest.importorskip("verl")
    target_tokenizer = AutoTokenizer.from_pretrained(tiny_models / "target")
    store = write_store(tmp_path / "store", target_tokenizer, tiny_questions, n=40)
    return on_verl(tiny_recipe(tiny_models, store, tmp_path / "run"))


def test_a_job_server_counts_the_gpus_and_the_launch_goes_ahead(verl_recipe, monkeypatch):
    from s2lpo_cli.verl_ext import launch as launch_module

    submitted = []
    monkeypatch.setattr(launch_module, "submit", lambda recipe, address, run_dir: submitted.append((address, run_dir)))
    launch_module.launch(verl_recipe, ray_address="http://head:8265")
    assert submitted and submitted[0][0] == "http://head:8265"
    assert (submitted[0][1] / "verl" / "train.parquet").is_file()


def test_an_unreachable_cluster_stops_the_launch(verl_recipe, monkeypatch, tmp_path):
    from s2lpo_cli.preflight import verl as verl_checks
    from s2lpo_cli.verl_ext.launch import launch

    monkeypatch.setattr(verl_checks, "cluster_gpus", lambda address: (None, f"no Ray cluster reachable at {address}"))
    with pytest.raises(PreflightError) as info:
        launch(verl_recipe, ray_address="head:6379")
    assert [(f.code, f.severity) for f in info.value.findings] == [("gpus.not_checked", "error")]
    assert not (tmp_path / "run").exists()
