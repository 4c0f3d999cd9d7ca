"""Schedule families: spec templates with free parameters, and the ranges they are searched over.

A *family* is a schedule spec in the text form where some values are left open:

- ``?`` marks a free parameter, named after the parameter it stands for (``cosine(lr=?, ...)``
  and ``constant(?)`` free ``lr``; ``linear(?, 0, E)`` frees ``start_lr``; ``one_cycle(max_lr=?,
  ...)`` frees ``max_lr``); ``?name`` names it explicitly (two free rates in one family need
  two names);
- ``E`` is the length of the run in the schedule's unit (epochs, or optimizer steps with
  ``unit: step``), filled in for each budget the search trains at: ``steps=E``,
  ``decay_steps=0.2*E``;
- values may be arithmetic (``+ - * / // **``, parentheses, ``round floor ceil min max``) over
  numbers, ``E`` and the free parameters: ``cosine(lr=?, steps=E, min_lr=0.1*lr)``; a step count
  (``steps``, ``decay_steps``, ``milestones``, ...) is rounded to the nearest integer, halves up
  (at least 1 where the kind needs a positive count).  Parts that must add up to ``E`` are
  written so: ``warmup(cosine(lr=?, steps=E - round(0.05*E)), steps=0.05*E)``.

A *range* says where a free parameter is searched: ``loguniform(low, high)``, ``uniform(low,
high)``, ``int(low, high)``, ``logint(low, high)`` or ``choice(a, b, ...)`` (or a YAML list, a
choice).  A free parameter named ``name`` takes ``ranges[name]``; a free learning rate
(``start_lr``, ``max_lr``, ...) without a range of its own takes ``ranges["lr"]``.

>>> fam = parse_family("cos", "cosine(lr=?, steps=E, min_lr=0.1*lr)", {"lr": "loguniform(1e-3, 1)"})
>>> fam.spec({"lr": 0.5}, 100)
'cosine(lr=0.5, steps=100, min_lr=0.05)'
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schedlab.errors import ConfigError, SpecError
from schedlab.schedules.base import KINDS
from schedlab.schedules.params import LEARNING_RATES, Role
from schedlab.schedules.plateau import policy_from_spec
from schedlab.validate import is_finite_real

#: the name of the run's length in a family template
BUDGET = "E"
_FREE = "__free__"
_NAMED = re.compile(r"\?([A-Za-z_][A-Za-z0-9_]*)?")
_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}
_FUNCS = {
    "round": lambda x: math.floor(x + 0.5),
    "floor": math.floor,
    "ceil": math.ceil,
    "min": min,
    "max": max,
}
_WORDS = {"true": True, "false": False, "none": None, "null": None}
_INTEGER_ROLES = (Role.STEPS, Role.COUNT)
RANGE_KINDS = ("loguniform", "uniform", "int", "logint", "choice")
_RANGE_HELP = (
    "loguniform(low, high), uniform(low, high), int(low, high), logint(low, high) or "
    "choice(a, b, ...)"
)


# -- ranges ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """Where a free parameter is searched (see the module docstring)."""

    kind: str
    low: float = math.nan
    high: float = math.nan
    choices: tuple[Any, ...] = ()

    def __str__(self) -> str:
        if self.kind == "choice":
            return f"choice({', '.join(map(repr, self.choices))})"
        return f"{self.kind}({_num(self.low)}, {_num(self.high)})"

    @property
    def log(self) -> bool:
        return self.kind in ("loguniform", "logint")

    def distribution(self) -> Any:
        """The Optuna distribution of this range."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        if self.kind in ("int", "logint"):
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(self.low, self.high, log=self.log)

    def grid(self, n: int) -> list[Any]:
        """``n`` evenly spaced values (in log space for log ranges; every choice)."""
        if self.kind == "choice":
            return list(self.choices)
        if n == 1:
            points = [math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2]
        elif self.log:
            a, b = math.log(self.low), math.log(self.high)
            points = [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
        else:
            points = [self.low + (self.high - self.low) * i / (n - 1) for i in range(n)]
        if self.kind in ("int", "logint"):
            return sorted({round(p) for p in points})
        return [float(f"{p:.6g}") for p in points]

    def ends(self) -> list[Any]:
        """The values a family is checked at before training: both ends (every choice)."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def parse_range(name: str, value: Any) -> Range:
    """A :class:`Range` from its text (``"loguniform(1e-4, 1)"``) or a list (a choice);
    :class:`ConfigError` naming the parameter otherwise."""
    where = f"ranges: {name}"
    if isinstance(value, Range):
        return value
    if isinstance(value, (list, tuple)):
        return _choice(where, list(value))
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be {_RANGE_HELP}; got {value!r}")
    try:
        node = ast.parse(value.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigError(f"{where}: cannot parse {value!r}; write {_RANGE_HELP}") from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)) or node.keywords:
        raise ConfigError(f"{where}: {value!r} is not {_RANGE_HELP}")
    kind = node.func.id
    if kind not in RANGE_KINDS:
        raise ConfigError(f"{where}: unknown range {kind!r} in {value!r}; valid: {_RANGE_HELP}")
    try:
        args = [ast.literal_eval(a) for a in node.args]
    except ValueError:
        raise ConfigError(f"{where}: the bounds of {value!r} must be numbers") from None
    if kind == "choice":
        return _choice(where, args)
    if len(args) != 2 or not all(is_finite_real(a) for a in args):
        raise ConfigError(f"{where}: {kind} needs two finite numbers (low, high); got {value!r}")
    low, high = float(args[0]), float(args[1])
    if not low < high:
        raise ConfigError(f"{where}: {kind} needs low < high; got {value!r}")
    if kind in ("loguniform", "logint") and low <= 0:
        raise ConfigError(f"{where}: {kind} needs 0 < low < high; got {value!r}")
    if kind in ("int", "logint") and not (low.is_integer() and high.is_integer()):
        raise ConfigError(f"{where}: {kind} needs integer bounds; got {value!r}")
    return Range(kind, low, high)


def _choice(where: str, values: list[Any]) -> Range:
    if not values:
        raise ConfigError(f"{where}: choice needs at least one value")
    if not all(v is None or isinstance(v, (bool, int, float, str)) for v in values):
        raise ConfigError(f"{where}: choice values must be numbers, strings or booleans")
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"{where}: choice values must be distinct; got {values!r}")
    return Range("choice", choices=tuple(values))


# -- templates -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Free:
    """A free parameter: its name, the role of the parameter it stands for, its range."""

    name: str
    role: Role
    range: Range


@dataclass(frozen=True)
class _Call:
    kind: str
    params: tuple[tuple[str, Any], ...]  # name -> node: _Call, _Expr, _Value, list


@dataclass(frozen=True)
class _Expr:
    """An arithmetic value: ``node`` (an ast expression) in the names ``E`` and free parameters,
    for parameter ``name`` of ``role``."""

    text: str
    node: ast.AST
    role: Role


@dataclass(frozen=True)
class Family:
    """A schedule family: its ``label``, the ``template`` as written, the free parameters."""

    label: str
    template: str
    free: tuple[Free, ...]
    _root: _Call

    @property
    def names(self) -> tuple[str, ...]:
        """The free parameters' names, in the order they appear."""
        return tuple(f.name for f in self.free)

    def spec_dict(self, values: Mapping[str, Any], budget: int) -> dict[str, Any]:
        """The family member with free parameters ``values`` for a run of ``budget`` units, as
        a spec dict (not yet validated)."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ConfigError(f"family {self.label!r}: no value for {', '.join(missing)}")
        env = {BUDGET: budget, **{n: values[n] for n in self.names}}
        return _fill(self._root, env)

    def spec(self, values: Mapping[str, Any], budget: int) -> str:
        """The canonical text of the family member (its identity in the run store); a
        :class:`SpecError` naming the family when that member is not a valid schedule."""
        try:
            return repr(policy_from_spec(self.spec_dict(values, budget)))
        except ValueError as err:
            shown = ", ".join(f"{n}={_short(values[n])}" for n in self.names)
            raise SpecError(
                f"family {self.label!r} ({self.template}) at {shown}, {BUDGET}={budget}: {err}"
            ) from None

    def describe(self, values: Mapping[str, Any]) -> str:
        """``"lr=0.0316"``: the free parameters' values, short."""
        return ", ".join(f"{n}={_short(values[n])}" for n in self.names)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _mark_free(template: str) -> str:
    """``?`` -> ``__free__`` and ``?name`` -> ``__free__name`` outside quoted strings."""
    out, quote, i = [], "", 0
    while i < len(template):
        ch = template[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(template):
                out.append(template[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            match = _NAMED.match(template, i)
            assert match is not None
            out.append(_FREE + (match.group(1) or ""))
            i = match.end()
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, label: str, template: str) -> None:
        self.label, self.template = label, template
        self.free: list[tuple[str, Role]] = []
        self.refs: list[tuple[str, str]] = []  # (name used in an expression, where)
        self.source = template

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"family {self.label!r} ({self.template}): {message}")

    def call(self, node: ast.AST) -> _Call:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise self.fail("must be a schedule call like cosine(lr=?, steps=E)")
        kind = node.func.id
        if kind not in KINDS:
            raise self.fail(f"unknown schedule kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        if kind == "hf":
            raise self.fail("the hf kind cannot be a family (its parameters are per name)")
        params = list(KINDS[kind].params.values())
        if len(node.args) > len(params):
            raise self.fail(f"{kind} takes at most {len(params)} positional values")
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise self.fail("* and ** are not allowed")
        pairs: list[tuple[str, Any]] = []
        for param, arg in zip(params, node.args, strict=False):
            pairs.append((param.name, self.value(arg, kind, param.name, param.role)))
        known = {p.name: p for p in params}
        for kw in node.keywords:
            if kw.arg not in known:
                raise self.fail(f"{kind} has no parameter {kw.arg!r}; valid: {', '.join(known)}")
            if any(name == kw.arg for name, _ in pairs):
                raise self.fail(f"{kind}: {kw.arg} is given twice")
            pairs.append((kw.arg, self.value(kw.value, kind, kw.arg, known[kw.arg].role)))
        return _Call(kind, tuple(pairs))

    def value(self, node: ast.AST, kind: str, name: str, role: Role) -> Any:
        if isinstance(node, ast.Call) and not _is_function(node):
            return self.call(node)
        if isinstance(node, ast.Name) and node.id.startswith(_FREE):
            free = node.id[len(_FREE) :] or name
            if role in (Role.SCHEDULE, Role.SCHEDULES, Role.FLAG, Role.POINTS):
                raise self.fail(f"{kind}: {name} ({role.value}) cannot be a free parameter")
            if any(free == n for n, _ in self.free):
                raise self.fail(
                    f"two free parameters named {free!r}; name them apart: ?{free}1, ?{free}2"
                )
            if free == BUDGET:
                raise self.fail(
                    f"{BUDGET!r} is the run's length; give the free parameter another name"
                )
            self.free.append((free, role))
            return _Expr(free, ast.Name(id=free, ctx=ast.Load()), role)
        if isinstance(node, ast.Name) and node.id.lower() in _WORDS:
            return _WORDS[node.id.lower()]
        if isinstance(node, ast.Constant) and (
            node.value is None or isinstance(node.value, (int, float, str))
        ):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e, kind, f"{name}[{i}]", role) for i, e in enumerate(node.elts)]
        text = ast.get_source_segment(self.source, node) or ast.dump(node)
        self.check_expr(node, f"{kind}: {name}={text}")
        return _Expr(text, node, role)

    def check_expr(self, node: ast.AST, where: str) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            self.check_expr(node.left, where)
            self.check_expr(node.right, where)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self.check_expr(node.operand, where)
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            pass
        elif _is_function(node) and node.args and not node.keywords:  # type: ignore[attr-defined]
            for arg in node.args:  # type: ignore[attr-defined]
                self.check_expr(arg, where)
        elif isinstance(node, ast.Name):
            self.refs.append((node.id, where))
        else:
            raise self.fail(
                f"{where}: values are numbers, quoted strings, true/false/none, lists, kind(...) "
                f"calls, ? (free) or arithmetic over numbers, {BUDGET} and free parameters "
                f"({', '.join(_FUNCS)} allowed)"
            )


def _is_function(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS


def _evaluate(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Call):
        return _FUNCS[node.func.id](*(_evaluate(a, env) for a in node.args))  # type: ignore[attr-defined]
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, env)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    raise AssertionError(f"unexpected node {ast.dump(node)}")  # the parser refused it


def _fill(node: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(node, _Call):
        return {"kind": node.kind, **{name: _fill(v, env) for name, v in node.params}}
    if isinstance(node, list):
        return [_fill(v, env) for v in node]
    if isinstance(node, _Expr):
        value = _evaluate(node.node, env)
        counts = node.role in _INTEGER_ROLES or node.role is Role.STEP_LIST
        if counts and is_finite_real(value):
            raw, value = value, math.floor(value + 0.5)
            if node.role is Role.STEPS and value == 0 and raw > 0:
                value = 1  # a positive count that rounds to 0: the shortest one
        return value
    return node


def parse_family(label: str, template: str, ranges: Mapping[str, Any]) -> Family:
    """Parse ``template`` (see the module docstring) and attach each free parameter's range;
    :class:`ConfigError` naming the family for anything wrong."""
    if not isinstance(template, str) or not template.strip():
        raise ConfigError(f"family {label!r}: the template must be a spec text; got {template!r}")
    parser = _Parser(label, template.strip())
    marked = _mark_free(template.strip())
    parser.source = marked
    try:
        tree = ast.parse(marked, mode="eval")
    except SyntaxError as err:
        raise parser.fail(f"cannot parse it ({err.msg})") from None
    root = parser.call(tree.body)
    if not parser.free:
        raise parser.fail("no free parameter: mark one with ?, e.g. cosine(lr=?, steps=E)")
    names = [n for n, _ in parser.free]
    for ref, where in parser.refs:
        if ref != BUDGET and ref not in names:
            raise parser.fail(
                f"{where}: unknown name {ref!r}; use {BUDGET} (the run's length) or a free "
                f"parameter ({', '.join(names)})"
            )
    free = []
    for name, role in parser.free:
        value = ranges.get(name)
        if value is None and role in LEARNING_RATES:
            value = ranges.get("lr")
        if value is None:
            hint = " or 'lr'" if role in LEARNING_RATES else ""
            raise parser.fail(f"free parameter {name!r} has no range; add ranges: {name}{hint}")
        free.append(Free(name, role, parse_range(name, value)))
    return Family(label, template.strip(), tuple(free), root)


def parse_families(
    families: Any,
    ranges: Mapping[str, Any] | None,
    budgets: Sequence[int] = (),
    defaults: Mapping[str, Any] | None = None,
) -> tuple[Family, ...]:
    """Families from a list of ``"TEMPLATE"``/``"label=TEMPLATE"`` strings, ``{label:
    TEMPLATE}`` items or a ``{label: TEMPLATE}`` mapping (a template may also be a mapping
    ``{family: TEMPLATE, ranges: {...}}`` with ranges of its own), each checked at both ends of
    its ranges for every budget in ``budgets``; a range in ``ranges`` that no family uses is an
    error too (``defaults`` are ranges taken where none is given, e.g. the peak rate's)."""
    if ranges is not None and not isinstance(ranges, Mapping):
        raise ConfigError(f"ranges must map parameter names to ranges; got {ranges!r}")
    given = dict(ranges or {})
    ranges = {**dict(defaults or {}), **given}
    items = _items(families)
    out: list[Family] = []
    used: set[str] = set()
    for label, body in items:
        own = {}
        if isinstance(body, Mapping):
            unknown = sorted(set(body) - {"family", "ranges"})
            if unknown or "family" not in body:
                raise ConfigError(
                    f"family {label!r}: a mapping needs 'family' (the template) and may have "
                    f"'ranges'; got keys {sorted(body)}"
                )
            own = dict(body.get("ranges") or {})
            body = body["family"]
        fam = parse_family(label, body, {**ranges, **own})
        takes = {f.name if f.name in {**ranges, **own} else "lr" for f in fam.free}
        for name in own:
            if name not in takes:
                raise ConfigError(
                    f"family {label!r}: ranges: {name!r} is not one of its free parameters "
                    f"({', '.join(fam.names)})"
                )
        used |= {n for n in takes if n not in own}
        _check_members(fam, budgets)
        out.append(fam)
    labels = [f.label for f in out]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"families: each label must appear once; repeated: {', '.join(dupes)}")
    for name, value in ranges.items():
        parse_range(name, value)
        if name in given and name not in used:
            free = sorted({f.name for fam in out for f in fam.free})
            raise ConfigError(
                f"ranges: {name!r} is not a free parameter of any family (free: {', '.join(free)})"
            )
    return tuple(out)


def _items(families: Any) -> list[tuple[str, Any]]:
    if isinstance(families, Mapping):
        return [(str(k), v) for k, v in families.items()]
    if isinstance(families, str):
        families = [families]
    if not isinstance(families, Sequence) or not families:
        raise ConfigError(
            "families must be a non-empty list of templates ('cosine(lr=?, steps=E)' or "
            f"'label=TEMPLATE') or a {{label: TEMPLATE}} mapping; got {families!r}"
        )
    items = []
    for item in families:
        if isinstance(item, Mapping) and len(item) == 1:
            ((label, body),) = item.items()
            items.append((str(label), body))
        elif isinstance(item, str):
            items.append(_split(item))
        else:
            raise ConfigError(
                f"families: each item must be 'TEMPLATE', 'label=TEMPLATE' or {{label: "
                f"TEMPLATE}}; got {item!r}"
            )
    return items


_LABELLED = re.compile(r"^\s*([A-Za-z0-9_.+\-]+)\s*=(?!=)\s*(.+)$", re.DOTALL)


def _split(text: str) -> tuple[str, str]:
    match = _LABELLED.match(text)
    if match:
        return match.group(1), match.group(2).strip()
    head = text.strip().split("(", 1)[0].strip()
    return head or text.strip(), text.strip()


def _check_members(fam: Family, budgets: Sequence[int]) -> None:
    """Every combination of range ends, at every budget, must be a valid schedule."""
    corners: list[dict[str, Any]] = [{}]
    for f in fam.free:
        corners = [{**c, f.name: v} for c in corners for v in f.range.ends()][:64]
    for budget in budgets or (100,):
        for values in corners:
            fam.spec(values, int(budget))
