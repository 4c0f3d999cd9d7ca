"""The contract every kind keeps (docs/schedules.md, the product contract), checked by ONE
property test parametrized over all kinds, with valid parameters drawn per kind (sched_cases.KINDS).
"""

from __future__ import annotations

import inspect
import json
import math
import pickle

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sched_cases import EPS, KINDS, PROFILE, any_steps, bounds, continuous_at, monotone

import schedlab
from schedlab import Schedule, from_spec
from schedlab.errors import SpecError
from schedlab.schedules import kind_info
from schedlab.schedules.checks import kinds_in
from schedlab.schedules.params import Role

INVALID_STEPS = [
    -1,
    -0.5,
    -1e-300,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    np.bool_(True),
    np.array([True, False]),
    np.array([0.0, -1.0]),
    np.array([[1.0, math.nan]]),
    np.array([math.inf]),
    np.float64(-2.0),
    np.int64(-3),
    "5",
    None,
    10**400,
]


def test_huge_steps_are_accepted_or_refused_alike_in_every_container():
    s = schedlab.cosine(0.1, steps=100, min_lr=0.01)
    big = 2**70  # beyond int64: numpy keeps a list of them as objects
    assert s(big) == s([big])[0] == s(np.array([big, 1], dtype=object))[0] == s(float(big)) == 0.01
    assert s([big, 50]).dtype == np.float64 and s([[big], [0]]).shape == (2, 1)
    assert s(np.uint64(2**64 - 1)) == 0.01
    huge = 10**400  # beyond float64: refused as a scalar and in a list, shown as given
    for bad, shown in [(huge, huge), ([huge], huge), ([1, huge], huge), (-big, -big),
                       ([-big], -big), (np.array([3, -big], dtype=object), -big)]:  # fmt: skip
        with pytest.raises(SpecError, match=f"step must be a finite number >= 0, got {shown}$"):
            s(bad)
    with pytest.raises(SpecError, match="step must be a number or an array of numbers"):
        s([1, "2"])


def test_strategies_cover_every_kind():
    assert set(KINDS) == set(schedlab.kinds())


def _close(a: np.ndarray, b: np.ndarray, scale: float) -> bool:
    return bool(np.all(np.abs(a - b) <= 4 * EPS * np.maximum(np.abs(b), scale)))


def check_values(s: Schedule, grid: np.ndarray) -> np.ndarray:
    values = s(grid)
    assert isinstance(values, np.ndarray)
    assert values.dtype == np.float64 and values.shape == grid.shape
    lo, hi = bounds(s)
    # Finite wherever the kind is bounded; growing kinds (gamma > 1) may overflow to inf, never NaN.
    assert np.all(np.isfinite(values) if math.isfinite(hi) else ~np.isnan(values)), s
    assert np.all(values >= 0), (s, grid[values < 0])
    top = hi if math.isfinite(hi) else float(values.max())
    slack = 8 * EPS * max(abs(lo), top, 1e-300)
    assert np.all(values >= lo - slack), (s, lo, values.min())
    assert np.all(values <= hi + slack), (s, hi, values.max())
    return values


def check_monotone(s: Schedule, grid: np.ndarray, values: np.ndarray) -> None:
    promise = monotone(s)
    if promise is None:
        return
    t0, sign = promise
    order = np.argsort(grid, kind="stable")
    keep = grid[order] >= t0
    seq = values[order][keep]
    slack = 8 * EPS * float(np.max(np.abs(seq), initial=0.0))
    assert np.all(sign * np.diff(seq) >= -slack), (s, sign)


def check_continuity(s: Schedule) -> None:
    """At each promised point the gap to the left neighbour shrinks with the distance (a jump would
    keep it); powers down to 0.1 shrink it at least 4-fold over six decades of distance."""
    lo, _hi = bounds(s)
    for b in continuous_at(s):
        if b <= 0:
            continue
        at = s(b)
        near, far = (abs(s(b - d * min(1.0, b)) - at) for d in (1e-9, 1e-3))
        assert near <= 0.5 * far + 16 * EPS * max(abs(at), lo), (s, b, near, far)
    if s.kind == "sequence":
        parts, edges = s.params["schedules"], s.params["boundaries"]
        starts = [0.0, *map(float, edges)]
        for i, edge in enumerate(map(float, edges)):
            before = edge - 1e-6 if edge - 1e-6 >= starts[i] else None
            if before is not None:
                assert s(before) == parts[i](before - starts[i])
            assert s(edge) == parts[i + 1](0.0)


def check_round_trips(s: Schedule, grid: np.ndarray, values: np.ndarray) -> None:
    spec = s.spec()
    json.dumps(spec)  # JSON-serializable
    copies = {
        "dict": from_spec(spec),
        "json": from_spec(json.dumps(spec)),
        "yaml": from_spec(yaml.safe_dump(spec)),
        "text": from_spec(repr(s)),
        "pickle": pickle.loads(pickle.dumps(s)),
    }
    for how, copy in copies.items():
        assert copy == s, (how, s, copy)
        assert hash(copy) == hash(s)
        assert copy.spec() == spec
        np.testing.assert_array_equal(copy(grid), values, err_msg=how)


