"""Shared fixtures for the adapter tests: keep frameworks on few threads (shared 2-core CI)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _few_threads() -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dev dependency
        return
    torch.set_num_threads(1)
