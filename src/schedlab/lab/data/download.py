"""Download missing dataset files from mirrors, like torchvision does, but never keep a bad file.

Each file is streamed into a hidden temporary file in the destination folder, its length is
checked against ``Content-Length`` and its checksum against the catalog (:class:`RemoteFile`);
only then is it renamed to its final name. A failed or corrupt transfer leaves nothing behind and
the next mirror is tried. Mirrors are base URLs (``{name}`` is replaced by the dataset name); they
come from the ``mirrors`` argument, else ``$SCHEDLAB_DATA_MIRRORS`` (separated by spaces or commas),
else the catalog's defaults. ``file://`` URLs work too.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from schedlab.errors import DataError, DatasetNotFoundError, DownloadError
from schedlab.lab.data.catalog import RemoteFile, Source
from schedlab.lab.data.locate import Found, find, match

ENV_MIRRORS = "SCHEDLAB_DATA_MIRRORS"
_CHUNK = 1 << 20
_log = logging.getLogger(__name__)


def mirror_list(source: Source, mirrors: Sequence[str] | None = None) -> list[str]:
    """The base URLs to try for ``source``, in order (see the module docstring)."""
    if mirrors is None and os.environ.get(ENV_MIRRORS, "").strip():
        mirrors = re.split(r"[\s,]+", os.environ[ENV_MIRRORS].strip())
    if mirrors is None:
        return list(source.mirrors)
    if isinstance(mirrors, str) or not all(isinstance(m, str) and m for m in mirrors):
        raise DataError(f"mirrors must be a list of base URLs, got {mirrors!r}")
    return [m.replace("{name}", source.name) for m in mirrors]


def checksum_problem(path: Path, remote: RemoteFile) -> str | None:
    """``None`` when ``path`` holds ``remote`` (md5 of the file, or sha256 of its gzip content),
    else what was expected and what was found."""
    md5 = _digest(path, hashlib.md5(usedforsecurity=False))
    if md5 == remote.md5:
        return None
    problem = f"checksum mismatch: md5 {md5}, expected {remote.md5}"
    if remote.content_sha256 is None:
        return problem
    try:
        with gzip.open(path, "rb") as fh:
            sha, size = hashlib.sha256(), 0
            while chunk := fh.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        return f"{problem}; not a complete gzip file ({exc})"
    if sha.hexdigest() == remote.content_sha256:
        return None
    return (
        f"{problem}; uncompressed content sha256 {sha.hexdigest()} ({size:,} bytes), "
        f"expected {remote.content_sha256} ({remote.content_size:,} bytes)"
    )


def fetch(remote: RemoteFile, folder: Path, mirrors: Sequence[str], timeout: float = 60.0) -> Path:
    """Download ``remote`` into ``folder`` from the first mirror that serves a verified copy."""
    folder.mkdir(parents=True, exist_ok=True)
    attempts: list[str] = []
    for mirror in mirrors:
        url = (
            mirror if mirror.endswith("/" + remote.name) else f"{mirror.rstrip('/')}/{remote.name}"
        )
        fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.name}.", suffix=".part", dir=folder)
        tmp = Path(tmp_name)
        _log.info("downloading %s into %s", url, folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                _transfer(url, fh, timeout)
            problem = checksum_problem(tmp, remote)
            if problem is None:
                return tmp.replace(folder / remote.name)
            attempts.append(f"{url}: {problem}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            attempts.append(f"{url}: {_reason(exc)}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DownloadError(remote.name, attempts or ["no mirrors given"])


def ensure_files(
    source: Source,
    roots: Sequence[Path],
    *,
    download_to: Path | None,
    mirrors: Sequence[str] | None = None,
) -> Found:
    """The first complete copy of ``source`` under ``roots``; when there is none and
    ``download_to`` is given, download the missing files into ``download_to/<layouts[0]>``.

    Raises :class:`DatasetNotFoundError` listing every folder tried, the files expected and,
    after a failed download, every URL tried with the reason it failed.
    """
    found, tried = find(source, roots)
    if found is not None:
        return found
    attempts: list[str] = []
    if download_to is not None:
        urls = mirror_list(source, mirrors)
        try:
            return _download(source, download_to, urls)
        except DownloadError as exc:
            attempts = exc.attempts
        except OSError as exc:  # e.g. the download folder cannot be created or written
            attempts = [f"{download_to}: {type(exc).__name__}: {exc}"]
    raise DatasetNotFoundError(_not_found_message(source, tried, download_to, attempts))


def _download(source: Source, root: Path, mirrors: Sequence[str]) -> Found:
    layout = source.layouts[0]
    folder = root / layout.folder
    if source.archive:
        if folder.exists():  # an incomplete copy: unpacking over it would mix two versions
            _, missing = match(folder, layout)
            raise DownloadError(
                source.name, [f"{folder} exists but lacks {', '.join(missing)}; remove it first"]
            )
        archive = fetch(source.remote[0], root, mirrors)
        _extract(archive, root, layout.folder)
    else:
        present, _ = match(folder, layout)
        for remote in source.remote:
            if remote.name not in present:
                fetch(remote, folder, mirrors)
    paths, missing = match(folder, layout)
    if missing:
        raise DownloadError(source.name, [f"{folder}: still missing {', '.join(missing)}"])
    return Found(folder, layout, paths)


def _extract(archive: Path, root: Path, member: str) -> None:
    """Unpack folder ``member`` of tar ``archive`` into ``root``, all or nothing."""
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=root) as tmp:
        try:
            with tarfile.open(archive) as tar:
                for m in tar.getmembers():
                    parts = Path(m.name).parts
                    if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
                        raise DownloadError(archive.name, [f"{archive}: unsafe member {m.name!r}"])
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, **safe)  # members checked above; "data" filter where available
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if isinstance(exc, DownloadError):
                raise
            raise DownloadError(archive.name, [f"{archive}: cannot unpack: {exc}"]) from exc
        if not (Path(tmp) / member).is_dir():
            raise DownloadError(archive.name, [f"{archive}: has no folder {member}/"])
        shutil.move(str(Path(tmp) / member), str(root / member))


def _transfer(url: str, fh: BinaryIO, timeout: float) -> None:
    """Copy ``url`` (http, https or file) into ``fh``; a short body is an error."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        received = 0
        while chunk := resp.read(_CHUNK):
            fh.write(chunk)
            received += len(chunk)
    if length is not None and received != int(length):
        raise OSError(f"truncated transfer: received {received:,} of {int(length):,} bytes")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable ({exc.reason})"
    return f"{type(exc).__name__}: {exc}"


def _not_found_message(
    source: Source, tried: list[str], download_to: Path | None, attempts: list[str]
) -> str:
    lines = [f"{source.name}: dataset files not found. Looked in, in order:"]
    lines += [f"  {t}" for t in tried]
    lines.append("Expected one of these layouts inside a data root:")
    lines += [f"  {layout.folder or '.'}/: {', '.join(layout.files)}" for layout in source.layouts]
    lines.append("  (an uncompressed file may stand for a .gz name)")
    if download_to is None:
        lines.append("Download is off (download=False).")
    else:
        lines.append(f"Download into {download_to / source.layouts[0].folder} failed:")
        lines += [f"  {a}" for a in attempts]
        lines.append("Expected checksums:")
        lines += [
            f"  {r.name}: md5 {r.md5}"
            + (f" or uncompressed content sha256 {r.content_sha256}" if r.content_sha256 else "")
            for r in source.remote
        ]
    lines.append(
        "Fix: pass root=..., set SCHEDLAB_DATA to a folder with the files, "
        "or set SCHEDLAB_DATA_MIRRORS to reachable mirrors."
    )
    return "\n".join(lines)


def _digest(path: Path, h: Any) -> str:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
