"""agent."""

from crashhub._face import face

# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.agent stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.agent import _config as config
    from crashhub.agent import _kdumpconf as kdumpconf
    from crashhub.agent import _makedumpfile as makedumpfile
    from crashhub.agent import _pstore as pstore
    from crashhub.agent import _scan as scan
    from crashhub.agent import _state as state
    from crashhub.agent._check import HostFacts as HostFacts
    from crashhub.agent._check import check as check
    from crashhub.agent._check import gather as gather
    from crashhub.agent._client import HubClient as HubClient
    from crashhub.agent._config import AgentConfig as AgentConfig
    from crashhub.agent._ship import Agent as Agent

_FACE: dict[str, str] = {
    "Agent": "crashhub.agent._ship",
    "AgentConfig": "crashhub.agent._config",
    "HostFacts": "crashhub.agent._check",
    "HubClient": "crashhub.agent._client",
    "check": "crashhub.agent._check",
    "gather": "crashhub.agent._check",
}
_MODULES: dict[str, str] = {  # modules other parts use as a namespace
    "config": "crashhub.agent._config",
    "kdumpconf": "crashhub.agent._kdumpconf",
    "makedumpfile": "crashhub.agent._makedumpfile",
    "pstore": "crashhub.agent._pstore",
    "scan": "crashhub.agent._scan",
    "state": "crashhub.agent._state",
}
__all__ = [
    "Agent",
    "AgentConfig",
    "HostFacts",
    "HubClient",
    "check",
    "config",
    "gather",
    "kdumpconf",
    "makedumpfile",
    "pstore",
    "scan",
    "state",
]


__getattr__ = face(globals(), _FACE, _MODULES)
