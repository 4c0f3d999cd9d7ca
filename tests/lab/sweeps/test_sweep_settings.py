"""Comparison settings: config files, flag overrides, schedule and seed forms, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedlab.lab.sweeps import make_plan, split_label
from schedlab.lab.sweeps.settings import KEYS, build_settings, parse_seeds, read_config_file

#: the example configs of `schedlab compare` (search.yaml is `schedlab search`'s: tests/lab/searches)
EXAMPLES = sorted(
    p for p in (Path(__file__).resolve().parents[3] / "examples").glob("*.yaml")
    if p.name != "search.yaml"
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cos=cosine(lr=0.1, steps=10)", ("cos", "cosine(lr=0.1, steps=10)")),
        (
            "warm-up.2 = warmup(constant(0.1), steps=2)",
            ("warm-up.2", "warmup(constant(0.1), steps=2)"),
        ),
        ("cosine(lr=0.1, steps=10)", (None, "cosine(lr=0.1, steps=10)")),
        ('{"kind": "constant", "lr": 0.1}', (None, '{"kind": "constant", "lr": 0.1}')),
        ("a==b", (None, "a==b")),
    ],
)
def test_split_label(text, expected) -> None:
    assert split_label(text) == expected


def test_schedule_forms_and_overrides() -> None:
    file_values = {
        "dataset": "digits", "epochs": 4, "seeds": [3, 5],
        "schedules": [
            "constant(0.1)", "cos=cosine(0.1, 4)", {"kind": "step", "lr": 0.1, "step_size": 2},
            {"plat": "plateau(lr=0.1)"}, {"lin": {"kind": "linear", "start_lr": 0.1, "end_lr": 0, "steps": 4}},
        ],
    }  # fmt: skip
    s = build_settings(file_values, {"epochs": 2, "batch_size": None, "train-size": 100})
    assert s.config.epochs == 2 and s.config.batch_size == 64 and s.config.train_size == 100
    assert s.seeds == (3, 5) and s.store == "schedlab-runs.sqlite" and s.group_size == 16
    plan = make_plan(s.config, s.schedules, s.seeds)
    assert [label for label, _ in plan.schedules] == [
        "constant(0.1)", "cos", "step(lr=0.1, step_size=2, gamma=0.1)", "plat", "lin",
    ]  # fmt: skip
    mapping = build_settings({"schedules": {"a": "constant(0.1)", "b": "constant(0.2)"}}, {})
    assert [label for label, _ in mapping.schedules] == ["a", "b"]
    flags = build_settings(file_values, {"schedules": ["x=constant(1.0)"], "seeds": "4"})
    assert flags.schedules == (("x", "constant(1.0)"),) and flags.seeds == (0, 1, 2, 3)


def test_train_size_all_or_number() -> None:
    assert (
        build_settings({"schedules": ["constant(0.1)"]}, {"train_size": "all"}).config.train_size
        is None
    )
    assert (
        build_settings({"schedules": ["constant(0.1)"]}, {"train_size": "500"}).config.train_size
        == 500
    )
    with pytest.raises(
        ValueError, match="train_size must be a positive integer or 'all'; got 'many'"
    ):
        build_settings({"schedules": ["constant(0.1)"]}, {"train_size": "many"})


def test_linreg_defaults_to_its_model_and_loss() -> None:
    s = build_settings({"dataset": "linreg", "schedules": ["constant(0.01)"]}, {})
    assert (s.config.model, s.config.loss) == ("linear", "mse")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, (0, 1, 2)), ("2", (0, 1)), ("0,4,7", (0, 4, 7)), ([9, 1], (9, 1)), ("5,", (5,))],
)
def test_seed_forms(value, expected) -> None:
    assert parse_seeds(value) == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (0, "number of seeds must be >= 1; got 0"),
        ([1, 1], "seeds must be distinct; got \\[1, 1\\]"),
        ([1, -2], "list of distinct integers >= 0; got \\[1, -2\\]"),
        (True, "got True"),
        ("a,b", "got 'a,b'"),
    ],
)
def test_bad_seeds(value, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_seeds(value)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"epoch": 3}, "unknown key 'epoch'; valid keys: " + ", ".join(KEYS)),
        ({}, "no schedules; give --schedule SPEC"),
        ({"schedules": []}, "schedules must be a non-empty list"),
        ({"schedules": [3]}, "each item must be 'SPEC', 'label=SPEC'"),
        (
            {"schedules": ["constant(0.1)"], "epochs": "ten"},
            "epochs must be a positive integer; got 'ten'",
        ),
        (
            {"schedules": ["constant(0.1)"], "group_size": 0},
            "group_size must be an integer >= 1; got 0",
        ),
        ({"schedules": ["constant(0.1)"], "metric": "acc"}, "metric must be one of val_acc"),
        ({"schedules": ["constant(0.1)"], "target": "high"}, "target must be a number; got 'high'"),
        ({"schedules": ["constant(0.1)"], "store": 5}, "store must be a string; got 5"),
    ],
)
def test_bad_settings(values, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_settings(values, {})


def test_config_file_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        read_config_file(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1,\n")
    with pytest.raises(ValueError, match="is not valid YAML"):
        read_config_file(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must hold a mapping of keys; got list"):
        read_config_file(bad)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid_sweeps(path: Path) -> None:
    s = build_settings(read_config_file(path), {})
    plan = make_plan(s.config, s.schedules, s.seeds, s.name)
    assert len(plan.runs()) >= 6 and s.baseline in (None, *[label for label, _ in plan.schedules])


def test_quick_example_is_the_readme_job() -> None:
    s = build_settings(read_config_file(EXAMPLES[0].parent / "quick.yaml"), {})
    assert (s.config.dataset, s.config.model, len(s.schedules), len(s.seeds)) == (
        "mnist",
        "mlp",
        5,
        3,
    )
    steps = s.config.epochs * (
        s.config.train_size * (1 - s.config.val_fraction) // s.config.batch_size
    )
    assert steps == 1000  # the horizon the schedules are written for (unit: step)


def test_train_size_default_fits_each_dataset() -> None:
    def size(**values):
        return build_settings({"schedules": ["constant(0.1)"], **values}, {}).config.train_size

    assert size() == 10_000 and size(dataset="fashion-mnist") == 10_000
    assert size(dataset="digits") is None and size(dataset="linreg") is None  # all of them
    assert size(dataset="digits", train_size=300) == 300


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"engine": "stacked"}, "engine applies to the user's own model"),
        ({"metrics": {"f1": "m:f1"}, "workers": 2}, "metrics, workers apply to the user's own"),
        ({"data": "m:load"}, "data \\(the user's loader\\) needs the user's model too"),
        ({"optimizer": "torch.optim.AdamW"}, "needs the user's own model"),
        ({"loss": "torch.nn.functional.mse_loss"}, "needs the user's own model"),
        ({"model": "resnet"}, "model must be one of mlp, mlp2, cnn, vit, linear; got 'resnet'"),
        ({"seeds": [2**63]}, "seeds must be below 2\\*\\*63"),
        ({"seeds": 1001}, "a count is at most 1000"),
        ({"model": "m:f", "data": "m:d", "data_root": "x"}, "data_root applies to the built-in"),
        ({"model": "m:f", "data": "m:d", "model_kwargs": "{width:64}"}, "a space after each"),
        ({"model": "m:f", "data": "m:d", "model_kwargs": "[1]"}, "model_kwargs must be a map"),
        ({"model": "m:f", "data": "m:d", "metrics": ["f1"]}, "metrics items must be NAME=IMPO"),
        ({"model": "m:f"}, "is the user's model: give data:"),
    ],
)
def test_keys_that_do_not_apply_are_errors(values, match) -> None:
    with pytest.raises(ValueError, match=match):
        build_settings({"schedules": ["constant(0.1)"], **values}, {})


def test_non_utf8_config_names_the_file(tmp_path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ValueError, match=f"config: '{path}' is not UTF-8 text \\(byte 9"):
        read_config_file(path)
