"""The memory a CPU run of the verl engine needs (verl_ext/cpu/memory.py), computed by hand."""

from pathlib import Path

import pytest

from s2lpo_cli.verl_ext.cpu import memory


def _model(folder: Path) -> Path:
    """1,000 parameters in two safetensors files (10 x 50 + 500, then 2 x 3 x 4 x 10 + 260), and a .bin ignored."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir()
    save_file({"a": torch.zeros(10, 50), "b": torch.zeros(500)}, str(folder / "model-00001-of-00002.safetensors"))
    save_file({"c": torch.zeros(2, 3, 4, 10), "d": torch.zeros(260)}, str(folder / "model-00002-of-00002.safetensors"))
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    return folder


def test_parameters_and_estimate_by_hand(tmp_path):
    """1,000 + 500 parameters x 4 bytes x 6 copies x 2 workers = 72,000 bytes, plus 700 MiB for each of verl's 8
    fixed processes and the 2 workers: 10 x 734,003,200 = 7,340,032,000."""
    model = _model(tmp_path / "model")
    assert memory.parameter_count(model) == 1500
    assert memory.estimate_bytes(model, workers=2) == 72_000 + 7_340_032_000
    assert memory.parameter_count(tmp_path) == 0  # no safetensors


class _Meminfo:
    def __init__(self, text: str | None):
        self.text = text

    def read_text(self) -> str:
        if self.text is None:
            raise OSError("no /proc")
        return self.text


@pytest.mark.parametrize(("meminfo", "expected"), [
    ("MemTotal:       16000 kB\nMemFree:  1 kB\nMemAvailable:    2048 kB\n", 2048 * 1024),
    ("MemTotal:       16000 kB\n", 4096 * 1000),  # an old kernel without MemAvailable: physical memory
    (None, 4096 * 1000),  # not Linux
])
def test_memory_available(monkeypatch, meminfo, expected):
    import os

    read = []
    monkeypatch.setattr(memory, "Path", lambda path: read.append(path) or _Meminfo(meminfo))
    monkeypatch.setattr(os, "sysconf", {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 1000}.__getitem__)
    assert memory.memory_available() == expected
    assert read == ["/proc/meminfo"]
