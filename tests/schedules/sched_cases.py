"""Shared pieces of the schedule tests: hypothesis strategies that draw *valid* parameters for every
kind, and the promises each kind makes (value range, monotonicity, continuity points).

The promises are derived from the contract's table (docs/schedules.md), not from the implementation.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

import schedlab
from schedlab import Schedule

PROFILE = settings.get_profile("schedlab-schedules")
EPS = np.finfo(np.float64).eps

# --- building blocks ---------------------------------------------------------------------------

lrs = st.one_of(st.just(0.0), st.floats(1e-6, 10.0))
positive_lrs = st.floats(1e-4, 10.0)
step_counts = st.integers(1, 300)
counts = st.integers(0, 300)
gammas = st.floats(0.05, 1.0)  # decays; growth (gamma > 1) has its own test in test_tables.py
flags = st.booleans()


def increasing_ints(lo: int, hi: int, min_size: int = 1, max_size: int = 5):
    return st.lists(st.integers(lo, hi), min_size=min_size, max_size=max_size, unique=True).map(
        sorted
    )


def increasing_steps(min_size: int = 1, max_size: int = 5):
    """Strictly increasing step positions, a mix of integers and fractional steps."""
    point = st.one_of(st.integers(0, 400), st.floats(0.0, 400.0).map(lambda x: round(x, 3)))
    return (
        st.lists(point, min_size=min_size, max_size=max_size, unique_by=float)
        .map(lambda xs: sorted(xs, key=float))
        .filter(lambda xs: all(float(a) < float(b) for a, b in itertools.pairwise(xs)))
    )


@st.composite
def cyclic_params(draw):
    lo = draw(lrs)
    return schedlab.cyclic(
        min_lr=lo,
        max_lr=lo + draw(lrs),
        step_size_up=draw(st.integers(1, 60)),
        step_size_down=draw(st.one_of(st.none(), st.integers(1, 60))),
        mode=draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
        gamma=draw(st.floats(0.9, 1.0)),
    )


@st.composite
def wsd_params(draw):
    steps = draw(step_counts)
    decay_steps = draw(st.integers(0, steps))
    lr = draw(lrs)
    return schedlab.wsd(
        lr=lr,
        steps=steps,
        decay_steps=decay_steps,
        warmup_steps=draw(st.integers(0, steps - decay_steps)),
        decay=draw(st.sampled_from(["linear", "cosine", "1-sqrt"])),
        min_lr=lr * draw(st.floats(0.0, 1.0)),
    )


@st.composite
def hf_params(draw, name: str | None = None):
    """A Hugging Face name (``name``, or any) with valid arguments, its own optional ones
    sometimes given."""
    name = name or draw(st.sampled_from(list(HF_NAMES)))
    lr = draw(positive_lrs)
    total = draw(st.integers(2, 300))
    warm = 0 if name == "constant" else draw(st.integers(0, total - 1))
    maybe = lambda strategy: draw(st.one_of(st.none(), strategy))  # noqa: E731
    kw: dict = {}
    if name in ("cosine", "cosine_with_min_lr"):
        kw["num_cycles"] = maybe(st.floats(0.1, 3.0))
    if name == "cosine_with_restarts":
        kw["num_cycles"] = maybe(st.integers(1, 60))
    if name == "polynomial":
        kw["lr_end"] = maybe(st.floats(0.0, 0.99).map(lambda f: f * lr))
        kw["power"] = maybe(st.floats(0.1, 5.0))
    if name == "inverse_sqrt":
        kw["timescale"] = maybe(st.floats(0.5, 1e4))
    if name == "cosine_with_min_lr":
        frac = draw(st.floats(0.0, 1.0))
        if draw(st.booleans()):
            kw["min_lr"] = frac * lr
        else:
            kw["min_lr_rate"] = frac
    if name == "warmup_stable_decay":
        kw["num_decay_steps"] = draw(st.integers(0, total - warm))
        if draw(st.booleans()):
            kw["num_stable_steps"] = total - warm - kw["num_decay_steps"]
        kw["warmup_type"] = maybe(st.sampled_from(["linear", "cosine", "1-sqrt"]))
        kw["decay_type"] = maybe(st.sampled_from(["linear", "cosine", "1-sqrt"]))
        kw["min_lr_ratio"] = maybe(st.floats(0.0, 1.0))
        kw["num_cycles"] = maybe(st.floats(0.1, 3.0))
    kw = {k: v for k, v in kw.items() if v is not None}
    return schedlab.hf(name, lr, num_warmup_steps=warm, num_training_steps=total, **kw)


HF_NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "warmup_stable_decay",
)


@st.composite
def piecewise_constant_params(draw):
    boundaries = draw(increasing_steps())
    values = draw(st.lists(lrs, min_size=len(boundaries) + 1, max_size=len(boundaries) + 1))
    return schedlab.piecewise_constant(boundaries, values)


@st.composite
def piecewise_linear_params(draw):
    xs = draw(increasing_steps(max_size=6))
    return schedlab.piecewise_linear([[x, draw(lrs)] for x in xs])


LEAVES: dict[str, st.SearchStrategy[Schedule]] = {
    "constant": st.builds(schedlab.constant, lr=lrs),
    "step": st.builds(schedlab.step, lr=lrs, step_size=st.integers(1, 60), gamma=gammas),
    "multistep": st.builds(
        schedlab.multistep, lr=lrs, milestones=increasing_ints(0, 300), gamma=gammas
    ),
    "exponential": st.builds(
        schedlab.exponential, lr=lrs, gamma=gammas, every=st.integers(1, 60), staircase=flags
    ),
    "inverse_time": st.builds(
        schedlab.inverse_time,
        lr=lrs,
        decay_rate=st.floats(0.0, 5.0),
        every=st.integers(1, 60),
        staircase=flags,
    ),
    "polynomial": st.builds(
        schedlab.polynomial,
        lr=lrs,
        steps=step_counts,
        power=st.floats(0.1, 5.0),
        end_lr=lrs,
        cycle=flags,
    ),
    "linear": st.builds(schedlab.linear, start_lr=lrs, end_lr=lrs, steps=step_counts),
    "cosine": st.builds(schedlab.cosine, lr=lrs, steps=step_counts, min_lr=lrs),
    "cosine_restarts": st.builds(
        schedlab.cosine_restarts,
        lr=lrs,
        period=st.integers(1, 80),
        t_mult=st.one_of(st.integers(1, 3), st.floats(1.0, 3.0)),
        m_mul=st.floats(0.0, 1.0),
        min_lr=lrs,
    ),
    "cyclic": cyclic_params(),
    "one_cycle": st.builds(
        schedlab.one_cycle,
        max_lr=lrs,
        steps=st.integers(1, 400),
        pct_start=st.floats(0.0, 1.0),
        anneal=st.sampled_from(["cos", "linear"]),
        div_factor=st.floats(1.0, 100.0),
        final_div_factor=st.floats(1.0, 1e5),
        three_phase=flags,
    ),
    "wsd": wsd_params(),
    "inverse_sqrt": st.builds(
        schedlab.inverse_sqrt,
        lr=lrs,
        warmup_steps=counts,
        timescale=st.one_of(st.none(), st.floats(0.5, 1e4)),
    ),
    "piecewise_constant": piecewise_constant_params(),
    "piecewise_linear": piecewise_linear_params(),
}
leaves = st.one_of(*LEAVES.values())


@st.composite
def warmup_params(draw):
    inner = draw(leaves)
    shape = draw(st.sampled_from(["linear", "exponential", "constant"]))
    if shape == "exponential" and inner(0) <= 0:
        shape = "linear"
    start = draw(positive_lrs if shape == "exponential" else lrs)
    return schedlab.warmup(inner, steps=draw(counts), start_lr=start, shape=shape)


@st.composite
def sequence_params(draw):
    parts = draw(st.lists(leaves, min_size=1, max_size=4))
    edges = draw(increasing_steps(min_size=len(parts) - 1, max_size=len(parts) - 1))
    return schedlab.sequence(parts, edges)


KINDS: dict[str, st.SearchStrategy[Schedule]] = {
    **LEAVES,
    "warmup": warmup_params(),
    "sequence": sequence_params(),
    "scale": st.builds(schedlab.scale, leaves, st.one_of(lrs, leaves)),
    "hf": hf_params(),
    "schedule_free": st.builds(schedlab.schedule_free, leaves, st.floats(0, 3), st.floats(0, 3)),
}
schedules = st.one_of(*KINDS.values())

# Steps where things happen, and steps anywhere.
any_steps = st.one_of(
    st.integers(0, 1500), st.floats(0.0, 1500.0), st.sampled_from([0, 1, 10**6, 10**12])
)


# --- what each kind promises -------------------------------------------------------------------


def bounds(s: Schedule) -> tuple[float, float]:
    """The closed range ``[lo, hi]`` every value of ``s`` lies in, from the contract's formulas."""
    k, q = s.kind, s.params
    if k == "constant":
        return q["lr"], q["lr"]
    if k in ("step", "multistep", "exponential"):
        return (0.0, q["lr"]) if q["gamma"] <= 1 else (q["lr"], math.inf)
    if k == "inverse_time":
        return 0.0, q["lr"]
    if k in ("polynomial", "cosine"):
        other = q["end_lr"] if k == "polynomial" else q["min_lr"]
        return min(q["lr"], other), max(q["lr"], other)
    if k == "linear":
        return min(q["start_lr"], q["end_lr"]), max(q["start_lr"], q["end_lr"])
    if k == "cosine_restarts":
        return min(q["lr"], q["min_lr"]), max(q["lr"], q["min_lr"])  # m_mul <= 1 here
    if k == "cyclic":
        grows = q["mode"] == "exp_range" and q["gamma"] > 1
        return q["min_lr"], math.inf if grows else q["max_lr"]
    if k == "one_cycle":
        initial = q["max_lr"] / q["div_factor"]
        levels = (q["max_lr"], initial, initial / q["final_div_factor"])
        return min(levels), max(levels)
    if k == "wsd":
        return q["min_lr"], q["lr"]
    if k == "inverse_sqrt":
        return 0.0, q["lr"]
    if k == "piecewise_constant":
        return min(q["values"]), max(q["values"])
    if k == "piecewise_linear":
        return min(v for _, v in q["points"]), max(v for _, v in q["points"])
    if k == "warmup":
        lo, hi = bounds(q["schedule"])
        return min(lo, q["start_lr"]), max(hi, q["start_lr"])
    if k == "sequence":
        parts = [bounds(part) for part in q["schedules"]]
        return min(lo for lo, _ in parts), max(hi for _, hi in parts)
    if k == "scale":
        lo, hi = bounds(q["schedule"])
        by = q["by"]
        f_lo, f_hi = bounds(by) if isinstance(by, Schedule) else (by, by)
        return lo * f_lo, (0.0 if hi == 0 or f_hi == 0 else hi * f_hi)
    if k == "hf":
        if q["name"] == "constant":
            return q["lr"], q["lr"]
        if q["name"] == "warmup_stable_decay":
            return q["lr"] * q.get("min_lr_ratio", 0.0), q["lr"]
        return 0.0, q["lr"]  # a warmup from 0 to lr, then a decay from lr
    if k == "schedule_free":
        return bounds(q["schedule"])
    raise AssertionError(f"no bounds for kind {k!r}")


