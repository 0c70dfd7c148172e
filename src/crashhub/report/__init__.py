"""Reports (per crash, per bucket, weekly; HTML, Markdown, JSON), the vendor bundle and its redaction."""

from crashhub._face import face

# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.report stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.report import _render as render
    from crashhub.report._bundle import make_bundle as make_bundle
    from crashhub.report._diagnosis import REPRESENTATIVE_SCAN as REPRESENTATIVE_SCAN
    from crashhub.report._diagnosis import representative as representative

_FACE: dict[str, str] = {
    "make_bundle": "crashhub.report._bundle",
    "representative": "crashhub.report._diagnosis",
    "REPRESENTATIVE_SCAN": "crashhub.report._diagnosis",
}
_MODULES: dict[str, str] = {  # modules other parts use as a namespace
    "render": "crashhub.report._render",
}
__all__ = ["REPRESENTATIVE_SCAN", "make_bundle", "render", "representative"]


__getattr__ = face(globals(), _FACE, _MODULES)
