"""Alerts: rules (what deserves a message), channels (webhooks, SMTP), the dispatcher (dedup, limits, log)."""

from crashhub._face import face
from crashhub.alerts._records import RESULTS, DeliveryRecord, Result
from crashhub.alerts._rules import ALL_RULES, RULES, SEVERITIES, Alert, RuleName, Severity

__all__ = ["ALL_RULES", "RESULTS", "RULES", "SEVERITIES", "Alert", "DeliveryRecord", "Result", "RuleName",
           "Severity"]


# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.alerts stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.alerts._channels import Channel as Channel
    from crashhub.alerts._engine import AlertEngine as AlertEngine
    from crashhub.alerts._engine import load_config as load_config

_FACE: dict[str, str] = {
    "AlertEngine": "crashhub.alerts._engine",
    "Channel": "crashhub.alerts._channels",
    "load_config": "crashhub.alerts._engine",
}
__all__ += ["AlertEngine", "Channel", "load_config"]


__getattr__ = face(globals(), _FACE)
