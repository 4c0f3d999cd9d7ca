"""Downloading against a real HTTP server on 127.0.0.1 serving the shared files (and broken ones)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import shutil
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from schedlab.lab import DatasetNotFoundError, load_dataset
from schedlab.lab.data.catalog import CIFAR10, FASHION_MNIST, MNIST, RemoteFile, Source
from schedlab.lab.data.download import checksum_problem, ensure_files, fetch, mirror_list


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _LyingHandler(_QuietHandler):
    """Announces the full Content-Length, sends half of the body, then closes the connection."""

    def do_GET(self) -> None:
        body = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True


@pytest.fixture
def serve() -> Iterator:
    """``serve(folder, handler=...)`` -> base URL of a live HTTP server on 127.0.0.1."""
    servers = []

    def start(folder: Path, handler=_QuietHandler) -> str:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_download_from_a_local_mirror_then_load(tmp_path, serve, shared_data):
    url = serve(shared_data)
    found = ensure_files(MNIST, [tmp_path], download_to=tmp_path, mirrors=[f"{url}/{{name}}/"])
    assert found.folder == tmp_path / "mnist"
    for remote in MNIST.remote:
        got = (tmp_path / "mnist" / remote.name).read_bytes()
        assert got == (shared_data / "mnist" / remote.name).read_bytes()
    assert _leftovers(tmp_path / "mnist") == sorted(r.name for r in MNIST.remote)  # no .part files
    ds = load_dataset("mnist", root=tmp_path, val_fraction=0, download=False)
    assert ds.source == str(tmp_path / "mnist") and len(ds.x_train) == 60000
    assert ds.y_train[:5].tolist() == [5, 0, 4, 1, 9]


def test_load_dataset_downloads_into_root_with_env_mirrors(
    tmp_path, serve, shared_data, monkeypatch
):
    url = serve(shared_data)
    monkeypatch.setenv("SCHEDLAB_DATA_MIRRORS", f"{_closed_port_url()} , {url}/{{name}}/")
    found = ensure_files(FASHION_MNIST, [tmp_path], download_to=tmp_path)  # dead mirror, then good
    assert found.folder == tmp_path / "fashion-mnist"
    ds = load_dataset("fashion-mnist", root=tmp_path, train_size=100, download=False)
    assert ds.source == str(tmp_path / "fashion-mnist") and len(ds.x_train) == 80


def test_recompressed_mnist_train_images_pass_by_content_checksum(shared_data):
    remote = MNIST.remote[0]
    path = shared_data / "mnist" / remote.name
    assert hashlib.md5(path.read_bytes()).hexdigest() != remote.md5  # not the upstream .gz bytes
    assert checksum_problem(path, remote) is None  # but the canonical uncompressed content


def _broken_copy(shared_data: Path, tmp_path: Path, damage) -> Path:
    site = tmp_path / "site"
    shutil.copytree(shared_data / "mnist", site / "mnist")
    target = site / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.chmod(0o644)
    target.write_bytes(damage(target.read_bytes()))
    return site


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda b: b[: len(b) - 100], ["checksum mismatch", "not a complete gzip file"]),
        (lambda b: b[:2000] + bytes([b[2000] ^ 0xFF]) + b[2001:], ["checksum mismatch"]),
    ],
    ids=["truncated", "bit-flip"],
)
def test_corrupt_download_is_rejected_and_nothing_is_left(
    tmp_path, serve, shared_data, damage, words
):
    url = serve(_broken_copy(shared_data, tmp_path, damage))
    dest = tmp_path / "dest"
    with pytest.raises(DatasetNotFoundError) as info:
        ensure_files(MNIST, [dest], download_to=dest, mirrors=[f"{url}/mnist/"])
    text = str(info.value)
    for word in [*words, "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"]:
        assert word in text
    left = _leftovers(dest / "mnist")
    assert "t10k-labels-idx1-ubyte.gz" not in left and not [n for n in left if ".part" in n]


def test_short_transfer_is_detected(tmp_path, serve, shared_data):
    url = serve(shared_data, handler=_LyingHandler)
    dest = tmp_path / "dest"
    with pytest.raises(
        DatasetNotFoundError, match=r"truncated transfer: received 4,570,454 of 9,140,909 bytes"
    ):
        ensure_files(MNIST, [dest], download_to=dest, mirrors=[f"{url}/mnist/"])
    assert _leftovers(dest / "mnist") == []


def test_no_server_reachable_lists_folders_urls_and_expectations(tmp_path):
    dead = _closed_port_url()
    roots = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(DatasetNotFoundError) as info:
        ensure_files(MNIST, roots, download_to=tmp_path / "a", mirrors=[dead])
    text = str(info.value)
    for expected in [
        str(tmp_path / "a" / "mnist"),
        str(tmp_path / "b" / "MNIST" / "raw"),
        "train-images-idx3-ubyte.gz",
        f"{dead}train-images-idx3-ubyte.gz: unreachable",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "SCHEDLAB_DATA_MIRRORS",
    ]:
        assert expected in text
    assert _leftovers(tmp_path / "a" / "mnist") == []


def test_http_errors_are_reported_per_url(tmp_path, serve):
    url = serve(tmp_path)  # serves an empty folder: every file is a 404
    with pytest.raises(DatasetNotFoundError, match=r"/mnist/train-images-idx3-ubyte\.gz: HTTP 404"):
        ensure_files(MNIST, [tmp_path / "d"], download_to=tmp_path / "d", mirrors=[f"{url}/mnist/"])


def test_archive_download_extracts_cifar(tmp_path, serve, write_tiny_cifar):
    write_tiny_cifar(tmp_path / "build" / "cifar-10-batches-py")
    site = tmp_path / "site"
    site.mkdir()
    with tarfile.open(site / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "build" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    md5 = hashlib.md5((site / "cifar-10-python.tar.gz").read_bytes()).hexdigest()
    source = Source(
        "cifar10", CIFAR10.layouts, (RemoteFile("cifar-10-python.tar.gz", md5),), (), archive=True
    )
    dest = tmp_path / "dest"
    found = ensure_files(source, [dest], download_to=dest, mirrors=[serve(site)])
    assert found.folder == dest / "cifar-10-batches-py"
    ds = load_dataset("cifar10", root=dest, val_fraction=0, download=False)
    assert (len(ds.x_train), len(ds.x_test)) == (20, 3)
    assert not [p for p in _leftovers(dest) if p.startswith(".")]  # no temp files or folders


def test_archive_with_unsafe_member_is_refused(tmp_path, serve):
    site = tmp_path / "site"
    site.mkdir()
    with tarfile.open(site / "cifar-10-python.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    md5 = hashlib.md5((site / "cifar-10-python.tar.gz").read_bytes()).hexdigest()
    source = Source(
        "cifar10", CIFAR10.layouts, (RemoteFile("cifar-10-python.tar.gz", md5),), (), archive=True
    )
    dest = tmp_path / "dest"
    with pytest.raises(DatasetNotFoundError, match=r"unsafe member '\.\./escaped'"):
        ensure_files(source, [dest], download_to=dest, mirrors=[serve(site)])
    assert not (tmp_path / "escaped").exists()


def test_file_urls_work_as_mirrors(tmp_path, shared_data):
    remote = MNIST.remote[3]
    path = fetch(remote, tmp_path, [(shared_data / "mnist").as_uri()])
    assert path.read_bytes() == (shared_data / "mnist" / remote.name).read_bytes()


def test_mirror_precedence_and_name_placeholder(monkeypatch):
    monkeypatch.delenv("SCHEDLAB_DATA_MIRRORS", raising=False)
    assert mirror_list(MNIST) == list(MNIST.mirrors)
    monkeypatch.setenv("SCHEDLAB_DATA_MIRRORS", "http://a/{name}/ http://b/")
    assert mirror_list(FASHION_MNIST) == ["http://a/fashion-mnist/", "http://b/"]
    assert mirror_list(MNIST, ["http://c/{name}"]) == ["http://c/mnist"]
    with pytest.raises(ValueError, match="mirrors must be a list of base URLs, got 'http://x/'"):
        mirror_list(MNIST, "http://x/")


def test_unwritable_download_folder_is_reported(tmp_path, shared_data):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatasetNotFoundError, match=r"Download into .*file/mnist failed") as info:
        ensure_files(MNIST, [tmp_path / "x"], download_to=blocker, mirrors=[shared_data.as_uri()])
    assert str(blocker) in str(info.value)


def test_incomplete_cifar_folder_is_not_overwritten(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"keep")
    with pytest.raises(
        DatasetNotFoundError, match=r"exists but lacks data_batch_2.*remove it first"
    ):
        ensure_files(CIFAR10, [tmp_path], download_to=tmp_path, mirrors=[_closed_port_url()])
    assert (tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes() == b"keep"
