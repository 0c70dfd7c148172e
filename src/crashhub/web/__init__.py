"""web."""

from crashhub._face import face

# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.web stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.web._app import Context as Context
    from crashhub.web._app import build_context as build_context
    from crashhub.web._app import create_app as create_app
    from crashhub.web._auth import create_token as create_token
    from crashhub.web._similar import SimilarIndex as SimilarIndex
    from crashhub.web._timeouts import protocol as protocol

_FACE: dict[str, str] = {
    "Context": "crashhub.web._app",
    "SimilarIndex": "crashhub.web._similar",
    "build_context": "crashhub.web._app",
    "create_app": "crashhub.web._app",
    "create_token": "crashhub.web._auth",
    "protocol": "crashhub.web._timeouts",
}
__all__ = ["Context", "SimilarIndex", "build_context", "create_app", "create_token", "protocol"]


__getattr__ = face(globals(), _FACE)
