"""The ``schedlab`` command: a thin shell over the layers (needs the ``lab`` extra).

Sub-commands live in small modules that each register theirs on :data:`app`:
``schedlab.cli.lab_commands`` (compare, runs, export), ``schedlab.cli.report_commands``
(plot, report, find-lr, check), ``schedlab.cli.reproduce_commands`` (reproduce) and
``schedlab.cli.search_commands`` (search).
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="schedlab",
    help="Pick, use and prove a learning-rate schedule.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Pick, use and prove a learning-rate schedule."""  # commands always by name, even alone


_COMMAND_MODULES = (
    "schedlab.cli.lab_commands",
    "schedlab.cli.report_commands",
    "schedlab.cli.reproduce_commands",
    "schedlab.cli.search_commands",
)


def _register() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name)


def main() -> None:
    """Entry point of the ``schedlab`` console script."""
    _register()
    app()
