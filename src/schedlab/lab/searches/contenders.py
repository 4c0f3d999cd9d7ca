"""Ready-made families to search: ``--contenders modern``.

The *modern* contenders, each searched over its own peak rate (``ranges: lr``, default
``loguniform(1e-4, 1)``):

- ``constant``: ``constant(?)``;
- ``cosine10``: cosine decay to 10% of the peak, ``cosine(lr=?, steps=E, min_lr=0.1*lr)``;
- ``linear0``: linear decay to zero, ``linear(?, 0, E)`` (Bergsma et al. 2025);
- ``wsd``: warmup-stable-decay with a 20% ``1-sqrt`` cooldown (Hägele et al. 2024),
  ``wsd(lr=?, steps=E, decay_steps=0.2*E, decay="1-sqrt")``;
- ``warmup_cosine``: 5% linear warmup, then cosine to zero,
  ``warmup(cosine(lr=?, steps=E - round(0.05*E)), steps=0.05*E)``;
- ``schedule_free``: the schedule-free optimizer at a constant rate, the "no schedule" baseline
  (Defazio et al. 2024), ``schedule_free(constant(?))``.
"""

from __future__ import annotations

from schedlab.errors import ConfigError

CONTENDERS: dict[str, dict[str, str]] = {
    "modern": {
        "constant": "constant(?)",
        "cosine10": "cosine(lr=?, steps=E, min_lr=0.1*lr)",
        "linear0": "linear(?, 0, E)",
        "wsd": 'wsd(lr=?, steps=E, decay_steps=0.2*E, decay="1-sqrt")',
        "warmup_cosine": "warmup(cosine(lr=?, steps=E - round(0.05*E)), steps=0.05*E)",
        "schedule_free": "schedule_free(constant(?))",
    },
}
#: the range of the peak rate where none is given
DEFAULT_RANGES: dict[str, str] = {"lr": "loguniform(1e-4, 1)"}


def contenders(name: str) -> dict[str, str]:
    """The families of contender set ``name`` (``{label: template}``)."""
    if name not in CONTENDERS:
        raise ConfigError(f"contenders must be one of {', '.join(CONTENDERS)}; got {name!r}")
    return dict(CONTENDERS[name])
