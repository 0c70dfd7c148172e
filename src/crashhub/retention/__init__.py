"""Retention: which dumps the hub keeps, so the blob store never fills (docs/hub.md, Retention).

``policy`` decides (a pure function of the dumps held, the holds and the settings); ``apply``
reads the store, carries the decisions out and removes blobs no record points at any more.
"""

from crashhub._face import face

# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.retention stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.retention import _apply as apply
    from crashhub.retention._policy import REASONS as REASONS

_FACE: dict[str, str] = {
    "REASONS": "crashhub.retention._policy",
}
_MODULES: dict[str, str] = {  # modules other parts use as a namespace
    "apply": "crashhub.retention._apply",
}
__all__ = ["REASONS", "apply"]


__getattr__ = face(globals(), _FACE, _MODULES)