#: Hugging Face names that decay monotonically after the warmup (cosines with num_cycles=0.5).
_HF_DECAYS = ("linear", "polynomial", "constant_with_warmup", "inverse_sqrt", "cosine",
              "cosine_with_min_lr")  # fmt: skip


def monotone(s: Schedule) -> tuple[float, int] | None:
    """``(t0, sign)`` when ``s`` is monotone from step ``t0`` on: -1 non-increasing, +1
    non-decreasing; ``None`` when the kind promises neither."""
    k, q = s.kind, s.params

    def sign(first: float, last: float) -> int:
        return -1 if first >= last else 1

    if k == "constant":
        return 0.0, -1
    if k in ("step", "multistep", "exponential"):
        return 0.0, -1 if q["gamma"] <= 1 else 1
    if k == "inverse_time":
        return 0.0, -1
    if k == "polynomial" and not q["cycle"]:
        return 0.0, sign(q["lr"], q["end_lr"])
    if k == "linear":
        return 0.0, sign(q["start_lr"], q["end_lr"])
    if k == "cosine":
        return 0.0, sign(q["lr"], q["min_lr"])
    if k == "wsd":
        return float(q["warmup_steps"]), -1
    if k == "inverse_sqrt":
        return float(q["warmup_steps"]), -1
    if k == "hf" and q["name"] in _HF_DECAYS and q.get("num_cycles", 0.5) == 0.5:
        return float(q["num_warmup_steps"]), -1
    if k == "schedule_free":
        return monotone(q["schedule"])
    if k == "piecewise_constant" and q["values"] == sorted(q["values"]):
        return 0.0, 1
    if k == "piecewise_constant" and q["values"] == sorted(q["values"], reverse=True):
        return 0.0, -1
    return None


