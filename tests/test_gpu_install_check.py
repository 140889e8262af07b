"""scripts/check_gpu_install.py: the pinned GPU set and the comparison with pip's resolution report."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_gpu_install", REPO / "scripts" / "check_gpu_install.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def test_the_pins_are_verl_0_9_1s_vllm_extra():
    pins = check.pinned_versions()
    assert {name: pins[name] for name in check.CHECKED} == {
        "verl": "0.9.1",
        "vllm": "0.24.0",
        "torch": "2.11.0",
        "transformers": "5.9.0",
    }


def test_make_install_gpu_uses_the_pins():
    makefile = (REPO / "Makefile").read_text()
    assert "-c constraints/gpu.txt" in makefile
    assert "install-gpu:\n\t$(PY) -m venv $(VENV)\n\t$(BIN)/pip install $(GPU_INSTALL)" in makefile


def test_a_different_resolution_is_reported_by_name():
    report = {
        "install": [
            {"metadata": {"name": "verl", "version": "0.9.1"}},
            {"metadata": {"name": "vLLM", "version": "0.31.0"}},
            {"metadata": {"name": "torch", "version": "2.11.0"}},
            {"metadata": {"name": "numpy", "version": "2.3.0"}},
        ]
    }
    resolved = check.resolved_versions(report)
    pins = {"verl": "0.9.1", "vllm": "0.24.0", "torch": "2.11.0", "transformers": "5.9.0"}
    assert check.differences(pins, resolved) == [
        "vllm: pinned 0.24.0, resolves to 0.31.0",
        "transformers: pinned 5.9.0, resolves to nothing",
    ]
    resolved.update(vllm="0.24.0", transformers="5.9.0")
    assert check.differences(pins, resolved) == []


def test_pins_ignore_comments(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("# a comment with x==1\nvllm==0.24.0  # the engine\n\nTorch == 2.11.0\n")
    assert check.pinned_versions(path) == {"vllm": "0.24.0", "torch": "2.11.0"}
