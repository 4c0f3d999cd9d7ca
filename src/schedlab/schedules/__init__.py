"""Layer 1: pure, framework-free learning-rate schedules (numpy only)."""

# The kinds register in the order their modules are imported: the order of the contract's table
# (docs/schedules.md), which ``schedlab.kinds()`` lists.  Hence no sorting here.
# isort: off
from schedlab.schedules.base import KINDS, Kind, Schedule, kind_info
from schedlab.schedules.decays import (
    constant,
    step,
    multistep,
    exponential,
    inverse_time,
    polynomial,
    linear,
    cosine,
)
from schedlab.schedules.cycles import cosine_restarts, cyclic, one_cycle
from schedlab.schedules.warmups import warmup, wsd, inverse_sqrt
from schedlab.schedules.piecewise import piecewise_constant, piecewise_linear
from schedlab.schedules.composition import sequence, scale
from schedlab.schedules.hf import hf
from schedlab.schedules.schedule_free import schedule_free
from schedlab.schedules.spec import from_spec, kinds, parse_text

# isort: on

__all__ = [
    "KINDS",
    "Kind",
    "Schedule",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "from_spec",
    "hf",
    "inverse_sqrt",
    "inverse_time",
    "kind_info",
    "kinds",
    "linear",
    "multistep",
    "one_cycle",
    "parse_text",
    "piecewise_constant",
    "piecewise_linear",
    "polynomial",
    "scale",
    "schedule_free",
    "sequence",
    "step",
    "warmup",
    "wsd",
]
