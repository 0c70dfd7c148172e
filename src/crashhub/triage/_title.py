"""Title normalisation: one ordered replacement table, so a title names a bug, not one occurrence.

After syzkaller's ``dynamicTitleReplacement``: executor numbers, long hex runs, IP addresses, line
numbers, ``func+0x1/0x2`` offsets, CPU numbers and standalone numbers become placeholders; then
tabs, non-printable characters and repeated spaces go, and the title is cut at 120 characters.
"""

from __future__ import annotations

import re

from crashhub import _regex

REPLACEMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_regex.compile(r"syz-executor\.?[0-9]+((/|:)[0-9]+)?"), "syz-executor"),
    (_regex.compile(r"syzkaller[0-9]+((/|:)[0-9]+)?"), "syzkaller"),
    (_regex.compile(r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}"), r"\1ADDR"),
    (_regex.compile(r"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})"), "IP"),
    (_regex.compile(r"(\.\w+)(:[0-9]+)+"), r"\1:LINE"),
    (_regex.compile(r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+"), r"\1"),
    (_regex.compile(r"CPU#[0-9]+"), "CPU"),
    # Twice: overlapping matches ("0,1,2") need a second pass.
    (_regex.compile(r"(\W)(\d+)(\W|$)"), r"\1NUM\3"),
    (_regex.compile(r"(\W)(\d+)(\W|$)"), r"\1NUM\3"),
    (_regex.compile(r"\d{7,}"), "NUM"),
)
# The text each replacement's regexp needs ("" where none is plain): a title without it is left as is
# without running the regexp (normalize runs for every report).
_NEEDS = ("syz-executor", "syzkaller", "", ".", ":", "+0x", "CPU#", "", "", "")
MAX_TITLE = 120
_SPACES = _regex.compile(r"\s+")
_NON_PRINTABLE = _regex.compile(r"[^\x20-\x7e]")


def normalize(title: str) -> str:
    """The stable form of a title (placeholders for everything an occurrence changes)."""
    for (pat, repl), needs in zip(REPLACEMENTS, _NEEDS, strict=True):
        if needs in title:
            title = pat.sub(repl, title)
    return sanitize(title)


def sanitize(title: str) -> str:
    title = title.replace("\t", " ")
    if not (title.isascii() and title.isprintable()):  # printable ASCII is all _NON_PRINTABLE keeps
        title = _NON_PRINTABLE.sub("", title)
    if "  " in title:  # the only white space left is " " (the rest is not printable)
        title = _SPACES.sub(" ", title)
    return title.strip()[:MAX_TITLE]
