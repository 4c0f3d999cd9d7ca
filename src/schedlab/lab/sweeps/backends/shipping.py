"""Sending the user's own code to other machines: their modules travel by value.

A model factory, loss or training function defined in the user's own module (a script's folder, a
project checked out beside the sweep) is importable here but not on a Ray worker, whose
``sys.path`` does not hold that folder.  :func:`ship` pickles such objects with ``cloudpickle``,
registering those modules *by value* (their code travels with the object); installed packages
(anything under ``sys.prefix``, the standard library, schedlab itself) travel by reference as
usual.  :func:`unship` is the inverse on the other side.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_INSTALLED = tuple(
    os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, *sysconfig.get_paths().values()} if p
)


@dataclass(frozen=True)
class Shipped:
    """``cloudpickle`` bytes of an object whose user modules travel by value."""

    blob: bytes


def _is_user_module(module: ModuleType | None) -> bool:
    if module is None or module.__name__ == "__main__":  # __main__ goes by value anyway
        return False
    root = module.__name__.split(".")[0]
    if root in sys.builtin_module_names or root == "schedlab":
        return False
    path = getattr(module, "__file__", None)
    if not path:
        return False
    return not os.path.realpath(path).startswith(_INSTALLED)


def user_modules(obj: Any, depth: int = 3) -> list[ModuleType]:
    """The user modules of the functions and classes ``obj`` holds (its fields, items and
    callables, ``depth`` levels down)."""
    found: dict[str, ModuleType] = {}

    def visit(value: Any, level: int) -> None:
        if level < 0 or value is None or isinstance(value, (str, bytes, int, float, bool)):
            return
        for candidate in (value, type(value)):
            module = sys.modules.get(getattr(candidate, "__module__", None) or "")
            if _is_user_module(module):
                found[module.__name__] = module  # type: ignore[union-attr]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                visit(getattr(value, field.name, None), level - 1)
        elif isinstance(value, Mapping):
            for item in value.values():
                visit(item, level - 1)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item, level - 1)

    visit(obj, depth)
    return list(found.values())


@contextmanager
def _by_value(modules: list[ModuleType]) -> Iterator[None]:
    import cloudpickle

    registered = set(cloudpickle.list_registry_pickle_by_value())
    modules = [m for m in modules if m.__name__ not in registered]  # others registered them
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def ship(obj: Any) -> Any:
    """``obj`` ready to travel: as is when it holds no user module, else :class:`Shipped`."""
    modules = user_modules(obj)
    if not modules:
        return obj
    import cloudpickle

    with _by_value(modules):
        return Shipped(cloudpickle.dumps(obj))


def unship(value: Any) -> Any:
    """The object :func:`ship` sent."""
    if isinstance(value, Shipped):
        import cloudpickle

        return cloudpickle.loads(value.blob)
    return value