def continuous_at(s: Schedule) -> list[float]:
    """Steps ``b`` where the contract's definition makes ``s`` continuous (left limit == s(b))."""
    k, q = s.kind, s.params
    if k in ("linear", "cosine") or (k == "polynomial" and not q["cycle"]):
        return [float(q["steps"])]
    if k == "warmup" and q["steps"] > 0 and q["shape"] != "constant":
        return [float(q["steps"])]
    if k == "wsd":
        # Without a decay the rate drops to min_lr at ``steps``: a jump by definition (as in HF).
        decays = (q["steps"] - q["decay_steps"], q["steps"]) if q["decay_steps"] else ()
        ramp = (q["warmup_steps"],) if q["warmup_steps"] < q["steps"] or decays else ()
        return sorted({float(e) for e in (*ramp, *decays) if e > 0})
    if k == "inverse_sqrt" and q["warmup_steps"] > 0:
        return [float(q["warmup_steps"])]
    if k == "one_cycle":
        return [float(q["steps"] - 1) / 2]
    if k == "piecewise_linear":
        return [float(x) for x, _ in q["points"] if x > 0]
    if k == "cyclic":
        return [float(q["step_size_up"])]
    if k == "hf" and q["name"] not in ("constant", "warmup_stable_decay"):
        # The ramp ends at lr, where every decay starts; the decays end where they hold.
        warm = [float(q["num_warmup_steps"])] if q["num_warmup_steps"] else []
        ends = q["name"] in ("linear", "polynomial", "cosine", "cosine_with_min_lr")
        return warm + ([float(q["num_training_steps"])] if ends else [])
    if k == "schedule_free":
        return continuous_at(q["schedule"])
    return []
