"""The rooms' import rules, as the packages' docstrings state them (bench/__init__.py and each room's
__init__.py): imports flow one way, `bench` -> `amplify` -> `model`, `data`, and inside bench `compare.py` ->
`experiments` -> `report` -> `grid/plan.py`, `stats`. The test reads every module's import statements with
`ast` (nothing is imported, so optional packages do not matter), those inside functions included, and checks
each import of a repository module against the importer's room."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "data", "amplify", "bench", "run")  # the repository's importable top-level names

# importer's room -> what it may import besides its own room (a module, or any module under that package)
ALLOWED = {
    "model": (),
    "data": (),
    "amplify": ("model", "data"),
    "run": ("amplify", "model", "data"),
    "bench": (),
    "bench.stats": (),
    "bench.grid": ("amplify", "model", "data"),
    "bench.report": ("bench.stats", "bench.grid.plan", "amplify.results"),
    # bench.presets is data that imports nothing: an experiment over other grids (fewshot-gain) reads their recipes
    "bench.experiments": ("bench.report", "bench.grid.plan", "bench.stats", "bench.presets", "amplify", "model",
                          "data"),
    "bench.presets": (),
    "bench.manifest": ("bench.presets", "amplify.results", "amplify.cli"),
    "bench.compare": ("bench.presets", "bench.experiments", "bench.report", "bench.grid", "bench.stats",
                      "amplify", "model", "data"),
    "bench.speed": ("amplify", "model", "data"),
    "bench.attention": ("bench.stats", "bench.report.plots", "amplify", "model", "data"),
    "bench.load_speed": (),  # shims: they run a bench.speed module by name (runpy)
    "bench.data_speed": (),
}


def room(module):
    """bench.report.tables -> bench.report; amplify.train -> amplify; bench.compare -> bench.compare."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bench" and len(parts) > 1 else parts[0]


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source):
    """The repository modules a source file imports: `import a.b` -> a.b; `from a.b import c` -> a.b.c (c may
    be a name in a.b, which the prefix rule treats alike). Relative imports stay in their package: skipped."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(line, name) for line, name in out if name.split(".")[0] in PACKAGES]


def violations(module, source):
    own = room(module)
    allowed = (own, *ALLOWED[own])
    return [(line, name) for line, name in imports(source)
            if not any(name == a or name.startswith(a + ".") for a in allowed)]


def sources():
    files = [ROOT / "run.py", *(f for p in PACKAGES[:-1] for f in sorted((ROOT / p).rglob("*.py")))]
    return [(module_name(f), f) for f in files]


def test_every_module_belongs_to_a_room_with_rules():
    found = {room(m) for m, _ in sources()}
    assert found == set(ALLOWED), (f"rooms without rules: {found - set(ALLOWED)}; "
                                   f"rules without a room: {set(ALLOWED) - found}")


@pytest.mark.parametrize("module,path", sources(), ids=[m for m, _ in sources()])
def test_imports_flow_one_way(module, path):
    bad = violations(module, path.read_text(encoding="utf-8"))
    assert not bad, "\n".join(f"{path.relative_to(ROOT)}:{line}: {room(module)} may not import {name} "
                              f"(allowed: {', '.join(ALLOWED[room(module)]) or 'nothing outside it'})"
                              for line, name in bad)


def test_the_check_sees_imports_anywhere_in_a_file():
    assert len([i for m, f in sources() for i in imports(f.read_text(encoding="utf-8"))]) > 100
    src = "import numpy\nfrom bench.stats import welch_t\ndef f():\n    from bench.report.tables import Table\n"
    assert violations("bench.stats.over_seeds", src) == [(4, "bench.report.tables.Table")]
    assert violations("model.bert", "from amplify.methods import mix_pair\n") == [(1, "amplify.methods.mix_pair")]
    assert violations("bench.report.claims", "from bench.grid.plan import run_key\n") == []
    assert violations("bench.report.claims", "from bench.grid.runner import run_share\n") != []
    assert violations("bench.experiments.table2", "import bench.compare\n") == [(1, "bench.compare")]
