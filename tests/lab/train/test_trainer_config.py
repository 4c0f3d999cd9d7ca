"""TrainConfig and Member: validation, serialization, stable hashes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedlab.lab.train.config import LOSSES, MODELS, OPTIMIZERS, UNITS, Member, TrainConfig

configs = st.builds(
    TrainConfig,
    dataset=st.sampled_from(["mnist", "fashion-mnist", "digits"]),
    model=st.sampled_from([m for m in MODELS if m != "linear"]),
    optimizer=st.just("sgd"),
    momentum=st.floats(0, 0.99),
    weight_decay=st.floats(0, 1),
    epochs=st.integers(1, 1000),
    batch_size=st.integers(1, 4096),
    train_size=st.none() | st.integers(1, 60_000),
    val_fraction=st.floats(0, 0.9),
    data_seed=st.integers(0, 2**32),
    unit=st.sampled_from(UNITS),
)


@settings(max_examples=50)
@given(configs)
def test_dict_round_trip_and_hash(config):
    d = config.to_dict()
    again = TrainConfig.from_dict(json.loads(json.dumps(d)))
    assert again == config and again.config_hash() == config.config_hash()
    assert len(config.config_hash()) == 64


def test_hash_is_stable_and_ignores_int_vs_float():
    # the hash of the default config is part of the run store's identity: it must never drift
    expected = "e1079cea6a2c727a216d49e220edb7d713be4acf07c8b1ae68ba36c4111e2d31"
    assert TrainConfig().config_hash() == expected
    assert TrainConfig(momentum=0, weight_decay=0).config_hash() == expected
    assert TrainConfig(epochs=11).config_hash() != expected


def test_choices_are_the_documented_ones():
    assert MODELS == ("mlp", "mlp2", "cnn", "vit", "linear")
    assert OPTIMIZERS == ("sgd", "adam") and LOSSES == ("cross_entropy", "mse")
    assert UNITS == ("epoch", "step")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "resnet"}, "model must be one of mlp, mlp2, cnn, vit, linear; got 'resnet'"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam; got 'rmsprop'"),
        ({"loss": "hinge"}, "loss must be one of cross_entropy, mse; got 'hinge'"),
        ({"unit": "epochs"}, "unit must be one of epoch, step; got 'epochs'"),
        ({"momentum": 1.0}, r"momentum must be a number in \[0, 1\); got 1.0"),
        ({"momentum": True}, r"momentum must be a number in \[0, 1\); got True"),
        ({"optimizer": "adam", "momentum": 0.9}, "momentum applies to optimizer 'sgd' only"),
        ({"weight_decay": -1}, "weight_decay must be a finite number >= 0; got -1"),
        ({"epochs": 0}, "epochs must be a positive integer; got 0"),
        ({"batch_size": 3.0}, "batch_size must be a positive integer; got 3.0"),
        ({"train_size": 0}, "train_size must be a positive integer or None; got 0"),
        ({"val_fraction": 1}, r"val_fraction must be a number in \[0, 1\); got 1"),
        ({"data_seed": -1}, "data_seed must be an integer >= 0; got -1"),
        ({"loss": "mse"}, "loss 'mse' needs model 'linear'"),
        ({"dataset": ""}, "dataset must be a non-empty string"),
    ],
)
def test_bad_values_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown keys 'lr'; valid keys: dataset, model"):
        TrainConfig.from_dict({"lr": 0.1})
    with pytest.raises(ValueError, match="expected a mapping; got list"):
        TrainConfig.from_dict([])


def test_member_validation():
    assert Member({"kind": "constant", "lr": 0.1}, 3).seed == 3
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\); got -1"):
        Member("constant(0.1)", -1)
    with pytest.raises(ValueError, match="seed must be an integer"):
        Member("constant(0.1)", True)
    with pytest.raises(
        ValueError, match="schedule must be a non-empty spec string or dict; got ''"
    ):
        Member("", 0)
