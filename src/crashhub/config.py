"""Settings: one typed table (the :class:`Settings` dataclass), a TOML file, ``CRASHHUB_*`` overrides.

Order of precedence, lowest first: the field's default, the TOML file
(``<data>/crashhub.toml``, or the file named by ``--config`` / ``CRASHHUB_CONFIG``),
the environment (``CRASHHUB_<NAME>`` upper-cased), then explicit keyword
overrides from the command line.  Each field of :class:`Settings` is a setting: its
annotation is its type, its ``field`` carries the default and the help text, and
:data:`SETTINGS` (what ``docs/settings.md`` is generated from by :func:`render_markdown`,
a test checks both agree) is derived from the fields, so there is one table and a typo
in ``settings.wrokers`` is a type error.

Paths that default to ``None`` are derived from the data directory, so a single
``--data DIR`` is all the embedded hub needs.  The backend settings
(``database_url``, ``blob_store``, ``queue``) are the seams of scale-out:
PostgreSQL, a shared or S3 blob store and Celery plug in there.

This module is also the only one that reads the process environment (a test checks it):
besides the settings, :func:`environ` and the small accessors below it hand the rest of the
package what it needs from there, so every input from outside is visible in one place.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from crashhub.errors import ConfigError

ENV_PREFIX = "CRASHHUB_"
DEFAULT_DATA = "./crashhub-data"

QueueBackend = Literal["local", "celery"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]

_T = TypeVar("_T")


def _setting(default: _T, help: str, *, fold_case: bool = False) -> _T:
    """A field of :class:`Settings`: its default and its help text (``fold_case``: a closed set of
    words matched in any case, as log levels are)."""
    f: _T = field(default=default, metadata={"help": help, "fold_case": fold_case})
    return f


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings; read them as attributes (``settings.port``).

    Every field but ``sources`` is a setting; ``sources`` says where each value came from
    (``"default"``, the TOML file's path, the environment variable, or ``"argument"``).
    """

    data: str = _setting(
        DEFAULT_DATA,
        "Data directory: database, blobs, spool, knowledge base, config file. Also `--data`.",
    )
    database_url: str | None = _setting(
        None,
        "SQLAlchemy URL. Default `sqlite:///<data>/crashhub.db` (WAL). "
        "For a team: `postgresql+psycopg://user:pass@host/db`.",
    )
    blob_store: str | None = _setting(
        None,
        "Where logs and dumps are kept, content-addressed. Default `<data>/blobs`; "
        "any local or shared POSIX directory (an NFS mount works), or `s3://bucket/prefix` "
        "(boto3; endpoint, region and credentials from the usual AWS settings, e.g. `AWS_ENDPOINT_URL`).",
    )
    blob_cache_dir: str | None = _setting(
        None,
        "With an S3 blob store: node-local cache of blobs the dump readers and analysis need as files. "
        "Default `<data>/blob-cache`.",
    )
    blob_cache_bytes: int = _setting(
        32 * 1024 * 1024 * 1024,
        "Largest size of `blob_cache_dir`; least recently used blobs are evicted past it.",
    )
    queue: QueueBackend = _setting(  # noqa: RUF009 - returns a Field, as field() does
        "local",
        "Job queue backend: `local` runs workers as threads inside `crashhub serve`; `celery` sends "
        "jobs to `crashhub worker` processes through `broker_url`.",
    )
    broker_url: str = _setting(
        "",
        "Celery broker URL for `queue = celery`, e.g. `redis://host:6379/0` or `amqp://user:pass@host//`.",
    )
    workers: int = _setting(2, "Number of in-process worker threads for jobs (analysis, KB re-apply).")
    listen: str = _setting("127.0.0.1", "Address `crashhub serve` listens on.")
    port: int = _setting(8470, "TCP port `crashhub serve` listens on.")
    forwarded_allow_ips: str | None = _setting(
        None,
        "Reverse proxies / load balancers whose `X-Forwarded-For` and `X-Forwarded-Proto` `crashhub serve` "
        "trusts for the client's address (comma-separated addresses or networks, `*` for any). The "
        "per-address login limit counts by that address. Default: none, the headers are ignored from "
        "every peer (set `127.0.0.1` for a proxy on the same machine).",
    )
    request_header_timeout: float = _setting(
        30.0,
        "Seconds `crashhub serve` waits for a request's line and headers, from the connection (or the "
        "previous response) on; past it the connection is closed (slow-header clients). 0 disables.",
    )
    request_body_timeout: float = _setting(
        60.0,
        "Seconds `crashhub serve` waits for the next byte of a request body before closing the "
        "connection (a stalled upload; the agent resumes a dump upload where it stopped). 0 disables.",
    )
    spool_dir: str | None = _setting(
        None,
        "Spool directory kdump ssh/nfs targets write into. Default `<data>/spool`; "
        "empty string disables the watcher.",
    )
    spool_interval: float = _setting(2.0, "Seconds between two scans of the spool directory.")
    spool_settle: float = _setting(
        5.0,
        "A crash directory is ingested once no file in it changed size or mtime for this many seconds.",
    )
    spool_max_files: int = _setting(64, "Most entries read from one crash directory (others are ignored).")
    kb_dir: str | None = _setting(
        None,
        "Knowledge-base directory (one YAML file per entry). Default `<data>/kb`.",
    )
    starter_kb: bool = _setting(True, "Also apply the starter knowledge base shipped with the package.")
    max_log_bytes: int = _setting(16 * 1024 * 1024, "Largest kernel log accepted (upload or spool).")
    max_dump_bytes: int = _setting(64 * 1024 * 1024 * 1024, "Largest vmcore accepted (upload or spool).")
    max_request_bytes: int = _setting(
        64 * 1024 * 1024 * 1024 + 64 * 1024 * 1024,
        "Largest multipart request body accepted by `POST /api/v1/crashes`.",
    )
    max_unwrap_ratio: int = _setting(
        1000,
        "A dump wrapped in gzip/xz/bzip2/zstd/lz4 may expand to at most this many times its own size "
        "(and never past `max_dump_bytes`); dumps under 64 MiB unwrapped are not held to the ratio. "
        "Checked while the stream decompresses, so a decompression bomb is refused early. 0: no ratio.",
    )
    upload_expiry: float = _setting(
        86400.0,
        "Seconds a resumable dump upload may go untouched before garbage collection removes its bytes "
        "and its record (the client then starts again from byte 0). 0: uploads never expire.",
    )
    max_kernel_package_bytes: int = _setting(
        4 * 1024 * 1024 * 1024,
        "Largest file of `POST /api/v1/kernels/check` (a kernel package, its debuginfo package, a "
        "makedumpfile); past it the hub answers 413 and stores nothing.",
    )
    max_host_report_bytes: int = _setting(
        64 * 1024,
        "Largest body of `POST /api/v1/hosts/report` (a host's kernel, hardware and kdump state); "
        "past it the hub answers 413 and stores nothing.",
    )
    host_report_rate_limit: int = _setting(
        60,
        "Host reports a token may send per `host_report_rate_window`; past it the hub answers 429 with "
        "`Retry-After`. 0 disables.",
    )
    host_report_rate_window: float = _setting(3600.0, "Seconds of one window of `host_report_rate_limit`.")
    max_kb_entry_bytes: int = _setting(
        256 * 1024,
        "Largest knowledge-base entry accepted by `POST`/`PUT /api/v1/kb` (YAML or JSON body); past it 413.",
    )
    kb_write_rate_limit: int = _setting(
        60,
        "Knowledge-base writes (create, replace, delete) a token may make per `kb_write_rate_window`; "
        "each one re-applies the knowledge base to every bucket. Past it 429. 0 disables.",
    )
    kb_write_rate_window: float = _setting(60.0, "Seconds of one window of `kb_write_rate_limit`.")
    wants_vmcore_below: int = _setting(
        3,
        "`wants_vmcore` is true while a crash has no dump and its bucket has fewer dumps than this.",
    )
    analyze_first: int = _setting(
        3,
        "Deep analysis runs for the first N crashes with a dump of each bucket (0 disables).",
    )
    analyze_timeout: float = _setting(
        900.0,
        "Seconds one analysis job may run before it is recorded as failed.",
    )
    analyze_crash: bool = _setting(
        True,
        "After drgn's analysis (with its diagnosis) is stored, run `crash` on the dump as a second job "
        "and merge its answer into the stored analysis (`bt` to compare, its answer where drgn failed). "
        "false: drgn only, several times less CPU per dump.",
    )
    vmlinux_dir: str | None = _setting(
        None,
        "Directory searched for `vmlinux-<release>` when analysing (e.g. a debuginfo cache).",
    )
    debuginfod: bool = _setting(
        True,
        "Serve the debuginfod protocol (`/buildid/<id>/debuginfo`, `/executable`, `/source/<path>`) "
        "from the debuginfo store `<data>/debuginfo`, without a token, as debuginfod clients send none.",
    )
    spike_factor: float = _setting(
        3.0,
        "A bucket spikes when today's crashes reach this many times the trailing daily median...",
    )
    spike_min: int = _setting(5, "...and at least this many crashes today.")
    spike_days: int = _setting(14, "Days in the trailing window of the spike flag and the trend.")
    blob_gc_grace: float = _setting(
        3600.0,
        "Unreferenced blobs and temp files younger than this many seconds survive garbage collection "
        "(another process may be about to record them).",
    )
    keep_dumps_per_bucket: int = _setting(
        5,
        "Retention: besides each bucket's first dump, the dumps of its this many most recent crashes "
        "are kept (the latest always); older ones are evicted by `crashhub gc` and the hub's periodic "
        "run. Logs are always kept. See docs/hub.md, Retention.",
    )
    blob_quota_bytes: int = _setting(
        0,
        "Retention: when the blob store holds more than this many bytes, kept dumps that are neither "
        "a bucket's first nor its latest are evicted, oldest first, until it does not. 0: no quota.",
    )
    bundle_hold_days: float = _setting(
        30.0,
        "Retention: a dump packed into a vendor bundle is not evicted for this many days after "
        "(the vendor case is taken as open that long).",
    )
    retention_interval: float = _setting(
        600.0,
        "Seconds between two runs of the retention policy inside `crashhub serve`; 0 disables them "
        "(`crashhub gc` still runs it by hand).",
    )
    job_lease: float = _setting(
        600.0,
        "Seconds a running job or spool item stays claimed before another worker may take it over.",
    )
    upload_lease: float = _setting(
        60.0,
        "Seconds a hub node holds a resumable upload between two pieces of a request body; once a node "
        "died mid-request, the client resumes on another node after this long.",
    )
    login_rate_limit: int = _setting(
        10,
        "Failed UI logins allowed per `login_rate_window`, counted per client address and per user "
        "name in the database (shared by every hub node). Past it an address gets 429; attempts on a "
        "user name are held 1, 2, 4 … 16 s instead (never a lock-out). 0 disables.",
    )
    login_rate_window: float = _setting(300.0, "Seconds of one window of `login_rate_limit`.")
    upload_rate_limit: int = _setting(
        60,
        "Crash uploads a host may start per `upload_rate_window` (`POST /api/v1/crashes` and a "
        "`PUT .../vmcore` from offset 0), counted per API token in the database; past it the hub "
        "answers 429 with `Retry-After` and stores nothing. Give each host its own token (the agent "
        "docs do) or the hosts sharing one share this limit. 0 disables.",
    )
    upload_rate_window: float = _setting(60.0, "Seconds of one window of `upload_rate_limit`.")
    log_level: LogLevel = _setting(  # noqa: RUF009 - returns a Field, as field() does
        "info",
        "Log level of `crashhub serve` (debug, info, warning, error, critical; any case).",
        fold_case=True,
    )
    dump_grace_hours: float = _setting(
        24.0,
        "A crash that came through netconsole or pstore but has no kdump dump or log this many hours "
        "after it arrived counts as `kdump failed` on the coverage page and dashboard (the agent "
        "sends the dump after the reboot; before this it is `waiting`).",
    )
    coverage_days: int = _setting(
        30,
        "Days of crashes the coverage page, the dashboard's coverage panel and the weekly report count "
        "by channel.",
    )
    first_advice_hours: float = _setting(
        4.0,
        "A new bucket's first advice is due this many hours after its first crash (the response "
        "workflow); past it the bucket is flagged overdue and the `overdue_advice` alert fires.",
    )
    alert_interval: float = _setting(
        300.0,
        "Seconds between two checks of the store for alerts that no single crash raises (overdue "
        "advice, spikes, kernels without debuginfo, kernels in the fleet no readiness check tried); "
        "0 disables them.",
    )
    alert_webhook: str = _setting(
        "",
        "URL of a generic JSON webhook that receives every alert, in addition to the channels of "
        "`<data>/alerts.toml` (see docs/ui.md, Alerts). Empty: none.",
    )
    netconsole_listen: str = _setting(
        "",
        "UDP `ADDR:PORT` (`[ADDR]:PORT` for IPv6) `crashhub serve` receives netconsole on, plain or "
        "extended (`netconsole=+...`); a crash cut out of a sender's stream is ingested as channel "
        "`netconsole`, source unverified (docs/hub.md, netconsole receiver). Empty: off.",
    )
    netconsole_allow: str = _setting(
        "",
        "Comma-separated networks (CIDR) whose netconsole senders are taken even when no host report "
        "came from their address; such a host is named by its IP. Empty: only the addresses host reports "
        "came from.",
    )
    netconsole_quiet: float = _setting(
        10.0,
        "Seconds a netconsole stream must be quiet after a crash report began before the crash is cut "
        "out and ingested (the next boot banner cuts it at once).",
    )
    netconsole_max_senders: int = _setting(
        4096,
        "Most netconsole senders (ip:port) kept at once; the one heard from least recently is "
        "forgotten past it (its pending crash, if any, is cut first).",
    )
    netconsole_sender_bytes: int = _setting(
        256 * 1024,
        "Most bytes of log kept per netconsole sender (the text a crash is cut from); the oldest lines "
        "go first, the boot banner is kept.",
    )
    netconsole_rate: int = _setting(
        2000,
        "Netconsole messages (datagrams) per second taken from one sender, with a burst of ten "
        "seconds' worth; the rest are dropped and counted. 0: no limit.",
    )
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {s.name: getattr(self, s.name) for s in SETTINGS}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "settings") -> Settings:
        """The inverse of :meth:`as_dict`: each value checked and coerced as a loaded one is,
        settings not given at their defaults (``sources`` says which came from ``where``)."""
        unknown = sorted(set(values) - set(_BY_NAME))
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}", where)
        given = {k: _coerce(_BY_NAME[k], v, where) for k, v in values.items()}
        sources = {s.name: where if s.name in given else "default" for s in SETTINGS}
        return cls(**given, sources=sources)

    # Derived paths -----------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return Path(self.data)

    @property
    def db_url(self) -> str:
        url = self.database_url
        return url if url else f"sqlite:///{(self.data_dir / 'crashhub.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        b = self.blob_store
        return Path(b) if b else self.data_dir / "blobs"

    @property
    def blob_spec(self) -> str:
        """The blob store as configured: a directory, or an ``s3://`` URL."""
        b = self.blob_store
        return b if b else str(self.data_dir / "blobs")

    @property
    def blob_cache_path(self) -> Path:
        c = self.blob_cache_dir
        return Path(c) if c else self.data_dir / "blob-cache"

    @property
    def spool_path(self) -> Path | None:
        s = self.spool_dir
        if s == "":
            return None
        return Path(s) if s else self.data_dir / "spool"

    @property
    def kb_path(self) -> Path:
        k = self.kb_dir
        return Path(k) if k else self.data_dir / "kb"


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the table, derived from a field of :class:`Settings`."""

    name: str
    type: type  # str, int, float or bool (``str | None`` and the closed sets are str)
    default: Any
    help: str
    choices: tuple[str, ...] = ()  # a closed set of values (a ``Literal`` field); empty: any
    fold_case: bool = False


def _row(f: dataclasses.Field[Any], hint: Any) -> Setting:
    choices: tuple[str, ...] = ()
    if typing.get_origin(hint) is Literal:
        choices, hint = typing.get_args(hint), str
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args:  # ``str | None``: the None is "derived from the data directory", never a value given
        (hint,) = args
    return Setting(f.name, hint, f.default, f.metadata["help"], choices, f.metadata["fold_case"])


def _table() -> tuple[Setting, ...]:
    hints = typing.get_type_hints(Settings)
    return tuple(_row(f, hints[f.name]) for f in dataclasses.fields(Settings) if "help" in f.metadata)


SETTINGS: tuple[Setting, ...] = _table()
_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    if value is None:
        return None
    if setting.choices:
        return _choose(setting, value, where)
    t = setting.type
    try:
        if t is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if t is int and isinstance(value, bool):
            raise ValueError(value)
        if t is int and isinstance(value, str):
            return int(value.strip().replace("_", ""), 0)
        return t(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {setting.name!r} wants a {t.__name__}, got {value!r}", where) from None


def _choose(setting: Setting, value: Any, where: str) -> str:
    """A value of a closed set, checked at load time rather than where it is first used."""
    word = value.lower() if setting.fold_case and isinstance(value, str) else value
    if word not in setting.choices:
        allowed = ", ".join(repr(c) for c in setting.choices)
        raise ConfigError(f"setting {setting.name!r} wants one of {allowed}, got {value!r}", where)
    return str(word)


def load(
    data: str | Path | None = None,
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve every setting; ``data``/``overrides`` come from the command line (None = not given)."""
    env = environ() if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}

    # The data directory decides where the default config file is, so resolve it first.
    data_dir = str(data) if data is not None else env.get(ENV_PREFIX + "DATA") or DEFAULT_DATA
    cfg = config_file or env.get(ENV_PREFIX + "CONFIG")
    cfg_path = Path(cfg) if cfg else Path(data_dir) / "crashhub.toml"
    if cfg_path.is_file():
        _read_toml(cfg_path, values, sources)
    elif cfg and not cfg_path.is_file():
        raise ConfigError("config file does not exist", cfg_path)

    for s in SETTINGS:
        var = ENV_PREFIX + s.name.upper()
        if var in env:
            values[s.name] = _coerce(s, env[var], var)
            sources[s.name] = var
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in _BY_NAME:
            raise ConfigError(f"unknown setting {k!r}", "argument")
        values[k] = _coerce(_BY_NAME[k], v, "argument")
        sources[k] = "argument"
    if data is not None:
        values["data"] = str(data)
        sources["data"] = "argument"
    elif sources["data"] == "default" and ENV_PREFIX + "DATA" not in env:
        values["data"] = data_dir
    return Settings(**values, sources=sources)


