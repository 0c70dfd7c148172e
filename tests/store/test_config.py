"""Settings: every setting documented, docs/settings.md generated from the table, precedence."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from crashhub import config
from crashhub.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    names = [s.name for s in config.SETTINGS]
    assert len(names) == len(set(names))
    # Every field is a row of the table (one made with field() rather than _setting() would not be).
    assert [f.name for f in dataclasses.fields(config.Settings)] == [*names, "sources"]
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


def test_settings_are_typed_for_mypy(tmp_path: Path) -> None:
    """A misspelt setting, or one used as the wrong type, is a type error; the right use is not."""
    api = pytest.importorskip("mypy.api")
    (tmp_path / "mypy.ini").write_text(f"[mypy]\nstrict = True\nmypy_path = {REPO / 'src'}\n")
    (tmp_path / "use.py").write_text(
        "from crashhub.config import Settings\n\n\n"
        "def good(s: Settings) -> tuple[int, float, bool, str | None, str]:\n"
        "    return s.workers, s.job_lease, s.starter_kb, s.vmlinux_dir, s.queue\n\n\n"
        "def bad(s: Settings) -> list[int]:\n"
        "    n: int = s.wrokers\n"  # passed mypy --strict while settings were Any
        "    m: int = s.listen\n"
        "    return [n, m]\n"
    )
    args = ["--config-file", str(tmp_path / "mypy.ini"), "--cache-dir", str(tmp_path / "cache")]
    out, err, status = api.run([*args, str(tmp_path / "use.py")])
    errors = [line.split("use.py:", 1)[1] for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert len(errors) == 2, out
    assert errors[0].startswith('9: error: "Settings" has no attribute "wrokers"'), out
    assert errors[1].startswith('10: error: Incompatible types in assignment (expression has type "str"'), out


def test_values_have_their_fields_types(tmp_path: Path) -> None:
    env = {"CRASHHUB_WORKERS": "0x10", "CRASHHUB_STARTER_KB": "off", "CRASHHUB_JOB_LEASE": "7"}
    s = config.load(tmp_path, env=env, spike_factor="2.5", port=9000.0)
    assert (s.workers, s.starter_kb, s.job_lease, s.spike_factor, s.port) == (16, False, 7.0, 2.5, 9000)
    for row in config.SETTINGS:
        value = getattr(s, row.name)
        assert value is None or type(value) is row.type, row.name
    assert s.as_dict()["workers"] == 16 and set(s.as_dict()) == {r.name for r in config.SETTINGS}
    assert "sources" not in s.as_dict()
    with pytest.raises(AttributeError):
        s.workers = 3  # type: ignore[misc]


def test_closed_sets_are_checked_at_load_time(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"setting 'queue' wants one of 'local', 'celery', got 'redis'"):
        config.load(tmp_path, env={"CRASHHUB_QUEUE": "redis"})
    with pytest.raises(ConfigError, match="CRASHHUB_QUEUE"):
        config.load(tmp_path, env={"CRASHHUB_QUEUE": "Celery"})  # a backend's name is exact
    (tmp_path / "crashhub.toml").write_text("log_level = 'verbose'\n")
    with pytest.raises(ConfigError, match=r"crashhub\.toml: setting 'log_level' wants one of"):
        config.load(tmp_path, env={})
    (tmp_path / "crashhub.toml").write_text("log_level = 'WARNING'\n")
    assert config.load(tmp_path, env={}).log_level == "warning"  # log levels in any case, as before
    assert config.load(tmp_path, env={}, queue="celery").queue == "celery"
    assert {r.name: r.choices for r in config.SETTINGS if r.choices} == {
        "queue": ("local", "celery"),
        "log_level": ("debug", "info", "warning", "error", "critical"),
    }


_ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _environment_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in _ENV_NAMES
        ):
            found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = [a.name for a in node.names if a.name in _ENV_NAMES]
            found += [f"{path}:{node.lineno}: from os import {name}" for name in names]
    return found


def test_only_config_reads_the_environment() -> None:
    src = REPO / "src" / "crashhub"
    reads = [r for p in sorted(src.rglob("*.py")) if p != src / "config.py" for r in _environment_reads(p)]
    assert reads == [], "read the environment through crashhub.config:\n" + "\n".join(reads)
    assert _environment_reads(src / "config.py"), "the check itself finds os.environ"


def test_from_dict_inverts_as_dict(tmp_path: Path) -> None:
    s = config.load(tmp_path, env={"CRASHHUB_QUEUE": "celery", "CRASHHUB_SPOOL_DIR": ""}, workers=5)
    back = config.Settings.from_dict(s.as_dict())
    assert back == s and back.as_dict() == s.as_dict() and back.spool_path is None
    assert config.Settings.from_dict({"port": "9001"}).port == 9001
    assert config.Settings.from_dict({}).sources["port"] == "default"
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        config.Settings.from_dict({"prot": 1})
    with pytest.raises(ConfigError, match="setting 'queue' wants one of"):
        config.Settings.from_dict({"queue": "redis"})
