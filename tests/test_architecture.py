"""The layering rules of docs/architecture.md, checked on the source.

* no bare state string in ops/, cli/ or legacy/: a string literal equal to a state of a
  stage vocabulary (State, RequestState, JobState, DependentState) that is
  compared, used in an IN list, bound as a state column or written into SQL
  text is an offender; code compares with the enums. Files of domains not yet
  converted are listed in ``STATE_LITERAL_ALLOWED``; the list only shrinks (a
  listed file that is clean fails, so it is taken off the list);
* fits/ imports neither mopstool.ops nor mopstool.db;
* no import circle among the mopstool packages (function-level imports count).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mopstool.stages.vocab import DependentState, JobState, RequestState, State

SRC = Path(__file__).resolve().parents[1] / "src" / "mopstool"
STATE_VALUES = frozenset(str(s) for vocab in (State, RequestState, JobState, DependentState) for s in vocab)

#: files (relative to src/mopstool) that still hold bare state strings; being
#: converted by their domains. Take a file off as soon as it is clean.
STATE_LITERAL_ALLOWED = frozenset({
})

#: keyword arguments and dict keys that hold a state
_STATE_KEYS = {"state", "set_state", "data_state", "new_state", "run_state", "states"}
#: methods whose arguments are compared with a column
_COMPARE_CALLS = {"in_", "notin_", "eq_any", "not_in", "is_"}
#: names compared with words that are not states although they spell one ("update" action)
_NOT_STATES = {"action", "kind", "how", "mode", "verb"}
_SQL_STATE = re.compile(r"(?<!\w)state\s*(?:=|!=|<>|\bin\b|\bnot in\b)\s*\(?\s*'([a-z_]+)'", re.IGNORECASE)


def _constants(node) -> list[ast.Constant]:
    """String constants of *node* itself or of a tuple/list/set display."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [c for e in node.elts for c in _constants(e)]
    return []


def state_literals(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every bare state string used as a state in *path*."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []

    def add(nodes):
        found.extend((c.lineno, c.value) for c in nodes if c.value in STATE_VALUES)

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Name) and o.id in _NOT_STATES for o in operands):
                continue
            for operand in operands:
                add(_constants(operand))
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in _COMPARE_CALLS:
                for a in node.args:
                    add(_constants(a))
            for kw in node.keywords:
                if kw.arg in _STATE_KEYS:
                    add(_constants(kw.value))
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value in _STATE_KEYS and v is not None:
                    add(_constants(v))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for m in _SQL_STATE.finditer(node.value):
                if m.group(1) in STATE_VALUES:
                    found.append((node.lineno, m.group(1)))
    return sorted(set(found))


def _files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (SRC / d).rglob("*.py"))


def test_no_bare_state_strings_in_ops_cli_and_legacy():
    offenders = {}
    for p in _files("ops", "cli", "legacy"):
        rel = p.relative_to(SRC).as_posix()
        hits = state_literals(p)
        if hits:
            offenders[rel] = hits
    new = {f: h for f, h in offenders.items() if f not in STATE_LITERAL_ALLOWED}
    assert not new, "bare state strings (use the enums of mopstool.stages): " + "; ".join(
        f"{f}: " + ", ".join(f"line {n} {v!r}" for n, v in h[:5]) for f, h in sorted(new.items()))
    clean = sorted(f for f in STATE_LITERAL_ALLOWED if f not in offenders)
    assert not clean, f"now clean, take them off STATE_LITERAL_ALLOWED: {clean}"


def test_the_scan_finds_state_strings(tmp_path):
    p = tmp_path / "x.py"
    p.write_text(
        "def f(run, row, conn):\n"
        "    if row['state'] == 'full':\n"
        "        pass\n"
        "    conn.execute(run.update().where(run.c.state.in_(('new', 'update'))).values(state='drop'))\n"
        "    q = \"SELECT 1 FROM chipRun WHERE state = 'goto_cleaned'\"\n"
        "    return {'state': 'stop', 'kind': 'run'}, row['kind'] == 'ok'\n")
    assert state_literals(p) == [(2, "full"), (4, "drop"), (4, "new"), (4, "update"),
                                 (5, "goto_cleaned"), (6, "stop")]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute mopstool modules *path* imports (anywhere in the file), with lines."""
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        package = parts
    else:
        package = parts[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            out += [(f"{mod}.{a.name}", node.lineno) for a in node.names]
    return [(m, n) for m, n in out if m == "mopstool" or m.startswith("mopstool.")]


def test_fits_imports_neither_ops_nor_db():
    bad = [f"{p.relative_to(SRC).as_posix()}:{n} imports {m}"
           for p in _files("fits") for m, n in _imports(p)
           if m.startswith(("mopstool.ops", "mopstool.db"))]
    assert not bad, bad


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for p in SRC.rglob("*.py"):
        rel = p.relative_to(SRC.parent).with_suffix("")
        me = _package(".".join(rel.parts))
        for m, _ in _imports(p):
            other = _package(m)
            if other != me and other != "mopstool":
                graph.setdefault(me, set()).add(other)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                cyc = visit(m)
                if cyc:
                    return cyc
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            cyc = visit(n)
            if cyc:
                return cyc
    return None


def test_no_import_circle_among_packages():
    graph = package_graph()
    assert "mopstool.ops" in graph and "mopstool.stages" in graph["mopstool.ops"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
    assert "mopstool.cli" not in graph.get("mopstool.ops", set())


def test_the_circle_check_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize("rel", ["ops/nightly/czar.py", "ops/nightly/diffpairs.py",
                                 "ops/pstamp/requests.py", "cli/pstamp.py", "cli/nightly.py"])
def test_converted_files_keep_no_stage_lists(rel):
    """The nightly and stamp files ask the registry instead of listing stages."""
    text = (SRC / rel).read_text()
    assert not re.search(r"\(\s*\"chip\",\s*\"cam\"", text), rel
    assert "NIGHTLY_STAGES" not in text and "_chunks(" not in text and "def utcnow" not in text


@pytest.mark.parametrize("rel", ["cli/nightly.py", "cli/pstamp.py", "cli/cleanup.py"])
def test_listings_go_through_the_result_protocol(rel):
    """These commands write their results through emit_result, never render directly."""
    text = (SRC / rel).read_text()
    assert "emit_result(" in text, rel
    assert not re.search(r"(?<![\w.])render\(", text), rel
