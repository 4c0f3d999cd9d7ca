"""Every code block of docs/your-model.md runs as written, in order, as a newcomer runs them.

Python blocks run one after another in one namespace (a folder of their own as the working
directory); a block whose first line is a file name comment (``# mynet.py``, ``# my.yaml``) is
written to that file instead; ``bash`` blocks are ``schedlab`` commands, run in a subprocess;
``text`` blocks are printed output.  Then what the prose says of the results is checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "your-model.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
FILE_HEADER = re.compile(r"# ([\w./-]+\.(?:py|yaml))")
CLI = "import sys; from schedlab.cli import main; sys.argv[0] = 'schedlab'; main()"


def _blocks() -> list[tuple[str, str]]:
    blocks = FENCE.findall(DOC.read_text(encoding="utf-8"))
    unknown = {lang for lang, _ in blocks} - {"python", "yaml", "bash", "text"}
    assert not unknown, f"code blocks of unknown language {unknown} in {DOC.name}"
    return blocks


def _file(body: str) -> str | None:
    match = FILE_HEADER.fullmatch(body.splitlines()[0])
    return match.group(1) if match else None


def test_python_blocks_run_and_do_what_the_doc_says(tmp_path, monkeypatch, data_root) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEDLAB_DATA", str(data_root))
    ns: dict = {"__name__": "your_model_doc"}
    for i, (lang, body) in enumerate(_blocks()):
        if lang == "python" and _file(body) is None:
            exec(compile(body, f"{DOC.name}, block {i}", "exec"), ns)
    result = ns["result"]
    # the automatic choice: stacked, or the plain loops where it timed them faster on this CPU
    assert result.engine.startswith("stacked") or result.engine.startswith(
        "per-run (stacking measured slower on this CPU: 2 steps of the 6 runs stacked took"
    ), result.engine
    assert sorted(result.ranking.labels) == ["const", "cos", "lin"]
    assert len(result.runs) == 6 and {r.status for r in result.runs} == {"finished"}
    assert ns["report"].is_file()
    # "to float32 tolerance": the stored run and the plain loop alone
    assert ns["stored"] == pytest.approx(ns["alone"], rel=1e-5)
    assert (ns["again"].outcome.skipped, ns["again"].outcome.started) == (6, 0)
    assert ns["noisy"].engine.startswith(
        "per-run (train is not read into memory: it returns different samples on each read (random "
        "transforms))"
    )
    assert sorted(ns["trials"].ranking.labels) == ["const", "cos"]


def _cli_keys() -> bool:
    from schedlab.lab.sweeps import settings

    return "data" in settings.KEYS


def test_cli_blocks_run(tmp_path, data_root) -> None:
    if not _cli_keys():
        pytest.xfail("schedlab compare has no model/data import-string keys in this version yet")
    env = {
        **os.environ, "SCHEDLAB_DATA": str(data_root),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }  # fmt: skip
    commands = []
    for lang, body in _blocks():
        name = _file(body)
        if name is not None:
            (tmp_path / name).write_text(body, encoding="utf-8")
        elif lang == "bash":
            commands += [line.split() for line in body.splitlines() if line.strip()]
    assert commands and all(c[0] == "schedlab" for c in commands)
    for command in commands:
        done = subprocess.run([sys.executable, "-c", CLI, *command[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    assert list((tmp_path / "out" / "mynet-cli").glob("*.html"))