def check_inputs(s: Schedule, grid: np.ndarray, values: np.ndarray) -> None:
    scale = float(np.max(values, initial=0.0))
    for t, v in list(zip(grid.tolist(), values.tolist(), strict=False))[:12]:
        got = s(t)
        assert type(got) is float
        assert _close(np.array(got), np.array(v), scale), (s, t, got, v)
        for form in (np.float64(t), np.array(t), np.array(t, dtype=np.float32)):
            if float(form) == t:
                assert s(form) == got, (s, form)
        if float(t).is_integer():
            for form in (int(t), np.int64(t), np.array(int(t)), np.uint32(t) if t < 2**32 else t):
                assert s(form) == got, (s, form)
    square = grid[: (grid.size // 2) * 2].reshape(2, -1)
    out = s(square)
    assert out.dtype == np.float64 and out.shape == square.shape
    np.testing.assert_array_equal(out, values[: square.size].reshape(2, -1))
    assert s(grid.tolist()).shape == grid.shape
    empty = s(np.zeros((0, 3)))
    assert empty.shape == (0, 3) and empty.dtype == np.float64
    giant = s(10**12)
    assert giant >= 0 and (math.isfinite(giant) or math.isinf(bounds(s)[1]))
    assert s(np.array([10**12, 10**12], dtype=np.int64))[0] == giant
    for bad in INVALID_STEPS:
        with pytest.raises(ValueError, match="step"):
            s(bad)


@pytest.mark.parametrize("kind", schedlab.kinds())
@PROFILE
@given(data=st.data())
def test_kind_contract(kind: str, data: st.DataObject) -> None:
    s = data.draw(KINDS[kind], label="schedule")
    drawn = data.draw(st.lists(any_steps, min_size=2, max_size=30), label="steps")
    edges = [b + d for b in continuous_at(s) for d in (-1.0, 0.0, 1.0) if b + d >= 0]
    grid = np.array(drawn + edges + list(range(0, 420, 3)), dtype=np.float64)
    values = check_values(s, grid)
    check_monotone(s, grid, values)
    check_continuity(s)
    check_inputs(s, grid, values)
    check_round_trips(s, grid, values)
    assert s.kind == kind and schedlab.from_spec({"kind": kind, **s.spec()}) == s


#: What a parameter's name says it is (SPEC's glossary), against the role its kind declares.
STEP_COUNTS = {"steps", "period", "every", "step_size", "step_size_up", "step_size_down"}


def _named_role(name: str) -> set[Role]:
    if name == "lr" or name.endswith("_lr") or name.startswith("lr_"):
        return {Role.LR, Role.FLOOR_LR}
    if name in STEP_COUNTS or name.endswith("_steps"):
        return {Role.STEPS, Role.COUNT}
    return {
        "timescale": {Role.DURATION},
        "milestones": {Role.STEP_LIST},
        "boundaries": {Role.STEP_LIST},
        "points": {Role.POINTS},
        "values": {Role.LR_LIST},
        "schedule": {Role.SCHEDULE},
        "schedules": {Role.SCHEDULES},
        "by": {Role.SCHEDULE_OR_FACTOR},
    }.get(name, set(Role) - {Role.LR, Role.FLOOR_LR, Role.STEPS, Role.COUNT, Role.STEP_LIST})


@pytest.mark.parametrize("kind", schedlab.kinds())
def test_every_parameter_declares_the_role_its_name_says(kind):
    params = kind_info(kind).params
    assert list(params) == list(inspect.signature(kind_info(kind).make).parameters)
    for p in params.values():
        assert p.role in _named_role(p.name), (kind, p.name, p.role)
    floors = [p.name for p in params.values() if p.role is Role.FLOOR_LR]
    assert set(floors) <= {"min_lr", "end_lr", "lr_end"}, floors


@pytest.mark.parametrize("kind", schedlab.kinds())
@PROFILE
@given(data=st.data())
def test_a_schedule_is_at_its_end_after_its_horizon(kind, data):
    """The registered horizon is where the schedule ends, for every kind that ends: past it
    the value never changes (periodic kinds: one cycle; scale: the longest known part)."""
    s = data.draw(KINDS[kind], label="schedule")
    h = s.horizon
    if h is None or kind == "scale" or any(kind_info(k).periodic for k in kinds_in(s)):
        return
    if kind == "hf" and s.params["name"] == "inverse_sqrt":
        return  # its num_training_steps records the run length; the decay goes on
    after = s(np.array([h + 1e-9, h + 1, h + 7.5, 2 * h + 3, 10 * h + 1, 10**9]))
    assert np.all(np.abs(after - after[0]) <= 4 * EPS * abs(after[0])), (s, h, after)
