"""The house: rooms import only downwards, no import cycles, small modules, and nothing points outside the repo.

The import graph is read with ``ast`` (no third-party tool): every ``import`` counts, at module level, inside
functions or under ``TYPE_CHECKING``, because each one is a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "agent", "personas")
MAX_LINES = 400

# room → the rooms it may import besides itself (docs/design.md draws the same table).
_BELOW_RUN = {"agent", "personas", "harness.settings", "harness.store", "harness.stats", "harness.browser"}
ALLOWED: dict[str, set[str]] = {
    "agent.kernel": set(),
    "agent": {"agent.kernel"},
    "personas": {"agent.kernel"},
    "harness.settings": {"agent.kernel"},
    "harness.store": {"agent.kernel"},
    "harness.stats": {"agent.kernel"},
    "harness.browser": {"agent.kernel", "agent.patch", "harness.settings"},
    "harness.run": _BELOW_RUN,
    "harness.report": _BELOW_RUN | {"harness.run"},
    "harness.gate": _BELOW_RUN | {"harness.run"},
    "harness.interfaces": {"*"},
    "harness.testing": {"*"},
    "harness": {"*"},  # the package's public surface re-exports every room
}
SUBPACKAGES = ("harness.store", "harness.stats", "harness.browser", "harness.run", "harness.report",
               "harness.gate", "harness.interfaces", "agent.kernel")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports (a name imported from a package resolves to its submodule)."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        candidates: list[str] = []
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in candidates:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                targets.add(target)
    return targets


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def room_of(module: str) -> str:
    """The longest room name that is ``module`` or a package above it."""
    matches = [room for room in ALLOWED if module == room or module.startswith(room + ".")]
    return max(matches, key=len)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_walker_sees_cycles_and_rooms() -> None:
    # The checks below could pass by seeing nothing: the walker must find known arrows and a planted cycle.
    assert "agent.kernel.errors" in GRAPH["harness.browser.launch"] | GRAPH["agent.kernel"]
    assert any(t.startswith("harness.browser") for t in GRAPH["harness.run.simulate"])
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert room_of("harness.run.simulate") == "harness.run" and room_of("agent.kernel.seeds") == "agent.kernel"
    assert room_of("agent.dqn") == "agent" and room_of("harness") == "harness"


def test_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


def test_every_arrow_points_down() -> None:
    wrong = []
    for module, targets in GRAPH.items():
        mine = room_of(module)
        allowed = ALLOWED[mine]
        for target in targets:
            theirs = room_of(target)
            if theirs == mine or "*" in allowed:
                continue
            if not any(target == ok or target.startswith(ok + ".") or theirs == ok for ok in allowed):
                wrong.append(f"{module} → {target} ({mine} may import {sorted(allowed) or 'nothing'})")
    assert wrong == []


def test_every_room_says_what_it_holds_and_may_import() -> None:
    for package in SUBPACKAGES:
        doc = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8")))
        assert doc, f"{package} has no docstring"
        assert "import" in doc, f"{package}'s docstring does not say what it may import"


def test_modules_stay_small() -> None:
    long = {str(p.relative_to(REPO)): n for p in MODULES.values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_nothing_points_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    needles = ("../shared", "DESIGN.md", "REFERENCES.md")
    hits = []
    for rel in tracked.splitlines():
        path = REPO / rel
        if rel == "tests/test_architecture.py" or not path.is_file() or path.suffix in {".png", ".har", ".db"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{rel}: {needle}" for needle in needles if needle in text]
    assert hits == []


@pytest.mark.parametrize("code", [
    "import harness.gate",
    "import harness.run, harness.report, harness.browser, harness.store, harness.stats",
    "import harness, agent, personas; harness.UiabError; agent.kernel",
    # The rollout path for a CSS candidate: load the experiment and resolve the candidate as rollout does.
    "from harness.gate.rollout import resolve_candidate; from harness.run import load_experiment; "
    "resolve_candidate(load_experiment('site_fixtures/shop/experiment.toml'), 'big-cta')",
])
def test_a_css_candidate_never_loads_torch(code: str) -> None:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in ('torch', 'gymnasium') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
