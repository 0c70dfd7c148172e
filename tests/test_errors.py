"""The exception tree: every exception class lives in crashhub/errors.py, drawn true in its docstring.

One module to read for what can go wrong (and what catches what) only holds while nothing defines an
exception elsewhere; a drawing that has drifted from the classes is worse than none.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest

from crashhub import errors

SRC = Path(__file__).resolve().parent.parent / "src" / "crashhub"
ERRORS = SRC / "errors.py"
BUILTIN_EXCEPTIONS = {n for n, v in vars(builtins).items()
                      if isinstance(v, type) and issubclass(v, BaseException)}
# A third-party base named like one ("httpx.HTTPError", "SomeWarning") counts too.
EXCEPTION_NAME = re.compile(r"(Error|Exception|Warning|Exit|Interrupt)$")


def _bases(node: ast.ClassDef) -> list[str]:
    """The last component of each base's name (``errors.InputError`` -> ``InputError``)."""
    plain = [b.value if isinstance(b, ast.Subscript) else b for b in node.bases]  # Generic[T] -> Generic
    return [ast.unparse(b).rsplit(".", 1)[-1] for b in plain]


def _classes(root: Path) -> list[tuple[Path, ast.ClassDef]]:
    return [(path, node) for path in sorted(root.rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text(), str(path))) if isinstance(node, ast.ClassDef)]


def exception_classes(root: Path) -> list[tuple[Path, str]]:
    """Every class under ``root`` that derives from an exception, by name, through any chain of bases."""
    classes = _classes(root)
    known = set(BUILTIN_EXCEPTIONS)
    changed = True
    while changed:  # a fixed point: a class whose base is an exception defined anywhere under root
        changed = False
        for _path, node in classes:
            if node.name not in known and any(b in known or EXCEPTION_NAME.search(b) for b in _bases(node)):
                known.add(node.name)
                changed = True
    return [(path, node.name) for path, node in classes if node.name in known]


_LINE = re.compile(r"^(?P<indent>(?:[│ ] {3})*)(?:[├└]── )?(?P<name>\w+)(?: \[(?P<extra>[^\]]+)\])?")


def drawn_tree(doc: str) -> dict[str, tuple[str | None, set[str]]]:
    """class -> (parent, extra bases) as the docstring's ``::`` block draws it."""
    block = doc.split("::\n", 1)[1]
    lines = [ln[4:] for ln in block.splitlines()]
    start = next(i for i, ln in enumerate(lines) if ln.strip())
    tree: dict[str, tuple[str | None, set[str]]] = {}
    stack: list[str] = []
    for ln in lines[start:]:
        if not ln.strip():
            break
        m = _LINE.match(ln)
        assert m, f"not a tree line: {ln!r}"
        depth = len(m["indent"]) // 4 + (1 if "──" in ln else 0)
        del stack[depth:]
        name = m["name"]
        assert name not in tree, f"{name} drawn twice"
        extra = {x.strip().removeprefix("+") for x in m["extra"].split(",")} if m["extra"] else set()
        tree[name] = (stack[-1] if stack else None, extra)
        stack.append(name)
    return tree


def test_every_exception_class_is_in_errors_py() -> None:
    stray = [f"{path.relative_to(SRC.parent)}: {name}"
             for path, name in exception_classes(SRC) if path != ERRORS]
    assert stray == [], "define exceptions in crashhub/errors.py, under their parent: " + ", ".join(stray)


def test_scan_finds_exceptions_by_any_chain(tmp_path: Path) -> None:
    """The scan itself: a direct builtin base, a chain through a class of another module, a
    third-party base, and a plain class that is none."""
    (tmp_path / "a.py").write_text("class A(ValueError): ...\nclass Plain: ...\n")
    (tmp_path / "b.py").write_text("import a\nclass B(a.A): ...\nclass C(B): ...\n"
                                   "class D(httpx.HTTPError): ...\nclass E(Plain): ...\n")
    assert sorted(n for _, n in exception_classes(tmp_path)) == ["A", "B", "C", "D"]


def test_docstring_tree_matches_the_classes() -> None:
    assert errors.__doc__
    tree = drawn_tree(errors.__doc__)
    real = {n: c for n, c in vars(errors).items()
            if isinstance(c, type) and issubclass(c, BaseException) and c.__module__ == errors.__name__}
    assert set(tree) - {"Exception"} == set(real), "drawn but not defined / defined but not drawn"
    assert tree["Exception"][0] is None
    for name, cls in real.items():
        parent, extra = tree[name]
        ours = [b.__name__ for b in cls.__bases__ if b.__module__ == errors.__name__ or b is Exception]
        others = {b.__name__ for b in cls.__bases__} - set(ours)
        assert ours == [parent], f"{name}: drawn under {parent}, subclasses {ours}"
        assert others == extra, f"{name}: drawn with extra bases {extra}, has {others}"


@pytest.mark.parametrize("doc, problem", [
    ("x::\n\n    Exception\n    └── A\n    └── A\n", "drawn twice"),
    ("x::\n\n    Exception\n    ?? A\n", "not a tree line"),
])
def test_drawn_tree_refuses_a_bad_drawing(doc: str, problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        drawn_tree(doc)


def test_drawn_tree_reads_depth_and_extra_bases() -> None:
    doc = ("x::\n\n    Exception\n    ├── A\n    │   └── B [+ValueError]  why\n    │       └── C\n"
           "    └── D             words\n\nafter\n")
    assert drawn_tree(doc) == {"Exception": (None, set()), "A": ("Exception", set()),
                               "B": ("A", {"ValueError"}), "C": ("B", set()), "D": ("Exception", set())}
