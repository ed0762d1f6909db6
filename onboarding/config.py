"""Configuration: defaults → ``instance/config.py`` → ``ONBOARDING_*`` environment → test config.

Every setting a person can change is one line of :data:`SETTINGS` below: its type, its default, its
limits, and an example value. At start-up each value, wherever it came from, is converted and checked
by its line; a bad value raises :class:`ConfigError` whose message is one line naming the variable (the
CLI prints that line and exits, so nothing half-starts). ``tests/test_config.py`` sets every line's
example from the environment, and fails when the code reads a setting that is not in the table.

To add a setting, add one line, e.g. ``"WIDGETS_PER_DAY": number(50, minimum=1),`` and read it as
``current_app.config["WIDGETS_PER_DAY"]`` (already an int).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ONBOARDING"


class ConfigError(Exception):
    """A configuration value is unusable; the message names the variable."""


def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"{PREFIX}_{key} {message}")


@dataclass(frozen=True)
class Setting:
    """One row of the table: ``parse(key, value)`` turns a raw (text) or already typed value into
    the typed value, or raises :class:`ConfigError`; ``example`` is a valid environment value."""

    default: Any
    parse: Callable[[str, Any], Any]
    example: str
    kind: str  # the constructor's name: flag, number, text, choice, words


def flag(default: bool) -> Setting:
    """true/false (also 1/0, yes/no, on/off)."""

    def parse(key: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise _fail(key, f"must be true or false, not {value!r}")

    return Setting(default, parse, "false" if default else "true", "flag")


def number(default: int | None, minimum: int, maximum: int | None = None) -> Setting:
    """A whole number within [minimum, maximum]; a default of None makes it optional (empty = None)."""

    def parse(key: str, value: Any) -> int | None:
        if value is None or (default is None and isinstance(value, str) and not value.strip()):
            if default is None:
                return None
            raise _fail(key, "must be a whole number")
        if isinstance(value, bool | float):
            raise _fail(key, f"must be a whole number, not {value!r}")
        try:
            result = value if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            raise _fail(key, f"must be a whole number, not {value!r}") from None
        if result < minimum:
            raise _fail(key, f"must be at least {minimum}, not {value!r}")
        if maximum is not None and result > maximum:
            raise _fail(key, f"must be at most {maximum}, not {value!r}")
        return result

    return Setting(default, parse, str(minimum + 1 if default == minimum else minimum), "number")


def text(
    default: str | None, example: str = "example", check: Callable[[str], str | None] = lambda v: None
) -> Setting:
    """Text, stripped; ``check`` returns an error message (after the variable's name) or None.
    A default of None makes it optional: empty means unset."""

    def parse(key: str, value: Any) -> str | None:
        if value is None or not str(value).strip():
            if default is None:
                return None
            raise _fail(key, "must not be empty")
        result = str(value).strip()
        problem = check(result)
        if problem:
            raise _fail(key, problem)
        return result

    return Setting(default, parse, example, "text")


def choice(default: str, *options: str) -> Setting:
    """One of a few words (compared without case)."""

    def parse(key: str, value: Any) -> str:
        word = str(value).strip()
        for option in options:
            if word.lower() == option.lower():
                return option
        raise _fail(key, f"must be {' or '.join(options)}, not {value!r}")

    return Setting(default, parse, next(o for o in options if o != default), "choice")


def words(default: list[str], example: str = "one, two") -> Setting:
    """A list: a JSON list, or comma separated text."""

    def parse(key: str, value: Any) -> list[str]:
        if isinstance(value, str):
            raw = value.strip()
            try:
                value = json.loads(raw) if raw.startswith("[") else [w for w in raw.split(",")]
            except ValueError:
                raise _fail(key, "must be a JSON list or comma separated words") from None
        if not isinstance(value, list | tuple) or not all(isinstance(w, str) for w in value):
            raise _fail(key, "must be a list of words")
        return [w.strip() for w in value if w.strip()]

    return Setting(default, parse, example, "words")


def _url(*schemes: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if urlsplit(value).scheme not in schemes:
            return f"must start with one of {', '.join(s + '://' for s in schemes)}"
        return None

    return check


def _base_url(value: str) -> str | None:
    return _url("http", "https")(value) or (
        None if urlsplit(value).netloc else "must be an absolute URL such as https://example.com"
    )


def _database_url(value: str) -> str | None:
    url = _normalise_database_url(value)
    if not (url.startswith("sqlite:") or url.startswith("postgresql+psycopg://")):
        return "must be a sqlite:// or postgresql+psycopg:// URL"
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        return "is not a valid database URL"  # never repeats the URL: it may hold a password
    return None


def _mail_url(value: str) -> str | None:
    problem = _url("smtp", "smtps", "file", "console")(value)
    if problem:
        return problem
    mail = urlsplit(value)
    if mail.scheme == "file" and (mail.netloc or not mail.path.startswith("/")):
        return "must name an absolute folder, such as file:///var/mail/onboarding"
    if mail.scheme in ("smtp", "smtps") and not mail.hostname:
        return "must name the mail server, such as smtp://mail.example.com:587"
    try:
        mail.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return "has an invalid port"
    return None


def _sentry_dsn(value: str) -> str | None:
    return _url("http", "https")(value) or (
        None if urlsplit(value).username else "must be a Sentry DSN such as https://key@host/1"
    )


def _address(value: str) -> str | None:
    return None if "@" in value and not any(c in value for c in "\r\n") else "must be an email address"


def _short_name(value: str) -> str | None:
    return None if len(value) <= 64 else "must be 1 to 64 characters"


DAY = 24 * 3600
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")  # health checks and local tools always reach the app

# fmt: off
SETTINGS: dict[str, Setting] = {
    # Where things are (CONTRACT.md, "Configuration").
    "DATABASE_URL": text(None, "sqlite:////srv/onboarding/onboarding.sqlite3", _database_url),  # None: SQLite in the instance folder
    "REDIS_URL": text(None, "redis://127.0.0.1:6379/3", _url("redis", "rediss", "unix")),  # None: embedded Redis
    "BASE_URL": text(None, "https://onboarding.example.com", _base_url),  # emails and links; never the Host header
    "MAIL_URL": text(None, "smtp://mail.example.com:587", _mail_url),  # None: file:// into instance/mail/
    "MAIL_FROM": text("onboarding@localhost", "team@example.com", _address),
    "SECRET_KEY": text(None, "an-example-secret"),  # None: generated once into the instance folder
    "SINGLE_ORGANIZATION": flag(True),
    "ORGANIZATION_NAME": text("Default", "Example Inc", _short_name),
    "ALLOW_REGISTRATION": flag(False),
    "ALLOW_ORGANIZATION_CREATE": flag(True),  # multi-org: any signed-in user (else superusers only)
    "INVITE_EXPIRY_SECONDS": number(7 * DAY, minimum=60),
    # An expired invite stays listed (a resend revives it) this long, then the hourly clean-up removes it.
    "INVITE_EXPIRED_RETENTION_SECONDS": number(30 * DAY, minimum=0),
    "TRUSTED_PROXIES": number(0, minimum=0),  # reverse proxies in front that set X-Forwarded-*
    # Host names answered besides BASE_URL's (and loopback); ".example.com" allows its subdomains. Any other
    # Host header gets 400 once BASE_URL or this is set (Flask's TRUSTED_HOSTS is made from both).
    "ALLOWED_HOSTS": words([], "onboarding.example.net, .example.org"),
    # Errors, logs, metrics.
    "SENTRY_DSN": text(None, "https://key@sentry.example.com/1", _sentry_dsn),
    "ENVIRONMENT": text("production", "staging"),  # recorded with each captured error
    "ERROR_CAPTURE": flag(True),  # store captured errors (sentry-sdk with the local transport)
    "METRICS_TOKEN": text(None, "a-metrics-token"),  # bearer token that may read /metrics from anywhere
    "LOG_FORMAT": choice("text", "text", "json"),  # json: one JSON object per line (onboarding.logs)
    "ACCESS_LOG": flag(False),  # one log line per request from the app (serve turns it on for JSON logs)
    # Throttles (contract: 5/min per email, 50/min per IP failed sign-ins).
    "LOGIN_FAILURES_PER_EMAIL": number(5, minimum=1),
    "LOGIN_FAILURES_PER_IP": number(50, minimum=1),
    "LOGIN_FAILURE_WINDOW": number(60, minimum=1),
    "LOGIN_PAGE_VIEWS_PER_SECOND": number(20, minimum=1),  # Sentry: RateLimit(limit=20, window=1)
    "REGISTRATIONS_PER_IP": number(20, minimum=1),
    "REGISTRATION_WINDOW": number(3600, minimum=1),
    "INVITE_LINK_FAILURES_PER_IP": number(30, minimum=1),  # bad invite links per client IP and window
    "INVITE_LINK_FAILURE_WINDOW": number(300, minimum=1),
    "TWOFACTOR_FAILURES_PER_USER": number(5, minimum=1),
    "TWOFACTOR_FAILURE_WINDOW": number(300, minimum=1),
    "RECOVER_PER_EMAIL": number(5, minimum=1),
    "RECOVER_PER_IP": number(20, minimum=1),
    "RECOVER_WINDOW": number(3600, minimum=1),
    "CONFIRM_RESEND_PER_USER": number(5, minimum=1),
    "CONFIRM_RESEND_WINDOW": number(3600, minimum=1),
    # SSO: how long a sign-in through an organization's provider counts as fresh (Sentry: 7 days).
    "SSO_SESSION_SECONDS": number(7 * DAY, minimum=60),
    "SSO_HTTP_TIMEOUT": number(10, minimum=1),
    # Passwords and sessions. Argon2id: OWASP minimum is m=19 MiB, t=2, p=1.
    "ARGON2_TIME_COST": number(2, minimum=1),
    "ARGON2_MEMORY_COST": number(19 * 1024, minimum=8),
    "ARGON2_PARALLELISM": number(1, minimum=1),
    "SESSION_LIFETIME_SECONDS": number(14 * DAY, minimum=60),
    "SESSION_TOUCH_SECONDS": number(60, minimum=1),
    "PASSWORD_RESET_EXPIRY_SECONDS": number(DAY, minimum=60),
    "EMAIL_CONFIRM_EXPIRY_SECONDS": number(7 * DAY, minimum=60),
    # Flask and extension settings we set a default for.
    "MAX_CONTENT_LENGTH": number(8 * 1024 * 1024, minimum=1024),
    "SESSION_COOKIE_HTTPONLY": flag(True),
    "SESSION_COOKIE_SAMESITE": choice("Lax", "Lax", "Strict"),
    "SESSION_COOKIE_NAME": text("onboarding_session", "custom_session"),
    "WTF_CSRF_TIME_LIMIT": number(None, minimum=60),  # None: bound to the session; long-open tabs work
    "SQLALCHEMY_TRACK_MODIFICATIONS": flag(False),
    # Jobs and the outbox.
    "JOBS_SYNC": flag(False),  # run jobs inline (tests); the worker runs them otherwise
    "OUTBOX_LEASE_SECONDS": number(120, minimum=1),  # how long a deliverer holds a message
    "OUTBOX_SWEEP_SECONDS": number(30, minimum=1),  # each worker delivers what is due this often
    "OUTBOX_EXTRA_RECEIVERS": words([], "tests.outbox_helpers.SLOW"),  # dotted paths: plug-in receivers
    # Files and avatars.
    "FILES_STORAGE": choice("folder", "folder", "database"),  # folder: in FILES_PATH (<instance>/files)
    "FILES_PATH": text(None, "/srv/onboarding/files"),
    "FILES_FSYNC": flag(True),
    "FILES_GC_GRACE_SECONDS": number(DAY, minimum=0),
    "AVATAR_MAX_SIZE": number(5_000_000, minimum=1024),  # decoded upload bytes (Sentry: 5,000,000)
    "AVATAR_MAX_PIXELS": number(4096 * 4096, minimum=64 * 64),  # checked before decoding
    # Webhooks: let endpoints point at loopback, private or link-local addresses (lifts the SSRF guard).
    "WEBHOOK_ALLOW_PRIVATE": flag(False),
}
# fmt: on

DEFAULTS: dict[str, Any] = {key: setting.default for key, setting in SETTINGS.items()}


def instance_path() -> Path:
    """The instance folder: ``ONBOARDING_INSTANCE_PATH`` or ``instance/`` beside ``app.py``."""
    raw = os.environ.get(f"{PREFIX}_INSTANCE_PATH")
    return Path(raw).expanduser().resolve() if raw else ROOT / "instance"


def _decode(raw: str) -> Any:
    """Settings outside the table, read as Flask's ``from_prefixed_env`` reads them (JSON, else text)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _normalise_database_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, not the psycopg2 default
    return url


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` in order and validate it; raises :class:`ConfigError`."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for name, raw in os.environ.items():
        if name.startswith(PREFIX + "_") and name != f"{PREFIX}_INSTANCE_PATH":
            key = name[len(PREFIX) + 1 :]
            app.config[key] = raw if key in SETTINGS else _decode(raw)  # the table's rows parse text
    if test_config:
        app.config.update(test_config)
    _validate(app)


def _validate(app: Flask) -> None:
    cfg = app.config
    for key, setting in SETTINGS.items():
        cfg[key] = setting.parse(key, cfg[key])

    # Values that depend on others, or on the instance folder.
    instance = Path(app.instance_path)
    url = _normalise_database_url(cfg["DATABASE_URL"] or f"sqlite:///{instance / 'onboarding.sqlite3'}")
    cfg["DATABASE_URL"] = cfg["SQLALCHEMY_DATABASE_URI"] = url
    if cfg["BASE_URL"]:
        cfg["BASE_URL"] = cfg["BASE_URL"].rstrip("/")
        if cfg["BASE_URL"].startswith("https://"):
            # Flask's default is False, so setdefault would never fire: a public https URL means Secure.
            cfg["SESSION_COOKIE_SECURE"] = True
    hosts = ([urlsplit(cfg["BASE_URL"]).hostname or ""] if cfg["BASE_URL"] else []) + cfg["ALLOWED_HOSTS"]
    if hosts and "*" not in hosts:  # "*": any Host header (serve on all interfaces without a base URL)
        cfg["TRUSTED_HOSTS"] = [*hosts, *LOOPBACK_HOSTS]
    if not cfg["MAIL_URL"]:
        cfg["MAIL_URL"] = f"file://{instance / 'mail'}"
    if not cfg["SECRET_KEY"]:
        cfg["SECRET_KEY"] = _instance_secret(instance)
    cfg["PERMANENT_SESSION_LIFETIME"] = cfg["SESSION_LIFETIME_SECONDS"]


def _instance_secret(instance: Path) -> str:
    """A signing key generated once and kept in the instance folder, readable by its owner only."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
