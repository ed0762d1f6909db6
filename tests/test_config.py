"""Configuration: the order it is read in, and a bad value stopping start-up with one line naming it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from onboarding import create_app
from onboarding.config import SETTINGS, ConfigError

ONBOARDING = str(Path(sys.executable).with_name("onboarding"))


def _env(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env["ONBOARDING_INSTANCE_PATH"] = str(instance)
    env.update(extra)
    return env


def _cli(instance: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ONBOARDING, *args], env=_env(instance, **extra), capture_output=True, text=True, timeout=60
    )


BAD_VALUES = [
    ("ONBOARDING_SINGLE_ORGANIZATION", "maybe", "must be true or false"),
    ("ONBOARDING_SINGLE_ORGANIZATION", "", "must be true or false"),
    ("ONBOARDING_ALLOW_REGISTRATION", "yes please", "must be true or false"),
    ("ONBOARDING_INVITE_EXPIRY_SECONDS", "a week", "must be a whole number"),
    ("ONBOARDING_INVITE_EXPIRY_SECONDS", "1.5", "must be a whole number"),
    ("ONBOARDING_INVITE_EXPIRY_SECONDS", "10", "must be at least 60"),
    (
        "ONBOARDING_DATABASE_URL",
        "mysql://root@localhost/db",
        "must be a sqlite:// or postgresql+psycopg:// URL",
    ),
    ("ONBOARDING_DATABASE_URL", "postgresql+psycopg://u:secret@host:notaport/db", "not a valid database URL"),
    ("ONBOARDING_REDIS_URL", "http://localhost:6379", "must start with one of redis://"),
    ("ONBOARDING_BASE_URL", "example.com", "must start with one of http://, https://"),
    ("ONBOARDING_BASE_URL", "https://", "must be an absolute URL"),
    ("ONBOARDING_MAIL_URL", "imap://mail.example.com", "must start with one of smtp://"),
    ("ONBOARDING_MAIL_URL", "file://relative/folder", "must name an absolute folder"),
    ("ONBOARDING_MAIL_URL", "smtp://", "must name the mail server"),
    ("ONBOARDING_MAIL_URL", "smtp://mail.example.com:port", "invalid port"),
    ("ONBOARDING_TRUSTED_PROXIES", "-1", "must be at least 0"),
    ("ONBOARDING_TRUSTED_PROXIES", "10.0.0.1", "must be a whole number"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("variable", "value", "message"), BAD_VALUES)
def test_bad_value_stops_start_up_with_one_line(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = _cli(tmp_path / "instance", "db", "upgrade", **{variable: value})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {variable} ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "secret" not in lines[0]  # a URL's password is never echoed
    # Nothing half-started: no database file was created.
    assert not (tmp_path / "instance" / "onboarding.sqlite3").exists()


@pytest.mark.slow
def test_good_values_start(tmp_path: Path) -> None:
    result = _cli(
        tmp_path / "instance",
        "db",
        "upgrade",
        ONBOARDING_SINGLE_ORGANIZATION="false",
        ONBOARDING_ALLOW_REGISTRATION="TRUE",
        ONBOARDING_INVITE_EXPIRY_SECONDS=" 3600 ",
        ONBOARDING_TRUSTED_PROXIES="1",
        ONBOARDING_BASE_URL="https://onboarding.example.com/",
        ONBOARDING_MAIL_URL="smtp://user:pw@mail.example.com:587?starttls=1",
        ONBOARDING_REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "instance" / "onboarding.sqlite3").exists()


def _only_env(monkeypatch: pytest.MonkeyPatch, instance: Path, **env: str) -> None:
    for name in list(os.environ):
        if name.startswith("ONBOARDING_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ONBOARDING_INSTANCE_PATH", str(instance))
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _make(monkeypatch: pytest.MonkeyPatch, instance: Path, **test_config: Any) -> Any:
    _only_env(monkeypatch, instance)
    return create_app(test_config or None)


def test_values_are_converted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ONBOARDING_ALLOW_REGISTRATION", "on")
    app = _make(
        monkeypatch,
        tmp_path,
        SINGLE_ORGANIZATION="0",
        INVITE_EXPIRY_SECONDS="120",
        BASE_URL="https://x.test/",
    )
    assert app.config["SINGLE_ORGANIZATION"] is False
    assert app.config["INVITE_EXPIRY_SECONDS"] == 120
    assert app.config["BASE_URL"] == "https://x.test"
    assert app.config["SESSION_COOKIE_SECURE"] is True  # a public https address means Secure cookies


def test_order_defaults_file_environment_test_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text(
        'ORGANIZATION_NAME = "From file"\nMAIL_FROM = "file@example.com"\nREGISTRATIONS_PER_IP = 7\n'
    )
    _only_env(
        monkeypatch, tmp_path, ONBOARDING_MAIL_FROM="env@example.com", ONBOARDING_REGISTRATIONS_PER_IP="8"
    )
    app = create_app({"REGISTRATIONS_PER_IP": 9})
    assert app.config["ORGANIZATION_NAME"] == "From file"  # file over default
    assert app.config["MAIL_FROM"] == "env@example.com"  # environment over file
    assert app.config["REGISTRATIONS_PER_IP"] == 9  # test config over environment
    assert app.config["LOGIN_FAILURES_PER_EMAIL"] == 5  # default


def test_other_flask_settings_from_environment_are_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _only_env(
        monkeypatch, tmp_path, ONBOARDING_WTF_CSRF_ENABLED="false", ONBOARDING_SESSION_COOKIE_NAME="custom"
    )
    app = create_app()
    assert app.config["WTF_CSRF_ENABLED"] is False  # not the truthy string "false"
    assert app.config["SESSION_COOKIE_NAME"] == "custom"


def test_bad_value_in_process_raises_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^ONBOARDING_TRUSTED_PROXIES "):
        _make(monkeypatch, tmp_path, TRUSTED_PROXIES="two")


def test_secret_key_created_once_with_mode_0600(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    first = _make(monkeypatch, instance)
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) >= 64
    before = key_file.stat().st_mtime_ns
    second = _make(monkeypatch, instance)
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    assert key_file.stat().st_mtime_ns == before
    # A key given in the environment wins, and the file is left alone.
    monkeypatch.setenv("ONBOARDING_SECRET_KEY", "from-env")
    monkeypatch.setenv("ONBOARDING_INSTANCE_PATH", str(instance))
    assert create_app().config["SECRET_KEY"] == "from-env"


@pytest.mark.slow
def test_secret_key_file_created_by_cli_once(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    assert _cli(instance, "db", "upgrade").returncode == 0
    key = (instance / "secret_key").read_text()
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
    assert _cli(instance, "db", "upgrade").returncode == 0
    assert (instance / "secret_key").read_text() == key


@pytest.mark.parametrize(
    "url",
    ["postgres://u:pw@db.example.com:5432/onb", "postgresql://u:pw@db.example.com:5432/onb"],
)
def test_postgres_url_normalised_to_psycopg3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    app = _make(monkeypatch, tmp_path, DATABASE_URL=url, SECRET_KEY="k")
    expected = "postgresql+psycopg://u:pw@db.example.com:5432/onb"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert app.config["DATABASE_URL"] == expected


def test_default_database_is_sqlite_in_instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = _make(monkeypatch, tmp_path, SECRET_KEY="k")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'onboarding.sqlite3'}"
    assert app.config["MAIL_URL"] == f"file://{tmp_path / 'mail'}"


def test_numbers_from_the_environment_are_numbers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Issue 11, point 9: these three stayed strings, and with one of them set every registration was a 500.
    _only_env(
        monkeypatch,
        tmp_path,
        ONBOARDING_REGISTRATIONS_PER_IP="7",
        ONBOARDING_REGISTRATION_WINDOW=" 60 ",
        ONBOARDING_SESSION_TOUCH_SECONDS="30",
    )
    app = create_app()
    assert app.config["REGISTRATIONS_PER_IP"] == 7
    assert app.config["REGISTRATION_WINDOW"] == 60
    assert app.config["SESSION_TOUCH_SECONDS"] == 30


def test_every_setting_in_the_table_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _only_env(monkeypatch, tmp_path, **{f"ONBOARDING_{key}": s.example for key, s in SETTINGS.items()})
    app = create_app()
    for key, setting in SETTINGS.items():
        expected = setting.parse(key, setting.example)
        assert expected != setting.default, f"{key}: its example must differ from its default"
        assert app.config[key] == expected, key
        if setting.default is not None:
            assert type(app.config[key]) is type(setting.default), key


BAD_BY_KIND = {"flag": "maybe", "number": "many", "choice": "neither", "words": "[1, 2]"}


@pytest.mark.parametrize("key", sorted(k for k, s in SETTINGS.items() if s.kind in BAD_BY_KIND))
def test_every_typed_setting_refuses_a_bad_value_with_its_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str
) -> None:
    _only_env(monkeypatch, tmp_path, **{f"ONBOARDING_{key}": BAD_BY_KIND[SETTINGS[key].kind]})
    with pytest.raises(ConfigError, match=f"^ONBOARDING_{key} "):
        create_app()


# Settings of extensions (Flask-SQLAlchemy, Flask-WTF, Flask-Compress) that the code sets defaults for.
EXTENSION_PREFIXES = ("SQLALCHEMY_", "WTF_", "COMPRESS_")


def test_the_code_reads_only_settings_in_the_table() -> None:
    """A setting read in the code but missing from the table would stay text when set from the
    environment (issue 11, point 9): add it to ``SETTINGS`` in onboarding/config.py."""
    pattern = re.compile(r"""(?:config|cfg)(?:\[|\.get\(|\.setdefault\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    package = Path(__file__).resolve().parent.parent / "onboarding"
    missing = set()
    for path in package.rglob("*.py"):
        if path.name == "config.py" and path.parent == package:
            continue
        for key in pattern.findall(path.read_text()):
            owned_by_flask = key in Flask.default_config or key.startswith(EXTENSION_PREFIXES)
            if key not in SETTINGS and not owned_by_flask:
                missing.add(f"{key} ({path.relative_to(package.parent)})")
    assert not missing, f"settings read but not in config.SETTINGS: {sorted(missing)}"
