"""The agent's settings: one typed table (:class:`AgentConfig`) read from ``/etc/crashhub/agent.toml``.

As :class:`crashhub.config.Settings` is for the hub, each field of :class:`AgentConfig` is a setting:
its annotation is its type (a ``Literal`` is a closed set of words), its ``field`` carries the default
and the help text, and :data:`SETTINGS` is derived from the fields, so there is one table.
``docs/host.md`` documents every setting and a test checks that it does.

:meth:`AgentConfig.from_dict` only checks a document; what the agent takes from this machine (the
TOML file, the token file, the host name) is read in :func:`load` and :func:`from_mapping` alone.
Only the standard library is used (``tomllib``) so the agent installs without the hub's stack.
"""

from __future__ import annotations

import dataclasses
import socket
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from crashhub.errors import ConfigError

DEFAULT_CONFIG = "/etc/crashhub/agent.toml"

SendVmcore = Literal["auto", "always", "never"]
LocalDumps = Literal["keep", "delete-uploaded"]
# A value as the TOML document (and to_dict) holds it: crash_dirs is the one list.
AgentValue = str | int | float | bool | list[str]

_T = TypeVar("_T")


def _setting(default: _T, help: str) -> _T:
    f: _T = field(default=default, metadata={"help": help})
    return f


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Resolved agent settings (``token`` filled from ``token_file``, ``host`` from the host name)."""

    hub: str = _setting("", "Base URL of the hub, e.g. `https://crashhub.example.net:8470`. Required.")
    token: str = _setting("", "API token with role `host` (`crashhub token create --role host`).")
    token_file: str = _setting("/etc/crashhub/token",
                               "File holding the token (read when `token` is empty); keep it mode 0600.")
    crash_dirs: tuple[str, ...] = _setting(
        ("/var/crash",),
        "Directories kdump writes crash directories into (RHEL `path`, Debian `KDUMP_COREDIR`).")
    state_file: str = _setting("/var/lib/crashhub/agent-state.json",
                               "Where the agent records what it sent (written atomically).")
    host: str = _setting("", "Host name sent to the hub. Default: this machine's host name.")
    send_vmcore: SendVmcore = _setting(  # noqa: RUF009 - returns a Field, as field() does
        "auto", "`auto`: upload a dump only when the hub asks (`wants_vmcore`); `always`; `never`.")
    local_dumps: LocalDumps = _setting(  # noqa: RUF009 - returns a Field, as field() does
        "keep",
        "`keep` local dumps, or `delete-uploaded`: delete a dump file once the hub has confirmed "
        "the whole of it (`complete: true`). Logs are always kept; a dump the hub did not take "
        "is never deleted.")
    chunk_size: int = _setting(8 * 2**20, "Bytes per upload request (1 MiB to 256 MiB).")
    settle_seconds: float = _setting(
        60.0, "A crash directory is shipped only when no file in it changed for this long.")
    retry_attempts: int = _setting(8, "Attempts per hub request while the hub is down or failing.")
    retry_initial: float = _setting(2.0, "First back-off delay in seconds (doubles per attempt).")
    retry_max: float = _setting(300.0, "Longest back-off delay in seconds.")
    timeout: float = _setting(60.0, "Seconds before one HTTP request times out.")
    interval: float = _setting(900.0, "Without `--once`: seconds between two scans.")
    ca_file: str = _setting("", "CA bundle for the hub's TLS certificate (default: the system's).")
    report_host: bool = _setting(
        True, "Report kernel, build-id, hardware and `kdump check` results to the hub on each run.")
    kdump_root: str = _setting("/", "Root directory `kdump check` reads (for tests and containers).")
    pstore_dir: str = _setting(
        "/sys/fs/pstore",
        "Where the kernel's pstore records are read (`\"\"`: not read). Each oops/panic dump there is "
        "sent as one crash log (`channel: pstore`); its records are removed only after the hub "
        "confirmed the crash.")

    def to_dict(self) -> dict[str, AgentValue]:
        """The settings as a TOML document holds them (what :meth:`from_dict` reads back)."""
        return {s.name: list(v) if isinstance(v := getattr(self, s.name), tuple) else v for s in SETTINGS}

    @classmethod
    def from_dict(cls, data: Mapping[str, object], source: str = "<settings>") -> AgentConfig:
        """Check a settings document (the TOML table) into an :class:`AgentConfig`; settings not
        given keep their defaults. Reads nothing: an empty ``token`` or ``host`` stays empty."""
        unknown = sorted(set(data) - set(_BY_NAME))
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}", source)
        cfg = cls(**{k: _coerce(_BY_NAME[k], v, source) for k, v in data.items()})
        _check(cfg, source)
        return dataclasses.replace(cfg, hub=cfg.hub.rstrip("/"))


@dataclass(frozen=True, slots=True)
class AgentSetting:
    """One row of the table, derived from a field of :class:`AgentConfig`."""

    name: str
    type: type  # str, int, float, bool, or tuple (of strings)
    default: object
    help: str
    choices: tuple[str, ...] = ()  # a closed set of words (a ``Literal`` field); empty: any


def _row(f: dataclasses.Field[object], hint: object) -> AgentSetting:
    if typing.get_origin(hint) is Literal:
        return AgentSetting(f.name, str, f.default, f.metadata["help"], typing.get_args(hint))
    t = typing.get_origin(hint) or hint
    assert isinstance(t, type), f"{f.name}: {hint!r} is not a setting type"
    return AgentSetting(f.name, t, f.default, f.metadata["help"])


SETTINGS: tuple[AgentSetting, ...] = tuple(
    _row(f, typing.get_type_hints(AgentConfig)[f.name]) for f in dataclasses.fields(AgentConfig))
_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(s: AgentSetting, value: object, source: str) -> Any:
    """A TOML value as the field's type: TOML has types, so only an int for a float (and a single
    string for a list) is taken, never a string for a number. (``Any``: the check against the
    field's annotation is made here, at run time, where mypy cannot follow it.)"""
    if s.choices:
        if value not in s.choices:
            raise ConfigError(f"setting {s.name!r} must be {', '.join(s.choices)}, not {value!r}", source)
        return value
    if s.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if s.type is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise ConfigError(f"setting {s.name!r} must be a list of strings", source)
        return tuple(items)
    if not isinstance(value, s.type) or (s.type is int and isinstance(value, bool)):
        raise ConfigError(f"setting {s.name!r} must be {s.type.__name__}, not {type(value).__name__}", source)
    return value


def _check(cfg: AgentConfig, source: str) -> None:
    """What a value's type cannot say."""
    if not cfg.hub:
        raise ConfigError("setting 'hub' is required (the hub's base URL)", source)
    if not cfg.hub.startswith(("http://", "https://")):
        raise ConfigError(f"setting 'hub' must start with http:// or https://, not {cfg.hub!r}", source)
    if not 2**20 <= cfg.chunk_size <= 256 * 2**20:
        raise ConfigError("setting 'chunk_size' must be between 1 MiB and 256 MiB", source)
    if cfg.retry_attempts < 1:
        raise ConfigError("setting 'retry_attempts' must be at least 1", source)


def from_mapping(data: Mapping[str, object], source: str = "<settings>") -> AgentConfig:
    """A settings document checked and completed from this machine: the token from ``token_file``
    when ``token`` is empty, the host name when ``host`` is."""
    cfg = AgentConfig.from_dict(data, source)
    token = cfg.token
    if not token:
        try:
            token = Path(cfg.token_file).read_text().strip()
        except OSError as e:
            raise ConfigError(f"no 'token' and cannot read token_file {cfg.token_file}: {e.strerror}",
                              source) from e
    if not token:
        raise ConfigError(f"token file {cfg.token_file} is empty", source)
    return dataclasses.replace(cfg, token=token, host=cfg.host or socket.gethostname())


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
