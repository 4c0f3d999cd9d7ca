"""schedlab: learning-rate schedules that are exact, framework-free and proven on real training.

Layer 1 (this namespace): every schedule kind as a function returning a :class:`Schedule`, and
:func:`from_spec` for dicts, JSON/YAML and the text form ``"warmup(cosine(lr=0.1, steps=100), steps=10)"``.
Adapters (``schedlab.adapters``), the lab (``schedlab.lab``) and reports (``schedlab.report``) are
imported on demand so that this package needs numpy only.
"""

from schedlab.schedules import (
    Schedule,
    constant,
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    from_spec,
    hf,
    inverse_sqrt,
    inverse_time,
    kinds,
    linear,
    multistep,
    one_cycle,
    piecewise_constant,
    piecewise_linear,
    polynomial,
    scale,
    schedule_free,
    sequence,
    step,
    warmup,
    wsd,
)
from schedlab.schedules.plateau import Plateau, policy_from_spec

__version__ = "0.1.0"

__all__ = [
    "Plateau",
    "Schedule",
    "__version__",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "from_spec",
    "hf",
    "inverse_sqrt",
    "inverse_time",
    "kinds",
    "linear",
    "multistep",
    "one_cycle",
    "piecewise_constant",
    "piecewise_linear",
    "policy_from_spec",
    "polynomial",
    "scale",
    "schedule_free",
    "sequence",
    "step",
    "warmup",
    "wsd",
]


def __getattr__(name: str):  # lazy framework bridges: importing schedlab never imports torch
    if name == "from_torch":
        from schedlab.adapters.interop_torch import from_torch

        return from_torch
    if name == "from_keras":  # reads Keras configs without importing keras
        from schedlab.adapters.interop_keras import from_keras

        return from_keras
    raise AttributeError(f"module 'schedlab' has no attribute {name!r}")
