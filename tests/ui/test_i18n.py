"""Every message the UI and the reports use has a Simplified Chinese translation; language negotiation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crashhub import i18n
from crashhub.analyze import SEVERITIES
from crashhub.i18n._catalog_zh import KIND_SUMMARY_ZH, ZH
from crashhub.kb import KINDS

SRC = Path(__file__).resolve().parents[2] / "src" / "crashhub"
_CALL = re.compile(r"""_\((?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\)""")
# Values the templates pass through _() as variables (statuses, roles, a finding's severity).
DYNAMIC = ("known", "new", "regression", "viewer", "admin",
           "investigating", "advice given", "known issue", "fixed", *SEVERITIES)


def used_messages() -> set[str]:
    files = [*(SRC / "web" / "ui" / "templates").glob("*.html"), SRC / "report" / "_render.py",
             SRC / "report" / "_diagnosis.py", SRC / "web" / "ui" / "_kb.py"]
    out: set[str] = set(DYNAMIC)
    for f in files:
        for a, b in _CALL.findall(f.read_text("utf-8")):
            out.add(a or b)
    return out


def test_every_message_has_a_chinese_translation() -> None:
    msgs = used_messages()
    assert len(msgs) > 100
    missing = sorted(m for m in msgs if m not in ZH)
    assert not missing, missing
    # Placeholders survive translation.
    for m in msgs:
        assert set(re.findall(r"{\w+}", m)) == set(re.findall(r"{\w+}", ZH[m])), m


def test_every_kind_has_a_summary_in_both_languages() -> None:
    assert set(KINDS) <= set(i18n.KIND_SUMMARY_EN)
    assert set(KINDS) <= set(KIND_SUMMARY_ZH)


@pytest.mark.parametrize(
    ("header", "setting", "want"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", None, "en"),
        ("fr-FR,zh-TW;q=0.5", None, "zh"),
        ("de", None, "en"),
        (None, None, "en"),
        ("zh-CN", "en", "en"),
        ("en", "zh_CN.UTF-8", "zh"),
        ("zh;q=0, en;q=0.1", None, "en"),
    ],
)
def test_negotiate(header: str | None, setting: str | None, want: str) -> None:
    assert i18n.negotiate(header, setting) == want
