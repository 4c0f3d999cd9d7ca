"""Layer 1: pure, framework-free learning-rate schedules (numpy only)."""

from schedlab.schedules.base import KINDS, Schedule
from schedlab.schedules.composition import scale, sequence
from schedlab.schedules.cycles import cosine_restarts, cyclic, one_cycle
from schedlab.schedules.decays import (
    constant,
    cosine,
    exponential,
    inverse_time,
    linear,
    multistep,
    piecewise_constant,
    piecewise_linear,
    polynomial,
    step,
)
from schedlab.schedules.spec import from_spec, kinds, parse_text
from schedlab.schedules.warmups import inverse_sqrt, warmup, wsd

# The registry lists the kinds in the contract's order (imports above are sorted by module).
_ORDER = [
    "constant",
    "step",
    "multistep",
    "exponential",
    "inverse_time",
    "polynomial",
    "linear",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "one_cycle",
    "warmup",
    "wsd",
    "inverse_sqrt",
    "piecewise_constant",
    "piecewise_linear",
    "sequence",
    "scale",
]
for _name in sorted(KINDS, key=_ORDER.index):
    KINDS[_name] = KINDS.pop(_name)

__all__ = [
    "KINDS",
    "Schedule",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "from_spec",
    "inverse_sqrt",
    "inverse_time",
    "kinds",
    "linear",
    "multistep",
    "one_cycle",
    "parse_text",
    "piecewise_constant",
    "piecewise_linear",
    "polynomial",
    "scale",
    "sequence",
    "step",
    "warmup",
    "wsd",
]
