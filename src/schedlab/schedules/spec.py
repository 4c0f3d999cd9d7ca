"""The schedule spec language: dicts, JSON, YAML and the compact text form.

Text form: ``kind(arg, name=value, ...)``.  Positional arguments follow the kind's parameter order;
values are numbers, quoted strings, ``true``/``false``/``None`` (any case), lists and nested calls.
It is parsed with Python's ``ast`` module into a syntax tree whose nodes are checked one by one:
nothing is evaluated.

>>> from_spec("warmup(cosine(lr=0.1, steps=100), steps=10)")
warmup(schedule=cosine(lr=0.1, steps=100, min_lr=0.0), steps=10, start_lr=0.0, shape="linear")
"""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Mapping
from typing import Any

from schedlab.errors import SpecError
from schedlab.schedules.base import KINDS, Schedule

MAX_TEXT = 100_000
_NAMES = {"true": True, "false": False, "none": None, "null": None}


def kinds() -> list[str]:
    """Names of every schedule kind, in the contract's order."""
    return list(KINDS)


def _unknown_kind(kind: Any) -> SpecError:
    close = difflib.get_close_matches(str(kind), KINDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if kind == "plateau":
        hint = (
            " (plateau adapts to metrics, so it is not a Schedule: use "
            "schedlab.policy_from_spec, which returns a schedlab.Plateau)"
        )
    return SpecError(f"unknown schedule kind {kind!r}{hint}; valid kinds: {', '.join(KINDS)}")


def _build(kind: Any, args: list, kwargs: dict) -> Schedule:
    if not isinstance(kind, str) or kind not in KINDS:
        raise _unknown_kind(kind)
    return KINDS[kind].make(*args, **kwargs)


def _mapping_parts(spec: Mapping) -> tuple[Any, list, dict]:
    if "kind" not in spec:
        raise SpecError(
            f"a schedule spec needs a 'kind' key (one of: {', '.join(KINDS)}), got keys "
            f"{sorted(map(str, spec))}"
        )
    params = {str(k): v for k, v in spec.items() if k != "kind"}
    return spec["kind"], [], params


def parse_spec(spec: Mapping | str) -> tuple[Any, list, dict]:
    """Split a dict, JSON/YAML or text spec into ``(kind, args, kwargs)`` without building it.

    Nested specs inside the arguments are built as schedules; the top-level kind is not checked.
    This lets other policies (``plateau``) share the spec language.
    """
    if isinstance(spec, Mapping):
        return _mapping_parts(spec)
    return _string_parts(spec)


def from_spec(spec: Any) -> Schedule:
    """Build a :class:`Schedule` from a spec.

    ``spec`` is a :class:`Schedule` (returned as is), a dict (``{"kind": "cosine", "lr": 0.1,
    "steps": 100}``, nested schedules as dicts or strings), or a string: JSON, YAML (needs PyYAML)
    or the text form ``"warmup(cosine(lr=0.1, steps=100), steps=10)"``.

    Raises :class:`~schedlab.errors.SpecError` (a ``ValueError``) naming the kind and the
    parameter for any invalid input.
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, (Mapping, str)):
        return _build(*parse_spec(spec))
    raise SpecError(
        f"a schedule spec must be a dict, a string or a Schedule, got {type(spec).__name__}: {spec!r}"
    )


def _string_parts(text: str) -> tuple[Any, list, dict]:
    body = text.strip()
    if not body:
        raise SpecError("empty schedule spec; expected e.g. 'cosine(lr=0.1, steps=100)'")
    if body[0] in "{[":
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            data = _load_yaml(body)
        return _document_parts(data)
    if body.replace("_", "a").isalnum() or ("(" in body and ":" not in body.partition("(")[0]):
        return parse_call(body)
    return _document_parts(_load_yaml(body))


def _document_parts(data: Any) -> tuple[Any, list, dict]:
    if not isinstance(data, Mapping):
        raise SpecError(f"a JSON/YAML schedule spec must be a mapping with a 'kind', got {data!r}")
    return _mapping_parts(data)


def _load_yaml(text: str) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise SpecError(
            "this spec is not JSON or the text form; YAML specs need PyYAML "
            "(pip install schedlab[yaml])"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SpecError(f"could not parse the schedule spec as YAML: {err}") from None


def parse_text(text: str) -> Schedule:
    """Parse the compact text form ``kind(arg, name=value, ...)`` into a :class:`Schedule`."""
    return _build(*parse_call(text))


def parse_call(text: str) -> tuple[str, list, dict]:
    """Parse the text form into ``(kind, args, kwargs)`` of its top-level call (not built)."""
    if len(text) > MAX_TEXT:
        raise SpecError(f"schedule spec text is too long ({len(text)} > {MAX_TEXT} characters)")
    body = text.strip()
    if body.replace("_", "a").isalnum() and not body[0].isdigit():
        body += "()"
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as err:
        where = f" at column {err.offset}" if err.offset else ""
        raise SpecError(f"cannot parse schedule spec {text!r}{where}: {err.msg}") from None
    except RecursionError:
        raise SpecError(f"schedule spec {text[:60]!r}... is nested too deeply") from None
    node = tree.body
    if not isinstance(node, ast.Call):
        raise SpecError(
            f"a schedule spec must be a call like 'cosine(lr=0.1, steps=100)', got {text!r}"
        )
    return _call_parts(node, text)


def _call_parts(node: ast.Call, text: str) -> tuple[str, list, dict]:
    if not isinstance(node.func, ast.Name):
        raise _unsupported(node, text)
    kind = node.func.id
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
        k.arg is None for k in node.keywords
    ):
        raise _unsupported(node, text)
    names = list(KINDS[kind].params) if kind in KINDS else []
    args = [
        _value(a, text, kind, names[i] if i < len(names) else f"argument {i + 1}")
        for i, a in enumerate(node.args)
    ]
    kwargs = {k.arg: _value(k.value, text, kind, k.arg) for k in node.keywords}
    return kind, args, kwargs


def _value(node: ast.AST, text: str, kind: str, name: str) -> Any:
    """The value of ``kind``'s parameter ``name`` (``name[i]`` inside a list) at ``node``."""
    if isinstance(node, ast.Call):
        return _build(*_call_parts(node, text))
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, (int, float, str))
    ):
        return node.value
    if isinstance(node, ast.Name) and node.id.lower() in _NAMES:
        return _NAMES[node.id.lower()]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) in (int, float)
    ):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e, text, kind, f"{name}[{i}]") for i, e in enumerate(node.elts)]
    snippet = ast.get_source_segment(text.strip(), node) or ast.dump(node)
    hint = f" (text must be quoted: '{snippet}')" if isinstance(node, ast.Name) else ""
    raise SpecError(
        f"{kind}: {name} must be a number, a quoted string, true/false/none, a list or a "
        f"kind(...) call, got {snippet} (column {node.col_offset + 1}){hint}"
    )


def _unsupported(node: ast.AST, text: str) -> SpecError:
    snippet = ast.get_source_segment(text.strip(), node) or ast.dump(node)
    return SpecError(
        f"unsupported value {snippet!r} in schedule spec (column {node.col_offset + 1}); "
        "allowed: numbers, quoted strings, true/false/none, lists and kind(...) calls"
    )
