"""crashhub.kernel is pure: the standard library and itself, nothing of the hub."""

from __future__ import annotations

import ast
from pathlib import Path

import crashhub.kernel

_PACKAGE = Path(crashhub.kernel.__file__).parent


_OURS = ("crashhub.kernel", "crashhub._face", "crashhub._regex")


def test_imports_only_the_standard_library() -> None:
    for path in sorted(_PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [f"crashhub.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom)
                     and node.module == "crashhub"
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                # crashhub._face (the lazy-face helper) and crashhub._regex (re.compile, kept between
                # runs), below every floor, import nothing themselves.
                ours = not name.startswith("crashhub") or name.startswith(_OURS)
                assert ours, (path.name, name)


def test_every_public_name_loads() -> None:
    for name in crashhub.kernel.__all__:
        assert getattr(crashhub.kernel, name) is not None, name
