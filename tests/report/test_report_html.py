"""The HTML report of a real sweep (real MNIST training, real SQLite store), checked as text and
rendered in a real headless Chromium."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from chromium import chromium_binary, load_page
from demo_sweep import SCHEDULES, SWEEP
from PIL import Image

from schedlab.lab.analysis.stats import rank
from schedlab.lab.runs.store import RunStore
from schedlab.report.html import write_report


@pytest.fixture(scope="module")
def report(store_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return write_report(store_path, SWEEP, out)


def test_report_is_one_self_contained_file(report):
    assert report.name == f"{SWEEP}.html" and list(report.parent.iterdir()) == [report]
    page = report.read_text(encoding="utf-8")
    srcs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert "http://" not in page and "https://" not in page


def test_report_content_follows_the_store(report, store_path):
    page = report.read_text(encoding="utf-8")
    with RunStore(store_path) as store:
        ranking = rank(store, SWEEP)
    for h in ("Recommendation", "Ranking", "Comparison", "Warnings", "Configuration",
              "Schedules in detail"):  # fmt: skip
        assert f"<h2>{h}</h2>" in page
    ranking_table = page.split("<h2>Ranking</h2>")[1].split("<h2>")[0]
    labels = re.findall(r"<strong>([^<]+)</strong><br><code>", ranking_table)
    assert labels == [row.label for row in ranking.rows]  # in ranking order
    assert {label for label, _ in SCHEDULES} == set(labels)
    best = ranking.rows[0]
    assert f"Use <strong>{best.label}</strong>" in page
    assert f"{best.final.mean:.4g}" in ranking_table
    warnings = page.split("<h2>Warnings</h2>")[1].split("<h2>")[0]
    assert re.search(r'class="id">diverged</span><strong>diverge</strong>', warnings)
    assert re.search(r'class="id">SL001</span><strong>early</strong>', warnings)  # too early
    assert "Suggested spec: <code>" in warnings
    assert "Diverged, avoid at these rates: diverge" in page
    assert page.count("<img ") == 1 + len(SCHEDULES)  # comparison + one per schedule


def test_unknown_sweep_and_store_are_clear_errors(store_path, tmp_path):
    with pytest.raises(ValueError, match="no sweep named 'nope'; known sweeps: 'report-demo'"):
        write_report(store_path, "nope", tmp_path)
    with pytest.raises(ValueError, match="store must be an existing run store file"):
        write_report(tmp_path / "missing.sqlite", SWEEP, tmp_path)


JS = """JSON.stringify({
  images: [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight,
                                        i.getBoundingClientRect().width]),
  rows: document.querySelectorAll("table tbody tr").length,
  rankingRows: document.querySelectorAll("h2 + p + table tbody tr").length,
  fonts: [...document.fonts].length,
  title: document.title,
})"""


@pytest.mark.skipif(chromium_binary() is None, reason="needs chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report):
    import json

    load = load_page(report, JS)
    assert load.console_errors == []
    # offline: the page itself and its embedded images, nothing fetched from anywhere
    assert all(u.startswith(("file://", "data:")) for u in load.requests), load.requests
    info = json.loads(load.value)
    assert info["title"] == f"schedlab report: {SWEEP}"
    assert len(info["images"]) == 1 + len(SCHEDULES)
    for complete, width, height, shown in info["images"]:
        assert complete and width > 300 and height > 200 and shown > 300
    assert info["rankingRows"] == len(SCHEDULES)
    assert info["rows"] > len(SCHEDULES)
    shot = np.asarray(Image.open(io.BytesIO(load.screenshot)).convert("L"), dtype=float)
    assert shot.shape[0] > 1000 and shot.shape[1] > 400  # a long full-page capture
    assert shot.std() > 20  # not blank: text, tables and plots
    assert (shot < 100).mean() > 0.005  # some dark ink (text, curves)
