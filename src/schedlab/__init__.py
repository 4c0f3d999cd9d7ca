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
    sequence,
    step,
    warmup,
    wsd,
)

__version__ = "0.1.0"

__all__ = [
    "Schedule",
    "__version__",
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
    "piecewise_constant",
    "piecewise_linear",
    "polynomial",
    "scale",
    "sequence",
    "step",
    "warmup",
    "wsd",
]
