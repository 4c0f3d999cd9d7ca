"""schedlab.from_keras: the schedlab schedule equals the real Keras schedule (float64)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

keras = pytest.importorskip("keras")

import schedlab  # noqa: E402
from schedlab.adapters.keras import KerasSchedule  # noqa: E402

S = keras.optimizers.schedules
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
STEPS = np.arange(0, 160)


@pytest.fixture(scope="module", autouse=True)
def keras_float64():
    """Keras schedules computed in float64 (the contract's reference precision), then restored."""
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(previous)


def keras_values(schedule, steps=STEPS) -> np.ndarray:
    # One call per step: CosineDecay's warmup uses ops.cond and PiecewiseConstantDecay sums
    # scalars, so neither takes a vector of steps.
    values = np.array([float(keras.ops.convert_to_numpy(schedule(int(t)))) for t in steps])
    assert values.dtype == np.float64
    return values


def assert_matches_keras(keras_schedule, steps=STEPS) -> schedlab.Schedule:
    ours = schedlab.from_keras(keras_schedule)
    want, got = keras_values(keras_schedule, steps), ours(steps)
    scale = float(np.max(np.abs(want), initial=0.0))
    # 1e-12 relative wherever the value exceeds 1e-6 of the peak (Keras' textbook (1 + cos)/2
    # loses relative precision as a cosine reaches 0); an absolute 1e-18 * peak below that.
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-18 * scale)
    return ours


CASES = [
    S.ExponentialDecay(0.1, 7, 0.9),
    S.ExponentialDecay(0.1, 7, 0.9, staircase=True),
    S.ExponentialDecay(0.05, 3.0, 1.2),  # a float step count that is whole: kept exactly
    S.InverseTimeDecay(0.1, 5, 0.5),
    S.InverseTimeDecay(0.1, 5, 0.5, staircase=True),
    S.PolynomialDecay(0.1, 50),
    S.PolynomialDecay(0.1, 50, 0.001, 2.0),
    S.PolynomialDecay(0.1, 30, 0.01, 0.5, cycle=True),
    S.CosineDecay(0.1, 60),
    S.CosineDecay(0.1, 60, alpha=0.01),
    S.CosineDecay(0.01, 60, alpha=0.1, warmup_target=0.1, warmup_steps=10),
    S.CosineDecay(0.0, 40, warmup_target=0.2, warmup_steps=25),
    S.CosineDecay(0.01, 60, warmup_target=0.1, warmup_steps=0),
    S.CosineDecay(0.1, 60, warmup_steps=30),  # warmup_steps without warmup_target: no warmup
    S.CosineDecayRestarts(0.1, 10, t_mul=1.0),
    S.CosineDecayRestarts(0.1, 10),
    S.CosineDecayRestarts(0.1, 8, 1.5, 0.8, 0.05),
    S.PiecewiseConstantDecay([10, 30], [0.1, 0.05, 0.01]),
    S.PiecewiseConstantDecay([0, 12.5], [0.3, 0.2, 0.1]),
]


@pytest.mark.parametrize("keras_schedule", CASES, ids=lambda s: type(s).__name__)
def test_matches_keras(keras_schedule):
    ours = assert_matches_keras(keras_schedule)
    # The serialized form (what optimizer configs and .keras files hold) gives the same schedule.
    assert schedlab.from_keras(S.serialize(keras_schedule)) == ours


def test_mapping_of_parameters():
    assert schedlab.from_keras(S.CosineDecayRestarts(0.2, 8, 1.5, 0.8, 0.25)) == (
        schedlab.cosine_restarts(lr=0.2, period=8, t_mult=1.5, m_mul=0.8, min_lr=0.05)
    )
    assert schedlab.from_keras(S.CosineDecay(0.0, 40, warmup_target=0.2, warmup_steps=25)) == (
        schedlab.warmup(schedlab.cosine(0.2, 40), steps=25, start_lr=0.0)
    )
    assert schedlab.from_keras(S.CosineDecay(0.1, 60, warmup_steps=30)) == schedlab.cosine(0.1, 60)
    assert schedlab.from_keras(S.PolynomialDecay(0.1, 50)).params["end_lr"] == 0.0001


