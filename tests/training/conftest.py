"""Training tests run torch on one thread: the tiny models gain nothing from more, and on a shared
2-core machine a second intra-op thread spin-waiting for a busy core makes a step many times slower."""

import os

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(monkeypatch):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setitem(os.environ, "OMP_NUM_THREADS", "1")  # for the `s2lpo train` subprocesses
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lm(random_lm_dir):
    """(load, tokenizer): `load()` gives a fresh float32 copy of the random tiny model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(random_lm_dir)

    def load():
        return AutoModelForCausalLM.from_pretrained(random_lm_dir, dtype=torch.float32)

    return load, tok
