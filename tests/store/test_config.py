"""Settings: every setting documented, docs/settings.md generated from the table, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashhub import config
from crashhub.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    names = [s.name for s in config.SETTINGS]
    assert len(names) == len(set(names))
    for s in config.SETTINGS:
        assert len(s.help) > 20, s.name
        assert s.type in (str, int, float, bool), s.name
        assert s.default is None or isinstance(s.default, s.type), s.name


def test_docs_settings_md_is_generated_from_the_table() -> None:
    doc = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert doc == config.render_markdown(), "regenerate: python -m crashhub.config > docs/settings.md"


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "crashhub.toml").write_text("[crashhub]\nport = 9000\nworkers = 5\n")
    env = {"CRASHHUB_WORKERS": "7", "CRASHHUB_DATA": str(tmp_path)}
    s = config.load(None, env=env, port=None)
    assert (s.port, s.workers, s.data) == (9000, 7, str(tmp_path))
    assert s.sources["port"].endswith("crashhub.toml") and s.sources["workers"] == "CRASHHUB_WORKERS"
    s2 = config.load(tmp_path, env=env, port=9100)
    assert s2.port == 9100
    assert s2.db_url == f"sqlite:///{(tmp_path / 'crashhub.db').resolve()}"
    assert s2.blob_dir == tmp_path / "blobs" and s2.kb_path == tmp_path / "kb"


def test_bad_settings_name_the_source(tmp_path: Path) -> None:
    (tmp_path / "crashhub.toml").write_text("prot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'prot'"):
        config.load(tmp_path, env={})
    (tmp_path / "crashhub.toml").write_text("port = 'x'\n")
    with pytest.raises(ConfigError, match=r"crashhub\.toml"):
        config.load(tmp_path, env={})
    with pytest.raises(ConfigError, match="CRASHHUB_PORT"):
        config.load(tmp_path / "other", env={"CRASHHUB_PORT": "eighty"})
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path, config_file=tmp_path / "nope.toml", env={})


def test_spool_can_be_disabled(tmp_path: Path) -> None:
    assert config.load(tmp_path, env={"CRASHHUB_SPOOL_DIR": ""}).spool_path is None
