"""A tiny search shared by the search tests: three families on ``digits``, 6 epochs in rungs of
2 and 6, three candidates per family, two seeds at the end (about a minute on 2 CPU cores)."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_cases import CONFIG, FAMILIES, RANGES, SEARCH, SEEDS


@pytest.fixture(scope="session")
def tiny_search(tmp_path_factory) -> tuple[object, Path]:
    """The search result and its store."""
    from schedlab.lab.searches.search import run_search

    store = tmp_path_factory.mktemp("search") / "runs.sqlite"
    result = run_search(CONFIG, FAMILIES, SEEDS, ranges=RANGES, store=store, **SEARCH)
    return result, store
