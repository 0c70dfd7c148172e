"""The house's layering, enforced: a package imports only packages of a lower layer.

docs/architecture.md draws the same floors. Every import counts, including those inside functions and
under ``TYPE_CHECKING`` (a type-only import is still a dependency a reader must follow). A package
that needs something from a higher floor is a sign the thing lives in the wrong place: move it down.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "crashhub"

# Floor of each top-level part of the package, lowest first. Pure cores sit on floors 0-2: they take
# bytes, text and models in and give models out; the store, jobs, ingest and web own the I/O.
LAYERS: dict[str, int] = {
    "_face": -1,  # the parts' lazy faces (PEP 562): below everything, it imports nothing of crashhub
    "_regex": -1,  # re.compile with compiled patterns kept between CLI runs: imports nothing of crashhub
    "errors": 0, "model": 0, "kernel": 0, "i18n": 0,
    "config": 1, "triage": 1,
    "dump": 2, "debuginfo": 2, "classify": 2, "kb": 2,
    "channels": 2,  # netconsole and pstore records to kernel-log text and crash cuts (pure)
    "examples": 2,  # the shipped lab logs and the demo fleet's pure plan: imports nothing of crashhub
    "analyze": 3, "store": 3,
    "knowledge": 4, "retention": 4, "alerts": 4,
    "readiness": 4,  # boots a kernel under QEMU, crashes it, reads the dump with dump/triage/analyze
    "jobs": 5,
    "ingest": 6, "report": 6,
    "web": 7, "agent": 7,
    "commands": 8, "cli": 8,
}
# The pure cores take bytes, text and models in and give models out: never the hub's I/O parts.
PURE = {"kernel", "model", "triage", "dump", "classify", "kb", "channels"}
IO_PARTS = {"store", "knowledge", "jobs", "ingest", "alerts", "report", "web", "commands", "cli", "retention"}
# What runs on every fleet host imports nothing of the hub's server side.
AGENT_MAY_IMPORT = {"errors", "model", "kernel", "config", "agent", "_face", "_regex"}


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, src: Path = SRC) -> set[str]:
    """Absolute names of every crashhub module the file imports, relative imports resolved."""
    mod = _module_name(path, src)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            # `from crashhub import kernel` names a package, not an attribute.
            if target == "crashhub":
                out.update(f"crashhub.{a.name}" for a in node.names
                           if (src / a.name).is_dir() or (src / f"{a.name}.py").is_file())
    return {n for n in out if n.startswith("crashhub.")}


def _part(module: str) -> str:
    return module.split(".")[1]


def _edges() -> dict[str, set[tuple[str, str]]]:
    """part -> {(importing module, imported module)} across parts."""
    edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        mod = _module_name(path)
        if mod == "crashhub":
            continue
        for target in _imports(path):
            if _part(target) != _part(mod):
                edges[_part(mod)].add((mod, target))
    return edges


def test_every_part_has_a_floor() -> None:
    parts = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    parts |= {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert parts <= set(LAYERS), f"give these a floor here and in docs/architecture.md: {parts - set(LAYERS)}"


def test_no_import_runs_up_a_floor() -> None:
    upward = sorted(
        f"{mod} (floor {LAYERS[_part(mod)]}) imports {target} (floor {LAYERS[_part(target)]})"
        for part, pairs in _edges().items()
        for mod, target in pairs
        if LAYERS[_part(target)] >= LAYERS[part]
    )
    assert upward == [], "imports that run back up (or across) a floor:\n" + "\n".join(upward)


def test_agent_imports_no_server_side() -> None:
    bad = sorted(f"{mod} imports {t}" for mod, t in _edges().get("agent", set())
                 if _part(t) not in AGENT_MAY_IMPORT)
    assert bad == []


def test_no_import_cycle_between_parts() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for part, pairs in _edges().items():
        graph[part].update(_part(t) for _, t in pairs)
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> list[str] | None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in seen and (cycle := visit(nxt, [*path, node])):
                return cycle
        seen[node] = 2
        return None

    for start in sorted(graph):
        if start not in seen and (cycle := visit(start, [])):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_pure_cores_do_no_io_through_the_hub() -> None:
    bad = sorted(f"{mod} imports {t}" for part in PURE for mod, t in _edges().get(part, set())
                 if _part(t) in IO_PARTS)
    assert bad == []


def test_the_floor_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a pure core importing the store is caught (and a relative import resolved)."""
    src = tmp_path / "crashhub"
    (src / "triage").mkdir(parents=True)
    (src / "store").mkdir()
    (src / "triage" / "x.py").write_text("from ..store import base\nimport crashhub.web._app\n")
    found = {_part(m) for m in _imports(src / "triage" / "x.py", src)}
    assert found == {"store", "web"}
    assert LAYERS["store"] >= LAYERS["triage"] and "store" in IO_PARTS


def _private_reach(path: Path, src: Path = SRC) -> list[str]:
    """The private modules (``crashhub.<part>._x``) of other parts that ``path`` imports."""
    module = _module_name(path, src)
    mine = module.split(".")[1] if "." in module else ""
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for name in names:
            parts = name.split(".")
            if (len(parts) > 2 and parts[0] == "crashhub" and parts[2].startswith("_")
                    and not parts[2].startswith("__") and parts[1] != mine):
                out.append(".".join(parts[:3]))
    return list(dict.fromkeys(out))


def test_private_modules_are_reached_through_their_part_s_face() -> None:
    """Each part's modules are private (``_x``, as httpx names them); other parts use the names its
    ``__init__`` offers, so a module can move or split inside its part without touching its users."""
    reach = {f"{p.relative_to(SRC)}: {name}" for p in SRC.rglob("*.py") for name in _private_reach(p)}
    assert not reach, "imports of another part's private module:\n" + "\n".join(sorted(reach))


def test_the_private_reach_check_finds_one(tmp_path: Path) -> None:
    src = tmp_path / "crashhub"
    (src / "web").mkdir(parents=True)
    (src / "web" / "x.py").write_text("from crashhub.store._sql import Db\nfrom crashhub.store import _kb\n"
                                     "from crashhub.web._app import create_app\n")
    assert _private_reach(src / "web" / "x.py", src) == ["crashhub.store._sql", "crashhub.store._kb"]
