"""The house rules of the source tree (docs/architecture.md): imports go only downward, and no
two modules import each other.  Every ``import`` statement counts, inside functions too (for the
cycles, not those under ``if TYPE_CHECKING:``, which never run)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: rank of each part: a module may import parts of lower or equal rank only (equal: same room)
RANKS: dict[str, int] = {
    "schedlab.errors": 0,
    "schedlab.validate": 0,
    "schedlab.schedules": 1,
    "schedlab.adapters": 2,
    "schedlab.lab.data": 30,
    "schedlab.lab.train": 31,
    "schedlab.lab.runs": 32,
    "schedlab.lab.analysis": 33,
    "schedlab.lab.sweeps": 34,
    "schedlab.lab.searches": 35,
    "schedlab.lab.experiments": 36,
    "schedlab.lab": 37,  # the lab package (its __init__ and entry points): uses its rooms
    "schedlab.report": 40,
    "schedlab.integrations": 41,
    "schedlab.cli": 50,
}
#: the documented exceptions: (importing module, imported module) -> why
ALLOWED: dict[tuple[str, str], str] = {
    ("schedlab.lab.sweeps.compare", "schedlab.report.html"): (
        "Comparison.report() writes the HTML report when asked (the SPEC's result.report())"
    ),
    ("schedlab.lab.searches.search", "schedlab.report.search"): (
        "SearchResult.report() writes the search report when asked, as Comparison.report() does"
    ),
}
FACADES = {"schedlab"}
#: cycles being taken apart in other branches (to be emptied)
KNOWN_CYCLES = {
    ("schedlab.adapters.interop_keras", "schedlab.adapters.keras"),
    ("schedlab.schedules.base", "schedlab.schedules.spec"),
}  # the root package: public names of every layer, imported lazily


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "schedlab").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (for annotations, never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _imports(name: str, path: Path, runtime_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_blocks(tree) if runtime_only else set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {m for m in found if m == "schedlab" or m.startswith("schedlab.")}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}
RUNTIME = {name: _imports(name, path, runtime_only=True) for name, path in MODULES.items()}


def _rank(module: str) -> int | None:
    for prefix in sorted(RANKS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return RANKS[prefix]
    return None


def test_every_module_has_a_rank() -> None:
    missing = [m for m in MODULES if m not in FACADES and _rank(m) is None]
    assert not missing, f"give these modules a place in RANKS: {missing}"


def test_imports_go_only_downward() -> None:
    upward = []
    for module, imported in GRAPH.items():
        if module in FACADES:
            continue
        for target in sorted(imported):
            low, high = _rank(module), _rank(target)
            if target in FACADES or high is None or (module, target) in ALLOWED:
                continue
            if high > low:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports upward:\n  " + "\n  ".join(upward)


def test_no_two_modules_import_each_other() -> None:
    pairs = [
        (a, b)
        for a, b in itertools.combinations(sorted(GRAPH), 2)
        if b in RUNTIME[a] and a in RUNTIME[b] and not (a in b or b in a)
    ]
    assert not pairs, f"modules importing each other: {pairs}"


@pytest.mark.parametrize("pair", sorted(ALLOWED))
def test_documented_exceptions_exist(pair: tuple[str, str]) -> None:
    assert pair[1] in GRAPH[pair[0]], f"{pair} no longer happens: drop it from ALLOWED"
