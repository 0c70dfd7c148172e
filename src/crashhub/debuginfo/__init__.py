"""The debuginfo store: kernel-debuginfo RPMs, -dbg debs, trees, bare vmlinux and out-of-tree
modules, by build-id.

``DebuginfoStore(root)`` imports, lists, removes and matches debuginfo to dumps;
``crashhub.debuginfo._debuginfod.router(store)`` serves it over the debuginfod protocol.
"""

from __future__ import annotations

from crashhub._face import face
from crashhub.debuginfo._archive import Limits
from crashhub.debuginfo._index import DebuginfoStore, Entry, Match, check_vmlinux
from crashhub.debuginfo._modules import ModuleFile, is_module

__all__ = ["DebuginfoStore", "Entry", "Limits", "Match", "ModuleFile", "check_vmlinux", "is_module"]


# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.debuginfo stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.debuginfo._debuginfod import Upstream as Upstream
    from crashhub.debuginfo._debuginfod import app as app
    from crashhub.debuginfo._debuginfod import resolve_source as resolve_source
    from crashhub.debuginfo._debuginfod import router as router

_FACE: dict[str, str] = {
    "Upstream": "crashhub.debuginfo._debuginfod",
    "app": "crashhub.debuginfo._debuginfod",
    "resolve_source": "crashhub.debuginfo._debuginfod",
    "router": "crashhub.debuginfo._debuginfod",
}
__all__ += ["Upstream", "app", "resolve_source", "router"]


__getattr__ = face(globals(), _FACE)
