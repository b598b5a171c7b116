"""The layer contracts of serving/, read from the source (AST), counting imports inside functions
too: they tie modules together as much as top-level ones do."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2] / "serving"

# Leaves: import nothing of serving (serving.frozen excepted for the config models).
LEAVES = {"serving.text", "serving.frozen", "serving.intent.model", "serving.errors"}
# The config layer: typed models that import nothing of the feature packages. Every module named
# config (or *_config) belongs to it, so a new package's config joins the contract by its name.


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        rel = f.relative_to(ROOT.parent).with_suffix("")
        out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = f
    return out


MODULES = _modules()
CONFIG_LAYER = {m for m in MODULES if m.rpartition(".")[2] == "config" or m.endswith("_config")} | {"serving.frozen"}


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(mod: str) -> list[tuple[str, str]]:
    """(imported serving module, imported name or '') for every import statement in `mod`."""
    f = MODULES[mod]
    is_pkg = f.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = mod.split(".")[: len(mod.split(".")) - node.level + (1 if is_pkg else 0)]
                base = ".".join(parts + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub, "") if sub in MODULES else (base, a.name))
    return [(t, n) for t, n in out if t.split(".")[0] == "serving"]


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _ in _imports(m):
            r = _resolve(target)
            # Package __init__ files hold only docstrings and the version: not a tie.
            if r and r != m and MODULES[r].name != "__init__.py":
                edges[m].add(r)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_serving():
    cycles = _cycles(_edges())
    assert not cycles, "import cycles (break them with a leaf module):\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_leaves_and_the_config_layer_import_no_feature_package():
    assert {"serving.config", "serving.experiments.config", "serving.intent.llm_config"} <= CONFIG_LAYER
    edges = _edges()
    for m in LEAVES:
        assert edges[m] <= {"serving.frozen"}, f"{m} must be a leaf; it imports {sorted(edges[m])}"
    for m in CONFIG_LAYER:
        assert edges[m] <= CONFIG_LAYER, f"{m} is config; it imports {sorted(edges[m] - CONFIG_LAYER)}"


def test_no_private_name_is_imported_from_another_package():
    bad = []
    for m in MODULES:
        pkg = m.rpartition(".")[0]
        for target, name in _imports(m):
            r = _resolve(target)
            if name.startswith("_") and not name.startswith("__") and r and r.rpartition(".")[0] != pkg:
                bad.append(f"{m}: from {r} import {name}")
    assert not bad, "\n".join(bad)


def test_the_request_path_never_imports_the_tools():
    users = sorted(m for m, e in _edges().items() if any(t.startswith("serving.tools") for t in e)
                   and not (m.startswith("serving.tools") or m == "serving.cli"))
    assert not users, f"serving/tools/ is for operators; imported by {users}"
