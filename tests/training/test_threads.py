"""Thread shares for trainers that run side by side."""

import subprocess
import sys

import pytest

from s2lpo_cli.training.threads import TrainerRegistry, explicit_threads, share


def test_share_splits_cores_and_never_goes_below_one():
    assert share(2, 1) == 2
    assert share(2, 2) == 1
    assert share(2, 5) == 1
    assert share(16, 3) == 5


@pytest.fixture
def no_thread_env(monkeypatch):
    for name in ("S2LPO_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)


def test_explicit_setting_wins(no_thread_env, monkeypatch, tmp_path):
    assert explicit_threads() is None
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with TrainerRegistry(tmp_path) as registry:
        assert registry.threads() == 3
    monkeypatch.setenv("S2LPO_THREADS", "1")
    assert explicit_threads() == 1


def test_registry_counts_live_trainers_and_drops_dead_ones(no_thread_env, tmp_path, monkeypatch):
    monkeypatch.setattr("s2lpo_cli.training.threads.cores", lambda: 2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / str(dead.pid)).touch()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            with TrainerRegistry(tmp_path) as registry:
                assert registry.live() == 1
                assert not (tmp_path / str(dead.pid)).exists()
                assert registry.threads() == 2
                (tmp_path / str(other.pid)).touch()
                assert registry.live() == 2
                assert registry.threads() == 1
            assert not (tmp_path / str(registry.pid)).exists()
        finally:
            other.kill()
