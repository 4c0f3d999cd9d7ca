"""Searches: find the schedule -- families with free parameters, successive halving over
(family x peak rate x seed) in batched rungs, Optuna's samplers, pruners and storage.

- :mod:`~schedlab.lab.searches.families`: family templates (``cosine(lr=?, steps=E)``) and ranges;
- :mod:`~schedlab.lab.searches.rungs`: rung budgets, brackets, the equal-footing rule and forks;
- :mod:`~schedlab.lab.searches.study`: the Optuna studies, samplers and pruners;
- :mod:`~schedlab.lab.searches.training`: stored runs trained part of the way, and forked;
- :mod:`~schedlab.lab.searches.search`: :func:`run_search` and :class:`SearchResult`;
- :mod:`~schedlab.lab.searches.contenders`: ready-made families (``modern``);
- :mod:`~schedlab.lab.searches.settings`: a search's settings from a config file and flags.

Importing this package loads numpy only; Optuna and torch when a search runs.
"""

from schedlab.lab.searches.families import Family, Range, parse_families, parse_family, parse_range

__all__ = ["Family", "Range", "parse_families", "parse_family", "parse_range"]
