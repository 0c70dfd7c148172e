"""Crash text made inert for each chat service's markup.

A panic message, a bucket title or a host name comes from the crashed machine, and so from whoever
controls it: written into a chat message as is, ``<!channel>`` pings a whole Slack channel,
``<https://evil|Click here>`` is a link that shows other words than where it goes, and Markdown's
``[x](https://evil)`` does the same on DingTalk and WeCom.  These functions escape such text for one
format; the hub's own markup (its link to the bucket, an admin's advice) is added around them.
"""

from __future__ import annotations

import re

# Markdown's inline syntax: links and images (no "[" is left to follow a "!"), emphasis, code,
# strike-through, tables, and the backslash itself.  Angle brackets become entities (raw HTML,
# autolinks and WeCom's <@user> mentions).  Crash values are put in mid-line (one_line), where "#",
# "-" and "+" mean nothing, so a kernel release keeps its hyphens.
_MD = re.compile(r"([\\`*_\[\]()~|])")


def one_line(text: str) -> str:
    """Line breaks in a crash-supplied value would start a heading or a list item of their own."""
    return " ".join(text.split())


def slack(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting):
    with ``<`` and ``>`` escaped no ``<!channel>``, ``<@user>`` or ``<url|label>`` can be formed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown(text: str) -> str:
    """Text shown literally by a Markdown renderer (DingTalk, WeCom)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD.sub(r"\\\1", text)


def feishu_text(text: str) -> str:
    """Feishu's text message has one tag, ``<at user_id="all">``: a zero-width space after every
    ``<`` keeps it (and any later tag) from being read as one, and shows the same characters."""
    return text.replace("<", "<\u200b")
