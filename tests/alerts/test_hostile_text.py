"""Issue 14 finding 6: crash text reaches chat services as text, never as their markup."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from tests.alerts.conftest import Receiver
from tests.alerts.test_alerts import NOW, bucket, crash

from crashhub.alerts import Channel
from crashhub.alerts import _rules as rules
from crashhub.alerts._advice import advice_alert
from crashhub.alerts._engine import AlertConfig, Dispatcher

# A panic message as a compromised host can write it (it becomes the bucket's title).
HOSTILE = "Kernel panic - not syncing: <!channel> <https://evil|Click here> [x](https://evil) <@U123>"
HOST = "db7<!here>"


def _send(receiver: Receiver, tmp_path: Path, alert: rules.Alert) -> dict[str, dict[str, object]]:
    chans = [Channel(name=f, type="webhook", format=f, url=f"{receiver.url}/{f}")
             for f in ("slack", "feishu", "dingtalk", "wecom")]
    log = Dispatcher(AlertConfig(channels=chans), tmp_path, clock=lambda: NOW).dispatch([alert])
    assert [r.result for r in log] == ["sent"] * 4
    return {urlparse(g["path"]).path.strip("/"): g["body"] for g in receiver.got}


def _markdown_is_inert(text: str) -> None:
    assert "](" not in text.replace("](http://hub/ui/buckets/b1)", "")  # only the hub's own link
    assert "<" not in text and "\\[x\\]\\(https://evil\\)" in text


def test_hostile_panic_message_in_every_chat_format(receiver: Receiver, tmp_path: Path) -> None:
    alert = rules.on_crash(crash(host=HOST), bucket(title=HOSTILE), True, base_url="http://hub")[0]
    by = _send(receiver, tmp_path, alert)
    slack = str(by["slack"]["text"])
    # No Slack control sequence but the hub's own link: no mention, no disguised link.
    assert slack.count("<") == 1 and "<http://hub/ui/buckets/b1|open in crashhub>" in slack
    assert "&lt;!channel&gt;" in slack and "&lt;https://evil|Click here&gt;" in slack
    assert "db7&lt;!here&gt;" in slack
    for fmt, text in (("dingtalk", by["dingtalk"]["markdown"]["text"]),  # type: ignore[index]
                      ("wecom", by["wecom"]["markdown"]["content"])):  # type: ignore[index]
        assert isinstance(text, str), fmt
        _markdown_is_inert(text)
        assert "&lt;!channel&gt;" in text and "db7&lt;!here&gt;" in text
    feishu = str(by["feishu"]["content"]["text"])  # type: ignore[index]
    assert "<at" not in feishu and "<\u200b!channel>" in feishu


def test_owner_advice_keeps_its_markdown_and_escapes_the_crash_text(
    receiver: Receiver, tmp_path: Path
) -> None:
    b = bucket(title=HOSTILE)
    alert = advice_alert(b, "Update to **6.1.0-59** ([changelog](https://kb.example/1)).",
                         {HOST: {"6.1.0-58-amd64"}}, "advice:b1:1", "http://hub")
    by = _send(receiver, tmp_path, alert)
    for text in (by["dingtalk"]["markdown"]["text"], by["wecom"]["markdown"]["content"]):  # type: ignore[index]
        assert isinstance(text, str)
        assert "**6.1.0-59** ([changelog](https://kb.example/1))" in text  # the admin's Markdown
        assert "\\[x\\]\\(https://evil\\)" in text and "&lt;!channel&gt;" in text
        assert "- db7&lt;!here&gt;" in text
    slack = str(by["slack"]["text"])
    assert "<!" not in slack and "<https://evil" not in slack