def _read_toml(cfg_path: Path, values: dict[str, Any], sources: dict[str, str]) -> None:
    try:
        table = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"not valid TOML: {e}", cfg_path) from None
    table = table.get("crashhub", table)
    for k, v in table.items():
        if k not in _BY_NAME:
            raise ConfigError(f"unknown setting {k!r} (see docs/settings.md)", cfg_path)
        values[k] = _coerce(_BY_NAME[k], v, str(cfg_path))
        sources[k] = str(cfg_path)


# The process environment -----------------------------------------------------------
# Read here only, so what the hub takes from outside its settings is listed in one place.
DUMP_UNWRAP_LIMIT_VAR = ENV_PREFIX + "DUMP_UNWRAP_LIMIT"
DEFAULT_UNWRAP_LIMIT = 1 << 40


def environ() -> Mapping[str, str]:
    """The process environment, live (a test's ``monkeypatch.setenv`` shows through)."""
    return os.environ


def default_data() -> str:
    """``--data``'s default for the commands that take it before the settings load: ``$CRASHHUB_DATA``."""
    return environ().get(ENV_PREFIX + "DATA", DEFAULT_DATA)


def dump_unwrap_limit() -> int:
    """Most bytes a wrapped (compressed) dump may unwrap into: ``$CRASHHUB_DUMP_UNWRAP_LIMIT``, else 1 TiB.

    Not a setting: the dump readers run in the agent and the CLI as well as in the hub, without one.
    """
    v = environ().get(DUMP_UNWRAP_LIMIT_VAR)
    return int(v) if v and v.isdigit() else DEFAULT_UNWRAP_LIMIT


def debuginfod_urls() -> str:
    """``$DEBUGINFOD_URLS``: the debuginfod servers drgn may fetch a missing vmlinux from ("" = none)."""
    return environ().get("DEBUGINFOD_URLS", "")


def locale_language() -> str:
    """``$LANG``, the language a command-line report is written in when ``--lang`` is not given."""
    return environ().get("LANG", "")


def render_markdown() -> str:
    """The settings table as Markdown (``docs/settings.md``)."""
    lines = [
        "# crashhub settings",
        "",
        "Generated from `crashhub.config.SETTINGS`; do not edit by hand "
        "(`python -m crashhub.config > docs/settings.md`).",
        "",
        "Each setting is read, lowest precedence first, from its default, the TOML file "
        "(`<data>/crashhub.toml` or `--config`/`CRASHHUB_CONFIG`; keys at top level or under "
        "`[crashhub]`), the environment variable `CRASHHUB_<NAME>`, and the command line.",
        "",
        "| name | type | default | environment | meaning |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = "(derived)" if s.default is None else f"`{s.default!r}`"
        lines.append(
            f"| `{s.name}` | {s.type.__name__} | {default} | `{ENV_PREFIX}{s.name.upper()}` | {s.help} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
