"""The lazy public face of a part (PEP 562), shared by every part's ``__init__``.

A part lists the names other parts may use and the private module (``_x``) behind each; that module
is imported when a name is first asked for, then the name is a plain attribute of the part.  So
importing a part costs nothing until it is used (the CLI's fast paths import parts they barely
touch), no import cycle arises between parts that name each other, and a private module can move or
split without touching its users.  Type checkers read the same names from each ``__init__``'s
``TYPE_CHECKING`` block.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from collections.abc import Callable


def face(
    namespace: dict[str, object], names: dict[str, str], modules: dict[str, str] | None = None
) -> Callable[[str], object]:
    """The ``__getattr__`` of the part whose globals are ``namespace``: ``names`` maps a public name
    to the module that defines it, ``modules`` a name to a module offered whole (a namespace)."""
    part = namespace["__name__"]
    whole = modules or {}

    def __getattr__(name: str) -> object:
        if name in whole:
            value: object = __import__(whole[name], fromlist=[name])
        elif name in names:
            value = getattr(__import__(names[name], fromlist=[name]), name)
        else:
            raise AttributeError(f"module {part!r} has no attribute {name!r}")
        namespace[name] = value  # once resolved, a plain attribute
        return value

    return __getattr__
