"""Redaction for vendor bundles: host names, IP addresses, user names, and configured patterns.

Values are collected first (the crash's host name, the dump's utsname node name, names and users
the log itself reveals), then every text going into the bundle is rewritten with stable
placeholders (``host-1``, ``ip-1``, ``user-1``, ``redacted-1``): the same value gets the same
placeholder in every file, so a vendor can still follow one host through the log and the bucket
history.  :meth:`Redactor.summary` lists what was redacted by kind, placeholder and count; the
original values stay with the operator (``Redactor.mapping``), never in the bundle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.])")
# IPv6: eight full groups, or a compressed form with "::".  Anything looser hits kernel log text
# ("05:08:13" timestamps, "0010:" segment:offset pairs).
_H = r"[0-9A-Fa-f]{1,4}"
IPV6 = re.compile(
    rf"(?<![0-9A-Fa-f:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,6}}:(?:{_H}(?::{_H}){{0,5}})?|::(?:{_H}(?::{_H}){{0,6}}))"
    r"(?![0-9A-Fa-f:])"
)
# Where a kernel log names users: pam/sshd/systemd-logind lines, "uid=1000(alice)", home paths.
USER_PATTERNS = (
    re.compile(r"\bfor user (?P<u>[a-z_][a-z0-9_.-]{0,31})\b"),
    re.compile(r"\bNew session \S+ of user (?P<u>[a-z_][a-z0-9_.-]{0,31})\b"),
    re.compile(r"\buid=\d+\((?P<u>[a-z_][a-z0-9_.-]{0,31})\)"),
    re.compile(r"/home/(?P<u>[a-z_][a-z0-9_.-]{0,31})\b"),
    re.compile(r"\bAccepted \S+ for (?P<u>[a-z_][a-z0-9_.-]{0,31}) from\b"),
)
# A host's own name in a log: "systemd-hostnamed: Hostname set to <h>", "Set hostname to <h>".
HOST_PATTERNS = (
    re.compile(r"[Hh]ostname (?:set )?to <?(?P<h>[A-Za-z0-9][A-Za-z0-9.-]{0,252})>?"),
    re.compile(r"\bnodename[=:] ?(?P<h>[A-Za-z0-9][A-Za-z0-9.-]{0,252})"),
)
_NOT_USERS = frozenset({"root"})  # keep: "root" says something to a vendor and identifies no one
_NOT_HOSTS = frozenset({"(none)", "localhost", "localhost.localdomain"})


@dataclass
class Redactor:
    hosts: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    redact_ips: bool = True
    mapping: dict[str, tuple[str, str]] = field(default_factory=dict)  # value -> (kind, placeholder)
    counts: dict[str, int] = field(default_factory=dict)  # placeholder -> replacements

    def add_host(self, name: str | None) -> None:
        if name and name not in _NOT_HOSTS and not IPV4.fullmatch(name):
            self.hosts.add(name)
            short = name.split(".")[0]
            if short and short != name and len(short) >= 3:
                self.hosts.add(short)

    def learn(self, text: str) -> None:
        """Collect user and host names the text itself reveals."""
        for p in USER_PATTERNS:
            for m in p.finditer(text):
                if m["u"] not in _NOT_USERS:
                    self.users.add(m["u"])
        for p in HOST_PATTERNS:
            for m in p.finditer(text):
                self.add_host(m["h"])

    def _placeholder(self, kind: str, value: str) -> str:
        hit = self.mapping.get(value)
        if hit is None:
            n = sum(1 for k, _ in self.mapping.values() if k == kind) + 1
            hit = (kind, f"{kind}-{n}")
            self.mapping[value] = hit
        self.counts[hit[1]] = self.counts.get(hit[1], 0) + 1
        return hit[1]

    def _words(self, text: str, words: Iterable[str], kind: str) -> str:
        # Longest first, so "db1.example.com" is replaced before its short name "db1".
        for w in sorted(words, key=len, reverse=True):
            pat = re.compile(r"(?<![A-Za-z0-9_.-])" + re.escape(w) + r"(?![A-Za-z0-9_-])")
            text = pat.sub(lambda _m, w=w: self._placeholder(kind, w), text)  # type: ignore[misc]
        return text

    def redact(self, text: str) -> str:
        text = self._words(text, self.hosts, "host")
        text = self._words(text, self.users, "user")
        if self.redact_ips:
            text = IPV4.sub(lambda m: self._placeholder("ip", m[0]), text)
            text = IPV6.sub(lambda m: self._placeholder("ip", m[0]), text)
        for p in self.patterns:
            text = p.sub(lambda m: self._placeholder("redacted", m[0]), text)
        return text

    def summary(self) -> list[dict[str, object]]:
        """What was redacted: kind, placeholder and count (never the original value)."""
        return sorted(
            (
                {"kind": kind, "placeholder": ph, "count": self.counts.get(ph, 0)}
                for kind, ph in self.mapping.values()
            ),
            key=lambda d: (str(d["kind"]), str(d["placeholder"])),
        )


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    from crashhub.errors import InputError  # noqa: PLC0415

    out = []
    for raw in patterns:
        p = raw.strip()
        if not p or p.startswith("#"):
            continue
        if len(p) > 512:
            raise InputError(f"redaction pattern longer than 512 characters: {p[:40]!r}...")
        try:
            out.append(re.compile(p))
        except re.error as e:
            raise InputError(f"bad redaction pattern {p!r}: {e}") from None
    return out
