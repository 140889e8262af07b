"""Shared fixtures: repo paths and the read-only benchmark data beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "aime24.jsonl").is_file():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA
