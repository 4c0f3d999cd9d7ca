"""Load a page in a real headless Chromium over the DevTools protocol (test helper).

Collects console errors, uncaught exceptions and every network request the page makes, evaluates
a JavaScript expression in the loaded page and takes a full-page PNG screenshot.  Needs the
``chromium`` binary (Debian: ``apt-get install -y chromium``) and ``aiohttp`` for the websocket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1200,900",
]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    value: Any = None
    screenshot: bytes = b""


def _port(user_dir: Path, proc: subprocess.Popen, timeout: float = 30.0) -> int:
    marker = user_dir / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            text = marker.read_text().split()
            if text:
                return int(text[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with code {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


async def _session(ws_url: str, page_url: str, expression: str, timeout: float) -> PageLoad:
    import aiohttp

    out = PageLoad()
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
        ids = iter(range(1, 1_000_000))
        pending: dict[int, asyncio.Future] = {}
        loaded = asyncio.Event()

        async def reader() -> None:
            async for msg in ws:
                data = json.loads(msg.data)
                if "id" in data and data["id"] in pending:
                    pending.pop(data["id"]).set_result(data)
                    continue
                method, params = data.get("method"), data.get("params", {})
                if method == "Page.loadEventFired":
                    loaded.set()
                elif method == "Runtime.exceptionThrown":
                    out.console_errors.append(json.dumps(params["exceptionDetails"])[:500])
                elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                    out.console_errors.append(json.dumps(params["args"])[:500])
                elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                    out.console_errors.append(params["entry"].get("text", "")[:500])
                elif method == "Network.requestWillBeSent":
                    out.requests.append(params["request"]["url"][:200])

        async def call(method: str, **params: Any) -> dict:
            i = next(ids)
            fut = asyncio.get_running_loop().create_future()
            pending[i] = fut
            await ws.send_json({"id": i, "method": method, "params": params})
            result = await asyncio.wait_for(fut, timeout)
            if "error" in result:
                raise RuntimeError(f"{method}: {result['error']}")
            return result.get("result", {})

        task = asyncio.create_task(reader())
        for domain in ("Page", "Runtime", "Log", "Network"):
            await call(f"{domain}.enable")
        await call("Page.navigate", url=page_url)
        await asyncio.wait_for(loaded.wait(), timeout)
        await asyncio.sleep(0.3)  # let late console messages arrive
        result = await call("Runtime.evaluate", expression=expression, returnByValue=True)
        out.value = result["result"].get("value")
        metrics = await call("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        shot = await call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 0.5},
        )
        out.screenshot = base64.b64decode(shot["data"])
        task.cancel()
    return out


def load_page(path: Path, expression: str, timeout: float = 60.0) -> PageLoad:
    """Open ``path`` (a local file) in headless Chromium and return what happened."""
    binary = chromium_binary()
    if binary is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    # Chromium's helper processes (crashpad, zygote) may still write the profile while it is
    # removed: kill the whole process group, and let a late write not fail the cleanup.
    with tempfile.TemporaryDirectory(
        prefix="schedlab-chromium-", ignore_cleanup_errors=True
    ) as tmp:
        user_dir = Path(tmp)
        env = {**os.environ, "HOME": tmp}
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={user_dir}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            port = _port(user_dir, proc)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            return asyncio.run(_session(ws_url, path.resolve().as_uri(), expression, timeout))
        finally:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
