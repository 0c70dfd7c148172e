"""Reports (per crash, per bucket, weekly; HTML, Markdown, JSON), the vendor bundle and its redaction."""


# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.report stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.report import _render as render
    from crashhub.report._bundle import make_bundle as make_bundle

_FACE: dict[str, str] = {
    "make_bundle": "crashhub.report._bundle",
}
_MODULES: dict[str, str] = {  # modules other parts use as a namespace
    "render": "crashhub.report._render",
}
__all__ = ["make_bundle", "render"]


def __getattr__(name: str) -> object:
    if name in _MODULES:
        value: object = __import__(_MODULES[name], fromlist=[name])
    elif name in _FACE:
        value = getattr(__import__(_FACE[name], fromlist=[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once resolved, a plain attribute
    return value
