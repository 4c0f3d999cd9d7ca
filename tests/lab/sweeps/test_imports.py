"""Import strings (lab/sweeps/imports.py): the three forms, files loaded once and kept apart by
path, and errors that name the key and what was tried."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from schedlab.errors import ConfigError
from schedlab.lab.sweeps.imports import (
    Bound,
    is_import_string,
    resolve,
    resolve_callable,
    resolve_class,
)


def test_module_and_dotted_forms() -> None:
    import collections
    import os.path

    assert resolve("os.path:join", "k") is os.path.join
    assert resolve("os.path.join", "k") is os.path.join  # the longest importable prefix
    assert resolve("collections:OrderedDict.fromkeys", "k") == collections.OrderedDict.fromkeys
    assert resolve("xml:dom", "k").__name__ == "xml.dom"  # a submodule not imported yet
    assert resolve_class("collections.Counter", "k") is collections.Counter
    assert is_import_string("a.b") and is_import_string("f.py:g") and not is_import_string("mlp")


def test_a_file_is_loaded_once_and_named_by_its_stem(tmp_path) -> None:
    folder = tmp_path / "not_on_sys_path"
    folder.mkdir()
    (folder / "my_nets.py").write_text("def make():\n    return 1\n\nCOUNT = []\nCOUNT.append(1)\n")
    make = resolve(f"{folder}/my_nets.py:make", "model")
    assert make() == 1 and make.__module__ == "schedlab_user_my_nets"
    again = resolve(f"{folder}/my_nets.py:COUNT", "data")
    assert again == [1]  # the module ran once
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "my_nets.py").write_text("def make():\n    return 2\n")
    assert resolve(f"{other}/my_nets.py:make", "model")() == 2  # the same name, another file
    assert str(folder) not in sys.path


def test_a_function_from_a_file_travels_by_value(tmp_path) -> None:
    """A worker process that cannot import the file still gets the function (cloudpickle)."""
    cloudpickle = pytest.importorskip("cloudpickle")
    (tmp_path / "shipped.py").write_text("def twice(x):\n    return 2 * x\n")
    blob = cloudpickle.dumps(resolve(f"{tmp_path}/shipped.py:twice", "model"))
    (tmp_path / "shipped.py").unlink()
    code = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read())(21))"
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True)
    assert out.stdout.strip() == b"42", out.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mlpx", "model: 'mlpx' is not an import string; write 'pkg.module:name'"),
        ("", "model must be an import string"),
        ("os.path:jion", "model: cannot import 'os.path:jion': 'os.path' has no attribute 'jion'"),
        ("os.path:jion", "did you mean 'join'?"),
        ("no_such_pkg.sub.thing", "tried: no module 'no_such_pkg.sub'; no module 'no_such_pkg'"),
        ("no_such_pkg:make", "no module named 'no_such_pkg'"),
        ("missing/file.py:make", "the file 'missing/file.py' does not exist"),
        ("os:path.9x", "'path.9x' is not a Python name"),
    ],
)
def test_errors_name_the_key_and_what_was_tried(text, message) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(text, "model")
    assert message in str(err.value)


def test_errors_raised_by_the_users_module(tmp_path) -> None:
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    with pytest.raises(ConfigError, match=r"data: loading .*broken\.py.* raised ModuleNotFound"):
        resolve(f"{tmp_path}/broken.py:load", "data")
    assert "schedlab_user_broken" not in sys.modules  # a failed load leaves nothing behind
    with pytest.raises(ConfigError, match=r"model: 'os\.sep' names a str, not something callable"):
        resolve_callable("os.sep", "model")
    with pytest.raises(ConfigError, match=r"optimizer: 'os\.path\.join' must name a class"):
        resolve_class("os.path.join", "optimizer")


def test_bound_names_target_and_arguments() -> None:
    import torch

    loss = Bound(torch.nn.CrossEntropyLoss, {"label_smoothing": 0.1}, "loss")
    assert repr(loss) == "torch.nn.modules.loss.CrossEntropyLoss(label_smoothing=0.1)"
    out, y = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    want = torch.nn.functional.cross_entropy(out, y, label_smoothing=0.1)
    assert torch.equal(loss(out, y), want)
    fn = Bound(torch.nn.functional.cross_entropy, {"label_smoothing": 0.1}, "loss")
    assert torch.equal(fn(out, y), want)
    assert repr(pickle.loads(pickle.dumps(loss))) == repr(loss)
    with pytest.raises(ConfigError, match=r"loss: CrossEntropyLoss\(smoothing=1\) raised TypeErr"):
        Bound(torch.nn.CrossEntropyLoss, {"smoothing": 1}, "loss")


def test_shipping_to_a_cluster_keeps_a_file_module_by_value(tmp_path) -> None:
    """The Ray backend's shipping registers and unregisters user modules around each pickle; a
    module loaded from a file stays registered (the per-run engine's workers need it too)."""
    cloudpickle = pytest.importorskip("cloudpickle")
    from schedlab.lab.sweeps.backends.shipping import ship

    (tmp_path / "kept.py").write_text("def f():\n    return 1\n")
    fn = resolve(f"{tmp_path}/kept.py:f", "model")
    ship([fn])
    assert fn.__module__ in cloudpickle.list_registry_pickle_by_value()
