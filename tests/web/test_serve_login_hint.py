"""``crashhub serve`` without a UI user says how to make one (an operator's first question)."""

from __future__ import annotations

from pathlib import Path

from crashhub import config
from crashhub.store import open_store
from crashhub.web.ui.session import Users

from .conftest import make_server


def test_serve_says_how_to_log_in_until_a_user_exists(tmp_path: Path) -> None:
    srv = make_server(tmp_path)
    srv.start()
    srv.stop()
    assert "no UI user yet" in srv.log.read_text()
    assert "crashhub user add NAME --role admin" in srv.log.read_text()
    hub = open_store(config.load(srv.data, env={}))
    try:
        Users(hub.store).add("ann", "a long password", "admin")
    finally:
        hub.close()
    srv.log.write_text("")
    srv.start()
    srv.stop()
    assert "crashhub serve: UI at" in srv.log.read_text()
    assert "no UI user yet" not in srv.log.read_text()
