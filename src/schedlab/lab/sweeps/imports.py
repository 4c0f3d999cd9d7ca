"""Import strings: the user's own code named in a config file or on the command line.

Three forms name a Python object:

- ``"pkg.module:name"`` -- import ``pkg.module``, then take ``name`` (dotted for a nested
  attribute: ``"pkg.module:Class.build"``);
- ``"pkg.module.name"`` -- the same without the colon: the longest prefix that imports is the
  module (``"torch.optim.AdamW"``);
- ``"path/to/file.py:name"`` -- the file is loaded as a module
  (``importlib.util.spec_from_file_location``; its folder need not be on ``sys.path``, and a
  relative path starts at the working directory).  The module is registered as
  ``schedlab_user_<stem>`` (a name that does not depend on where the file lies, so moving the
  project keeps the runs' identity) and pickled by value, so worker processes that cannot
  import it still get its functions.

Modules are imported with the working directory on ``sys.path`` (at its end, shadowing
nothing), as ``python -m`` would find them.  Every failure is one
:class:`~schedlab.errors.ConfigError` that names the key (``what``), the string and what was
tried; an error raised by the user's module while it is imported is reported the same way.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from schedlab.errors import ConfigError

__all__ = ["Bound", "is_import_string", "resolve", "resolve_callable", "resolve_class"]

_FILE_MODULE_PREFIX = "schedlab_user_"


def is_import_string(text: Any) -> bool:
    """Whether ``text`` has the shape of an import string (a colon or a dot in it)."""
    return isinstance(text, str) and bool(text.strip()) and (":" in text or "." in text)


def resolve(text: Any, what: str) -> Any:
    """The object that the import string ``text`` names (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{what} must be an import string like 'pkg.module:name'; got {text!r}")
    text = text.strip()
    location, colon, name = text.rpartition(":")
    if colon and _is_file(location):
        return _attribute(_load_file(location, text, what), name, text, what)
    if colon:
        if not location or not name:
            raise ConfigError(f"{what}: {text!r} must be 'module:name' or 'file.py:name'")
        return _attribute(_import(location, text, what), name, text, what)
    parts = text.split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(
            f"{what}: {text!r} is not an import string; write 'pkg.module:name', "
            "'pkg.module.name' or 'path/to/file.py:name'"
        )
    tried = []
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        module = _import(module_name, text, what, missing_ok=True)
        if module is None:
            tried.append(f"no module {module_name!r}")
            continue
        return _attribute(module, ".".join(parts[cut:]), text, what)
    raise ConfigError(f"{what}: cannot import {text!r} (tried: {'; '.join(tried)})")


def resolve_callable(text: Any, what: str) -> Callable[..., Any]:
    """:func:`resolve`, and the object must be callable."""
    obj = resolve(text, what)
    if not callable(obj):
        raise ConfigError(f"{what}: {text!r} names a {type(obj).__name__}, not something callable")
    return obj


def resolve_class(text: Any, what: str) -> type:
    """:func:`resolve`, and the object must be a class."""
    obj = resolve(text, what)
    if not isinstance(obj, type):
        raise ConfigError(f"{what}: {text!r} must name a class; it names a {type(obj).__name__}")
    return obj


class Bound:
    """A callable named in a config with keyword arguments: a class built once with them
    (``torch.nn.CrossEntropyLoss(label_smoothing=0.1)``) or a function called with them.

    Its ``__module__``/``__qualname__`` spell the target and the arguments, so the run identity
    (which names losses and metrics by them) changes with the arguments, and stays the same from
    one process to the next.  Picklable when the target is.
    """

    def __init__(self, target: Callable[..., Any], kwargs: dict[str, Any], what: str) -> None:
        self.target, self.kwargs = target, dict(kwargs)
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.kwargs.items()))
        self.__module__ = getattr(target, "__module__", None) or "builtins"
        self.__qualname__ = f"{getattr(target, '__qualname__', repr(target))}({args})"
        self.built: Any = None
        if isinstance(target, type):
            try:
                self.built = target(**self.kwargs)
            except Exception as err:
                raise ConfigError(
                    f"{what}: {self.__qualname__} raised {type(err).__name__}: {err}"
                ) from None

    def __call__(self, *args: Any) -> Any:
        if self.built is not None:
            return self.built(*args)
        return self.target(*args, **self.kwargs)

    def __repr__(self) -> str:
        return f"{self.__module__}.{self.__qualname__}"


# -- helpers -------------------------------------------------------------------------------------


def _is_file(location: str) -> bool:
    return location.endswith(".py") or "/" in location or os.sep in location


def _cwd_on_path() -> None:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def _import(name: str, text: str, what: str, missing_ok: bool = False) -> ModuleType | None:
    """``importlib.import_module(name)``; a missing module is ``None`` (``missing_ok``) or an
    error, an error raised inside the module an error naming it."""
    _cwd_on_path()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and (name == err.name or name.startswith(err.name + ".")):
            if missing_ok:
                return None
            raise ConfigError(
                f"{what}: cannot import {text!r}: no module named {err.name!r} (searched "
                f"sys.path and the working directory {os.getcwd()!r})"
            ) from None
        raise ConfigError(
            f"{what}: importing {name!r} (for {text!r}) raised ModuleNotFoundError: {err}"
        ) from None
    except Exception as err:
        raise ConfigError(
            f"{what}: importing {name!r} (for {text!r}) raised {type(err).__name__}: {err}"
        ) from None


def _load_file(location: str, text: str, what: str) -> ModuleType:
    """The module of the Python file at ``location`` (loaded once per process)."""
    path = Path(location).expanduser()
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(
            f"{what}: cannot load {text!r}: the file {location!r} {state} (relative paths start "
            f"at the working directory {os.getcwd()!r})"
        )
    path = path.resolve()
    stem = re.sub(r"\W", "_", path.stem)
    name = f"{_FILE_MODULE_PREFIX}{stem}"
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return existing
    if existing is not None:  # another file with the same name: keep both apart
        name += "_" + hashlib.sha256(str(path).encode()).hexdigest()[:8]
        if name in sys.modules:
            return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{what}: cannot load {text!r}: {location!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise ConfigError(
            f"{what}: loading {location!r} (for {text!r}) raised {type(err).__name__}: {err}"
        ) from None
    except BaseException:
        del sys.modules[name]
        raise
    try:  # worker processes (spawned, or on a cluster) cannot import it: send it by value
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    except ImportError:  # pragma: no cover - cloudpickle comes with the lab extra
        pass
    return module


def _attribute(module: ModuleType, dotted: str, text: str, what: str) -> Any:
    obj: Any = module
    done = module.__name__
    for part in dotted.split("."):
        if not part.isidentifier():
            raise ConfigError(f"{what}: {text!r}: {dotted!r} is not a Python name")
        if not hasattr(obj, part) and isinstance(obj, ModuleType):  # a submodule not imported yet
            _import(f"{obj.__name__}.{part}", text, what, missing_ok=True)
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            shown = text.rpartition(":")[0] if done == module.__name__ and ":" in text else done
            raise ConfigError(
                f"{what}: cannot import {text!r}: {shown!r} has no attribute {part!r}{hint}"
            )
        obj = getattr(obj, part)
        done = f"{done}.{part}"
    return obj
