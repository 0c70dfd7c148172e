"""Who owns which hosts: ``<data>/host-owners.toml``, kept by the fleet team, read by the alerts.

The response workflow sends a bucket's advice to the owners of the hosts that crashed in it
(docs/ui.md, "Advice to host owners").  Owners are data the fleet team already keeps in its own
inventory, so they live in a file the team can generate, not in a database table::

    smtp = "mail"                 # the alerts.toml SMTP channel that sends mail (default: the first)

    [[owner]]
    name = "dba"                  # a label for the delivery log
    hosts = ["db*", "pg-??"]      # fnmatch globs against the host name, case-insensitive
    contacts = ["dba@example.org",
                {webhook = "https://...", format = "feishu", secret = "..."}]
    final = true                  # stop here when this entry matches (default: keep looking)

Every entry whose globs match a host adds its contacts, in file order, until a matching entry has
``final = true``: a host can have a service team and a fleet-wide on-call, and an exception
written above a broad pattern can still shadow it.  A contact is an e-mail address (sent through
the SMTP channel), a ``http(s)://`` URL (a generic JSON webhook), or a table ``{email = ...}`` or
``{webhook = ..., format = ..., secret = ...}`` in the formats of :mod:`crashhub.alerts._channels`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import threading
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crashhub.alerts._channels import FORMATS, Channel
from crashhub.errors import ConfigError

MAX_ENTRIES = 10_000  # a generated inventory can be large, not unbounded
MAX_FILE_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class Contact:
    """One place an owner reads: ``id`` is stable (dedup key), ``label`` safe to log (no URL:
    chat webhooks carry their access token in it)."""

    id: str
    label: str
    kind: str  # "mail" | "webhook"
    address: str  # the e-mail address, or the webhook URL
    format: str = "json"
    secret: str | None = None

    def channel(self, smtp: Channel | None) -> Channel | None:
        """The alert channel that reaches this contact (None: mail without an SMTP channel)."""
        if self.kind == "mail":
            return None if smtp is None else replace(smtp, name=self.label, to=(self.address,), rules=())
        return Channel(name=self.label, type="webhook", format=self.format, url=self.address,
                       secret=self.secret)


@dataclass(frozen=True, slots=True)
class OwnerEntry:
    name: str
    hosts: tuple[str, ...]
    contacts: tuple[Contact, ...]
    final: bool = False

    def matches(self, host: str) -> bool:
        h = host.lower()
        return any(fnmatch.fnmatchcase(h, g) for g in self.hosts)


@dataclass(frozen=True, slots=True)
class Owners:
    entries: tuple[OwnerEntry, ...] = ()
    smtp: str | None = None  # name of the alerts.toml channel for mail; None: the first SMTP one

    def contacts_of(self, host: str) -> list[Contact]:
        out: dict[str, Contact] = {}
        for e in self.entries:
            if e.matches(host):
                for c in e.contacts:
                    out.setdefault(c.id, c)
                if e.final:
                    break
        return list(out.values())


def _contact(raw: Any, owner: str, where: str, path: Path) -> Contact:
    if isinstance(raw, str):
        raw = {"webhook": raw} if "://" in raw else {"email": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a contact is an address, a URL or a table", path)
    extra = set(raw) - {"email", "webhook", "format", "secret"}
    if extra or ("email" in raw) == ("webhook" in raw):
        raise ConfigError(f"{where}: a contact has one of email or webhook (and format, secret)", path)
    if "email" in raw:
        addr = raw["email"]
        if not isinstance(addr, str) or addr.count("@") != 1 or any(c in addr for c in " ,;<>\r\n"):
            raise ConfigError(f"{where}: {addr!r} is not an e-mail address", path)
        return Contact(id=f"mail:{addr.lower()}", label=f"owner:{owner}:{addr}", kind="mail", address=addr)
    url, fmt, secret = raw["webhook"], raw.get("format", "json"), raw.get("secret")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: webhook must be an http(s) URL", path)
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: format must be one of {', '.join(FORMATS)}, not {fmt!r}", path)
    if secret is not None and not isinstance(secret, str):
        raise ConfigError(f"{where}: secret must be a string", path)
    digest = hashlib.sha256(f"{fmt} {url}".encode()).hexdigest()[:12]
    return Contact(id=f"hook:{digest}", label=f"owner:{owner}:{fmt}-{digest}", kind="webhook",
                   address=url, format=fmt, secret=secret)


def parse_owners(text: str, path: Path) -> Owners:
    """The owners of ``text`` (the content of ``path``, named in errors)."""
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", path) from None
    extra = set(d) - {"owner", "smtp"}
    if extra:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(extra))} (owner, smtp)", path)
    smtp = d.get("smtp")
    if smtp is not None and not isinstance(smtp, str):
        raise ConfigError("smtp must name a channel of alerts.toml", path)
    raw = d.get("owner") or []
    if not isinstance(raw, list) or len(raw) > MAX_ENTRIES:
        raise ConfigError(f"owner must be a list of at most {MAX_ENTRIES} [[owner]] tables", path)
    entries = []
    for i, ent in enumerate(raw):
        where = f"owner[{i}]"
        if not isinstance(ent, dict):
            raise ConfigError(f"{where}: must be a table", path)
        extra = set(ent) - {"name", "hosts", "contacts", "final"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}", path)
        hosts = ent.get("hosts")
        if isinstance(hosts, str):
            hosts = [hosts]
        if not hosts or not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
            raise ConfigError(f"{where}: hosts must be a non-empty list of globs", path)
        name = ent.get("name", f"owner{i}")
        if not isinstance(name, str) or not name or any(ord(c) < 32 for c in name):
            raise ConfigError(f"{where}: name must be a printable string", path)
        contacts = ent.get("contacts")
        if isinstance(contacts, (str, dict)):
            contacts = [contacts]
        if not contacts or not isinstance(contacts, list):
            raise ConfigError(f"{where}: needs contacts", path)
        cs = tuple(_contact(c, name, f"{where}.contacts[{j}]", path) for j, c in enumerate(contacts))
        entries.append(OwnerEntry(name=name, hosts=tuple(h.lower() for h in hosts), contacts=cs,
                                  final=bool(ent.get("final", False))))
    return Owners(entries=tuple(entries), smtp=smtp)


class OwnerBook:
    """``host-owners.toml``, re-read when its size or mtime changes (the fleet team's job may
    rewrite it any time); a missing file is an empty book.  A bad file raises ConfigError on every
    ``get`` until it is fixed: sending advice to last week's owners would be worse than waiting."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._sig: tuple[int, int] | None = None
        self._owners = Owners()
        self._lock = threading.Lock()

    def get(self) -> Owners:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._sig, self._owners = None, Owners()
                return self._owners
            sig = (st.st_mtime_ns, st.st_size)
            if sig != self._sig:
                if st.st_size > MAX_FILE_BYTES:
                    raise ConfigError(f"larger than {MAX_FILE_BYTES} bytes", self.path)
                try:
                    text = self.path.read_bytes().decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ConfigError(f"not UTF-8: {e}", self.path) from None
                self._owners = parse_owners(text, self.path)
                self._sig = sig
            return self._owners
