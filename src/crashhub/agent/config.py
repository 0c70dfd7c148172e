"""The agent's settings: one table (name, type, default, help) read from ``/etc/crashhub/agent.toml``.

``docs/host.md`` documents every setting and a test checks that it does.  Only the standard
library is used (``tomllib``) so the agent installs without the hub's stack.
"""

from __future__ import annotations

import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crashhub.errors import ConfigError

DEFAULT_CONFIG = "/etc/crashhub/agent.toml"


@dataclass(frozen=True, slots=True)
class AgentSetting:
    name: str
    type: type
    default: Any
    help: str


SETTINGS: tuple[AgentSetting, ...] = (
    AgentSetting("hub", str, "", "Base URL of the hub, e.g. `https://crashhub.example.net:8470`. Required."),
    AgentSetting("token", str, "", "API token with role `host` (`crashhub token create --role host`)."),
    AgentSetting("token_file", str, "/etc/crashhub/token",
                 "File holding the token (read when `token` is empty); keep it mode 0600."),
    AgentSetting("crash_dirs", list, ["/var/crash"],
                 "Directories kdump writes crash directories into (RHEL `path`, Debian `KDUMP_COREDIR`)."),
    AgentSetting("state_file", str, "/var/lib/crashhub/agent-state.json",
                 "Where the agent records what it sent (written atomically)."),
    AgentSetting("host", str, "", "Host name sent to the hub. Default: this machine's host name."),
    AgentSetting("send_vmcore", str, "auto",
                 "`auto`: upload a dump only when the hub asks (`wants_vmcore`); `always`; `never`."),
    AgentSetting("local_dumps", str, "keep",
                 "`keep` local dumps, or `delete-uploaded`: delete a dump file once the hub has confirmed "
                 "the whole of it (`complete: true`). Logs are always kept; a dump the hub did not take "
                 "is never deleted."),
    AgentSetting("chunk_size", int, 8 * 2**20, "Bytes per upload request (1 MiB to 256 MiB)."),
    AgentSetting("settle_seconds", float, 60.0,
                 "A crash directory is shipped only when no file in it changed for this long."),
    AgentSetting("retry_attempts", int, 8, "Attempts per hub request while the hub is down or failing."),
    AgentSetting("retry_initial", float, 2.0, "First back-off delay in seconds (doubles per attempt)."),
    AgentSetting("retry_max", float, 300.0, "Longest back-off delay in seconds."),
    AgentSetting("timeout", float, 60.0, "Seconds before one HTTP request times out."),
    AgentSetting("interval", float, 900.0,
                 "Without `--once`: seconds between two scans."),
    AgentSetting("ca_file", str, "", "CA bundle for the hub's TLS certificate (default: the system's)."),
    AgentSetting("report_host", bool, True,
                 "Report kernel, build-id, hardware and `kdump check` results to the hub on each run."),
    AgentSetting("kdump_root", str, "/", "Root directory `kdump check` reads (for tests and containers)."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class AgentConfig:
    hub: str
    token: str
    crash_dirs: tuple[str, ...]
    state_file: str
    host: str
    send_vmcore: str = "auto"
    local_dumps: str = "keep"
    chunk_size: int = 8 * 2**20
    settle_seconds: float = 60.0
    retry_attempts: int = 8
    retry_initial: float = 2.0
    retry_max: float = 300.0
    timeout: float = 60.0
    interval: float = 900.0
    ca_file: str = ""
    report_host: bool = True
    kdump_root: str = "/"


def _coerce(s: AgentSetting, value: Any, source: str) -> Any:
    if s.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if s.type is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"setting {s.name!r} must be a list of strings", source)
        return tuple(value)
    if not isinstance(value, s.type) or (s.type is int and isinstance(value, bool)):
        raise ConfigError(f"setting {s.name!r} must be {s.type.__name__}, not {type(value).__name__}", source)
    return value


def from_mapping(data: dict[str, Any], source: str = "<settings>") -> AgentConfig:
    """Validate a settings mapping (the TOML document) into an :class:`AgentConfig`."""
    unknown = sorted(set(data) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}", source)
    values: dict[str, Any] = {}
    for s in SETTINGS:
        v = data.get(s.name, s.default)
        values[s.name] = _coerce(s, v, source)
    if not values["hub"]:
        raise ConfigError("setting 'hub' is required (the hub's base URL)", source)
    if not values["hub"].startswith(("http://", "https://")):
        raise ConfigError(f"setting 'hub' must start with http:// or https://, not {values['hub']!r}", source)
    if values["send_vmcore"] not in ("auto", "always", "never"):
        raise ConfigError("setting 'send_vmcore' must be auto, always or never", source)
    if values["local_dumps"] not in ("keep", "delete-uploaded"):
        raise ConfigError("setting 'local_dumps' must be keep or delete-uploaded", source)
    if not 2**20 <= values["chunk_size"] <= 256 * 2**20:
        raise ConfigError("setting 'chunk_size' must be between 1 MiB and 256 MiB", source)
    if values["retry_attempts"] < 1:
        raise ConfigError("setting 'retry_attempts' must be at least 1", source)
    token = values.pop("token")
    token_file = values.pop("token_file")
    if not token:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as e:
            raise ConfigError(f"no 'token' and cannot read token_file {token_file}: {e.strerror}",
                              source) from e
    if not token:
        raise ConfigError(f"token file {token_file} is empty", source)
    values["token"] = token
    values["host"] = values["host"] or socket.gethostname()
    values["hub"] = values["hub"].rstrip("/")
    return AgentConfig(**values)


def load(path: str | Path = DEFAULT_CONFIG) -> AgentConfig:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError as e:
        raise ConfigError("agent configuration not found (see docs/host.md)", p) from e
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", p) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", p) from e
    return from_mapping(data, str(p))
