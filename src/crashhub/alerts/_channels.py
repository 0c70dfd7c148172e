"""Where alerts go: webhooks in five payload formats, and mail over SMTP.

Payload builders are pure (an alert in, the JSON body out); ``deliver`` does the I/O and returns
a :class:`Delivery` whatever happens, so every attempt can be logged with its result.

Formats (each chat service's "incoming webhook / custom bot" message shape):

- ``json``: ``{"source": "crashhub", "alert": {...}}``, for your own receiver;
- ``slack``: ``{"text": ...}`` with Slack's ``<url|label>`` link markup;

Crash text (titles, panic messages, host names) is escaped for each format's markup (``markup.py``):
only the hub's own link and an admin's advice are markup.
- ``feishu`` (Feishu/Lark custom bot): ``{"msg_type": "text", "content": {"text": ...}}``; with a
  secret, ``timestamp`` and ``sign`` = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg=""));
- ``dingtalk`` (DingTalk custom robot): ``{"msgtype": "markdown", "markdown": {"title", "text"}}``;
  with a secret, ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))
  go into the URL's query;
- ``wecom`` (WeCom group robot): ``{"msgtype": "markdown", "markdown": {"content": ...}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote_plus

from crashhub.alerts import _markup as markup
from crashhub.alerts._rules import Alert
from crashhub.model import JsonObject

FORMATS = ("json", "slack", "feishu", "dingtalk", "wecom")


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    type: str  # "webhook" | "smtp"
    format: str = "json"
    url: str | None = None
    secret: str | None = None
    rules: tuple[str, ...] = ()  # empty: every rule
    # SMTP
    host: str | None = None
    port: int = 25
    sender: str | None = None
    to: tuple[str, ...] = ()
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    ok: bool
    status: int | None
    error: str | None
    seconds: float


def _md(a: Alert) -> str:
    # The title and the text carry crash text (escaped); only a text built as Markdown by the hub,
    # with its crash values escaped where they went in (the owner advice), is passed as written.
    link = f"\n\n[open in crashhub]({a.link})" if a.link else ""
    text = a.text if a.markdown else markup.markdown(a.text)
    return (f"### {markup.markdown(markup.one_line(a.title))}\n\n{text}\n\n"
            f"rule: {a.rule} · severity: {a.severity}{link}")


def _plain(a: Alert) -> str:
    return f"[crashhub] {a.title}\n{a.plain or a.text}" + (f"\n{a.link}" if a.link else "")


def _slack(a: Alert) -> str:
    link = f"\n<{a.link}|open in crashhub>" if a.link else ""
    return f"*{markup.slack(markup.one_line(a.title))}*\n{markup.slack(a.plain or a.text)}{link}"


def payload(fmt: str, a: Alert, secret: str | None = None, now: float | None = None) -> JsonObject:
    """The JSON body for format ``fmt`` (Feishu's signature goes into the body)."""
    if fmt == "json":
        return {"source": "crashhub", "alert": a.wire()}
    if fmt == "slack":
        return {"text": _slack(a)}
    if fmt == "feishu":
        body: JsonObject = {"msg_type": "text", "content": {"text": markup.feishu_text(_plain(a))}}
        if secret:
            ts = str(int(now if now is not None else time.time()))
            key = f"{ts}\n{secret}".encode()
            body["timestamp"] = ts
            body["sign"] = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return body
    if fmt == "dingtalk":
        # The title is the notification's preview text, not Markdown.
        return {"msgtype": "markdown", "markdown": {"title": markup.one_line(a.title)[:64], "text": _md(a)}}
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _md(a)[:4096]}}
    raise ValueError(f"unknown webhook format {fmt!r} ({', '.join(FORMATS)})")


def signed_url(fmt: str, url: str, secret: str | None, now: float | None = None) -> str:
    """DingTalk's signature rides in the URL's query; other formats use the URL as given."""
    if fmt != "dingtalk" or not secret:
        return url
    ts = str(int((now if now is not None else time.time()) * 1000))
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={ts}&sign={quote_plus(base64.b64encode(mac).decode())}"


def _answer_ok(fmt: str, status: int, body: Any) -> tuple[bool, str | None]:
    # The chat services answer 200 with an error code in the body for a refused message.
    if not 200 <= status < 300:
        return False, f"HTTP {status}"
    if isinstance(body, dict):
        code = body.get("errcode", body.get("code", body.get("StatusCode", 0)))
        if code not in (0, None, "0"):
            return False, f"{fmt} error {code}: {body.get('errmsg') or body.get('msg') or ''}".strip()
    return True, None


def deliver(ch: Channel, a: Alert) -> Delivery:
    t0 = time.monotonic()
    try:
        if ch.type == "webhook":
            import httpx  # noqa: PLC0415

            if not ch.url:
                raise ValueError("webhook channel without url")
            r = httpx.post(
                signed_url(ch.format, ch.url, ch.secret),
                json=payload(ch.format, a, ch.secret),
                headers=ch.headers,
                timeout=ch.timeout,
            )
            try:
                body = r.json()
            except ValueError:
                body = None
            ok, err = _answer_ok(ch.format, r.status_code, body)
            return Delivery(ch.name, ok, r.status_code, err, round(time.monotonic() - t0, 3))
        if ch.type == "smtp":
            send_mail(ch, a)
            return Delivery(ch.name, True, None, None, round(time.monotonic() - t0, 3))
        raise ValueError(f"unknown channel type {ch.type!r}")
    except Exception as e:  # a channel failing must never stop the others: the log says why
        return Delivery(ch.name, False, None, f"{type(e).__name__}: {e}", round(time.monotonic() - t0, 3))


def send_mail(ch: Channel, a: Alert) -> None:
    if not ch.host or not ch.sender or not ch.to:
        raise ValueError("smtp channel needs host, sender and to")
    msg = EmailMessage()
    msg["Subject"] = f"[crashhub] {a.title}"
    msg["From"] = ch.sender
    msg["To"] = ", ".join(ch.to)
    msg["X-Crashhub-Rule"] = a.rule
    msg["X-Crashhub-Key"] = a.key
    link = f"{a.link}\n" if a.link else ""
    msg.set_content(f"{a.plain or a.text}\n\nrule: {a.rule}\nseverity: {a.severity}\n{link}")
    with smtplib.SMTP(ch.host, ch.port, timeout=ch.timeout) as s:
        if ch.starttls:
            s.starttls()
        if ch.username:
            s.login(ch.username, ch.password or "")
        s.send_message(msg)