def test_cosine_restart_starts_are_exact():
    """At cycle starts Keras' log-based cycle index can be one short (then it returns the end of
    the previous cycle); schedlab returns the restart value there, next to Keras everywhere else."""
    keras_schedule = S.CosineDecayRestarts(1.0, 3, t_mul=3.0, m_mul=0.5, alpha=0.0)
    starts = [3 * (3**i - 1) // 2 for i in range(5)]  # 0, 3, 12, 39, 120
    ours = schedlab.from_keras(keras_schedule)
    np.testing.assert_allclose(ours(np.array(starts)), 0.5 ** np.arange(5), rtol=1e-15)
    others = np.setdiff1d(np.arange(200), starts)
    assert_matches_keras(keras_schedule, others)


def _whole(lo: int, hi: int):
    return st.one_of(st.integers(lo, hi), st.integers(lo, hi).map(float))


rates = st.floats(1e-5, 1.0)
CONFIGS = st.one_of(
    st.builds(S.ExponentialDecay, rates, _whole(1, 50), st.floats(0.5, 1.0), st.booleans()),
    st.builds(S.InverseTimeDecay, rates, _whole(1, 50), st.floats(0.0, 3.0), st.booleans()),
    st.builds(
        S.PolynomialDecay, rates, _whole(1, 120), st.floats(0.0, 1e-3), st.floats(0.2, 4.0),
        st.booleans(),
    ),
    st.builds(
        S.CosineDecay, rates, _whole(1, 120), st.floats(0.0, 1.0),
        warmup_target=st.one_of(st.none(), rates), warmup_steps=st.integers(0, 60),
    ),
    st.builds(
        S.CosineDecayRestarts, rates, _whole(1, 40), st.sampled_from([1.0, 2.0, 4.0]),
        st.floats(0.3, 1.0), st.floats(0.0, 1.0),
    ),
    st.lists(st.integers(0, 150), min_size=1, max_size=4, unique=True).flatmap(
        lambda b: st.builds(
            S.PiecewiseConstantDecay, st.just(sorted(b)),
            st.lists(rates, min_size=len(b) + 1, max_size=len(b) + 1),
        )
    ),
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keras_schedule=CONFIGS)
def test_matches_keras_for_random_configs(keras_schedule):
    # Integer t_mul keeps the cycle starts exact in Keras too (see the test above for the rest).
    assert_matches_keras(keras_schedule, np.arange(0, 150, 3))


def test_keras_schedule_round_trips():
    s = schedlab.from_spec("warmup(cosine(0.1, 50), 5)")
    assert schedlab.from_keras(KerasSchedule(s)) == s
    assert schedlab.from_keras(S.serialize(KerasSchedule(s))) == s
    optimizer = keras.optimizers.SGD(learning_rate=KerasSchedule(s))
    assert schedlab.from_keras(optimizer.get_config()["learning_rate"]) == s


def test_from_keras_does_not_import_keras():
    code = (
        "import sys, schedlab\n"
        "s = schedlab.from_keras({'class_name': 'ExponentialDecay', 'config': "
        "{'initial_learning_rate': 0.1, 'decay_steps': 10, 'decay_rate': 0.5}})\n"
        "assert s == schedlab.exponential(0.1, 0.5, every=10), s\n"
        "assert 'keras' not in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


class Custom(S.LearningRateSchedule):
    def __call__(self, step):
        return 0.1


class Subclass(S.ExponentialDecay):
    def __call__(self, step):
        return 2 * super().__call__(step)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (Custom(), "no schedlab equivalent for Keras schedule '.*Custom'; supported: Exponential"),
        (Subclass(0.1, 10, 0.5), "no schedlab equivalent for Keras schedule '.*Subclass'"),
        ({"class_name": "Warmup", "config": {}}, "no schedlab equivalent for Keras schedule 'Warm"),
        (
            {"class_name": "CosineDecay", "config": {}, "registered_name": "mine>CosineDecay"},
            "no schedlab equivalent for Keras schedule 'mine>CosineDecay'",
        ),
        ({"initial_learning_rate": 0.1}, "must have 'class_name' and 'config' keys"),
        (0.1, "must be a keras.optimizers.schedules.LearningRateSchedule .*got 0.1"),
        (S.ExponentialDecay(0.1, 2.5, 0.5), "decay_steps must be a whole number .*got 2.5"),
        (S.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=1.5), "warmup_steps must be"),
        (
            S.CosineDecayRestarts(0.1, 10, t_mul=0.5),
            "CosineDecayRestarts: cosine_restarts: t_mult must be a finite number >= 1, got 0.5",
        ),
        (S.ExponentialDecay(-0.1, 10, 0.5), "ExponentialDecay: exponential: lr must be"),
        (S.PiecewiseConstantDecay([5, 3], [0.1, 0.2, 0.3]), "boundaries must be strictly"),
        (
            {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
             "decay_steps": 10, "decay_rate": 0.5, "offset": 3}},
            "ExponentialDecay has no schedlab equivalent for 'offset'; known config keys",
        ),
        (
            {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1}},
            "ExponentialDecay config is missing 'decay_steps', 'decay_rate'",
        ),
        (
            KerasSchedule("step(0.1, 3)", steps_per_epoch=10, unit="epoch"),
            "unit='epoch' has no step-wise schedlab equivalent",
        ),
    ],
    ids=lambda v: type(v).__name__,
)  # fmt: skip
def test_no_equivalent_is_a_clear_value_error(given, message):
    with pytest.raises(ValueError, match=message):
        schedlab.from_keras(given)
