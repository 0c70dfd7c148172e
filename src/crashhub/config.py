"""Settings: one table (name, type, default, help), a TOML file, ``CRASHHUB_*`` overrides.

Order of precedence, lowest first: the table's default, the TOML file
(``<data>/crashhub.toml``, or the file named by ``--config`` / ``CRASHHUB_CONFIG``),
the environment (``CRASHHUB_<NAME>`` upper-cased), then explicit keyword
overrides from the command line.  ``docs/settings.md`` is generated from
:data:`SETTINGS` by :func:`render_markdown`, and a test checks both agree.

Paths that default to ``None`` are derived from the data directory, so a single
``--data DIR`` is all the embedded hub needs.  The backend settings
(``database_url``, ``blob_store``, ``queue``) are the seams of scale-out:
PostgreSQL, a shared or S3 blob store and Celery plug in there.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crashhub.errors import ConfigError

ENV_PREFIX = "CRASHHUB_"
DEFAULT_DATA = "./crashhub-data"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type  # str, int, float or bool
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data",
        str,
        DEFAULT_DATA,
        "Data directory: database, blobs, spool, knowledge base, config file. Also `--data`.",
    ),
    Setting(
        "database_url",
        str,
        None,
        "SQLAlchemy URL. Default `sqlite:///<data>/crashhub.db` (WAL). "
        "For a team: `postgresql+psycopg://user:pass@host/db`.",
    ),
    Setting(
        "blob_store",
        str,
        None,
        "Where logs and dumps are kept, content-addressed. Default `<data>/blobs`; "
        "any local or shared POSIX directory (an NFS mount works), or `s3://bucket/prefix` "
        "(boto3; endpoint, region and credentials from the usual AWS settings, e.g. `AWS_ENDPOINT_URL`).",
    ),
    Setting(
        "blob_cache_dir",
        str,
        None,
        "With an S3 blob store: node-local cache of blobs the dump readers and analysis need as files. "
        "Default `<data>/blob-cache`.",
    ),
    Setting(
        "blob_cache_bytes",
        int,
        32 * 1024 * 1024 * 1024,
        "Largest size of `blob_cache_dir`; least recently used blobs are evicted past it.",
    ),
    Setting(
        "queue",
        str,
        "local",
        "Job queue backend: `local` runs workers as threads inside `crashhub serve`; `celery` sends "
        "jobs to `crashhub worker` processes through `broker_url`.",
    ),
    Setting(
        "broker_url",
        str,
        "",
        "Celery broker URL for `queue = celery`, e.g. `redis://host:6379/0` or `amqp://user:pass@host//`.",
    ),
    Setting("workers", int, 2, "Number of in-process worker threads for jobs (analysis, KB re-apply)."),
    Setting("listen", str, "127.0.0.1", "Address `crashhub serve` listens on."),
    Setting("port", int, 8470, "TCP port `crashhub serve` listens on."),
    Setting(
        "forwarded_allow_ips",
        str,
        None,
        "Reverse proxies / load balancers whose `X-Forwarded-For` and `X-Forwarded-Proto` `crashhub serve` "
        "trusts for the client's address (comma-separated addresses or networks, `*` for any). The "
        "per-address login limit counts by that address. Default: none, the headers are ignored from "
        "every peer (set `127.0.0.1` for a proxy on the same machine).",
    ),
    Setting(
        "request_header_timeout",
        float,
        30.0,
        "Seconds `crashhub serve` waits for a request's line and headers, from the connection (or the "
        "previous response) on; past it the connection is closed (slow-header clients). 0 disables.",
    ),
    Setting(
        "request_body_timeout",
        float,
        60.0,
        "Seconds `crashhub serve` waits for the next byte of a request body before closing the "
        "connection (a stalled upload; the agent resumes a dump upload where it stopped). 0 disables.",
    ),
    Setting(
        "spool_dir",
        str,
        None,
        "Spool directory kdump ssh/nfs targets write into. Default `<data>/spool`; "
        "empty string disables the watcher.",
    ),
    Setting("spool_interval", float, 2.0, "Seconds between two scans of the spool directory."),
    Setting(
        "spool_settle",
        float,
        5.0,
        "A crash directory is ingested once no file in it changed size or mtime for this many seconds.",
    ),
    Setting("spool_max_files", int, 64, "Most entries read from one crash directory (others are ignored)."),
    Setting("kb_dir", str, None, "Knowledge-base directory (one YAML file per entry). Default `<data>/kb`."),
    Setting("starter_kb", bool, True, "Also apply the starter knowledge base shipped with the package."),
    Setting("max_log_bytes", int, 16 * 1024 * 1024, "Largest kernel log accepted (upload or spool)."),
    Setting("max_dump_bytes", int, 64 * 1024 * 1024 * 1024, "Largest vmcore accepted (upload or spool)."),
    Setting(
        "max_request_bytes",
        int,
        64 * 1024 * 1024 * 1024 + 64 * 1024 * 1024,
        "Largest multipart request body accepted by `POST /api/v1/crashes`.",
    ),
    Setting(
        "wants_vmcore_below",
        int,
        3,
        "`wants_vmcore` is true while a crash has no dump and its bucket has fewer dumps than this.",
    ),
    Setting(
        "analyze_first",
        int,
        3,
        "Deep analysis runs for the first N crashes with a dump of each bucket (0 disables).",
    ),
    Setting(
        "analyze_timeout", float, 900.0, "Seconds one analysis job may run before it is recorded as failed."
    ),
    Setting(
        "vmlinux_dir",
        str,
        None,
        "Directory searched for `vmlinux-<release>` when analysing (e.g. a debuginfo cache).",
    ),
    Setting(
        "debuginfod",
        bool,
        True,
        "Serve the debuginfod protocol (`/buildid/<id>/debuginfo`, `/executable`, `/source/<path>`) "
        "from the debuginfo store `<data>/debuginfo`, without a token, as debuginfod clients send none.",
    ),
    Setting(
        "spike_factor",
        float,
        3.0,
        "A bucket spikes when today's crashes reach this many times the trailing daily median...",
    ),
    Setting("spike_min", int, 5, "...and at least this many crashes today."),
    Setting("spike_days", int, 14, "Days in the trailing window of the spike flag and the trend."),
    Setting(
        "blob_gc_grace",
        float,
        3600.0,
        "Unreferenced blobs and temp files younger than this many seconds survive garbage collection "
        "(another process may be about to record them).",
    ),
    Setting(
        "keep_dumps_per_bucket",
        int,
        5,
        "Retention: besides each bucket's first dump, the dumps of its this many most recent crashes "
        "are kept (the latest always); older ones are evicted by `crashhub gc` and the hub's periodic "
        "run. Logs are always kept. See docs/hub.md, Retention.",
    ),
    Setting(
        "blob_quota_bytes",
        int,
        0,
        "Retention: when the blob store holds more than this many bytes, kept dumps that are neither "
        "a bucket's first nor its latest are evicted, oldest first, until it does not. 0: no quota.",
    ),
    Setting(
        "bundle_hold_days",
        float,
        30.0,
        "Retention: a dump packed into a vendor bundle is not evicted for this many days after "
        "(the vendor case is taken as open that long).",
    ),
    Setting(
        "retention_interval",
        float,
        600.0,
        "Seconds between two runs of the retention policy inside `crashhub serve`; 0 disables them "
        "(`crashhub gc` still runs it by hand).",
    ),
    Setting(
        "job_lease",
        float,
        600.0,
        "Seconds a running job or spool item stays claimed before another worker may take it over.",
    ),
    Setting(
        "upload_lease",
        float,
        60.0,
        "Seconds a hub node holds a resumable upload between two pieces of a request body; once a node "
        "died mid-request, the client resumes on another node after this long.",
    ),
    Setting(
        "login_rate_limit",
        int,
        10,
        "Failed UI logins allowed per `login_rate_window`, counted per client address and per user "
        "name in the database (shared by every hub node). Past it an address gets 429; attempts on a "
        "user name are held 1, 2, 4 … 16 s instead (never a lock-out). 0 disables.",
    ),
    Setting("login_rate_window", float, 300.0, "Seconds of one window of `login_rate_limit`."),
    Setting(
        "upload_rate_limit",
        int,
        60,
        "Crash uploads a host may start per `upload_rate_window` (`POST /api/v1/crashes` and a "
        "`PUT .../vmcore` from offset 0), counted per API token in the database; past it the hub "
        "answers 429 with `Retry-After` and stores nothing. Give each host its own token (the agent "
        "docs do) or the hosts sharing one share this limit. 0 disables.",
    ),
    Setting("upload_rate_window", float, 60.0, "Seconds of one window of `upload_rate_limit`."),
    Setting("log_level", str, "info", "Log level of `crashhub serve` (debug, info, warning, error)."),
    Setting(
        "first_advice_hours",
        float,
        4.0,
        "A new bucket's first advice is due this many hours after its first crash (the response "
        "workflow); past it the bucket is flagged overdue and the `overdue_advice` alert fires.",
    ),
    Setting(
        "alert_interval",
        float,
        300.0,
        "Seconds between two checks of the store for alerts that no single crash raises (overdue "
        "advice, spikes, kernels without debuginfo); 0 disables them.",
    ),
    Setting(
        "alert_webhook",
        str,
        "",
        "URL of a generic JSON webhook that receives every alert, in addition to the channels of "
        "`<data>/alerts.toml` (see docs/ui.md, Alerts). Empty: none.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    if value is None:
        return None
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


class Settings:
    """Resolved settings; read them as attributes (``settings.port``)."""

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.sources = dict(sources)  # name -> "default" | file path | env var | "argument"

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    # Derived paths -----------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return Path(self._values["data"])

    @property
    def db_url(self) -> str:
        url = self._values.get("database_url")
        return str(url) if url else f"sqlite:///{(self.data_dir / 'crashhub.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        b = self._values.get("blob_store")
        return Path(b) if b else self.data_dir / "blobs"

    @property
    def blob_spec(self) -> str:
        """The blob store as configured: a directory, or an ``s3://`` URL."""
        b = self._values.get("blob_store")
        return str(b) if b else str(self.data_dir / "blobs")

    @property
    def blob_cache_path(self) -> Path:
        c = self._values.get("blob_cache_dir")
        return Path(c) if c else self.data_dir / "blob-cache"

    @property
    def spool_path(self) -> Path | None:
        s = self._values.get("spool_dir")
        if s == "":
            return None
        return Path(s) if s else self.data_dir / "spool"

    @property
    def kb_path(self) -> Path:
        k = self._values.get("kb_dir")
        return Path(k) if k else self.data_dir / "kb"


def load(
    data: str | Path | None = None,
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve every setting; ``data``/``overrides`` come from the command line (None = not given)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}

    # The data directory decides where the default config file is, so resolve it first.
    data_dir = str(data) if data is not None else env.get(ENV_PREFIX + "DATA") or DEFAULT_DATA
    cfg = config_file or env.get(ENV_PREFIX + "CONFIG")
    cfg_path = Path(cfg) if cfg else Path(data_dir) / "crashhub.toml"
    if cfg_path.is_file():
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
    return Settings(values, sources)


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
