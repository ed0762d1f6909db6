"""Configuration: defaults → ``instance/config.py`` → ``ONBOARDING_*`` environment → test config.

Every value a person can set is checked here, once, at start-up. A bad value raises
:class:`ConfigError` whose message is one line naming the variable; the CLI prints that line and
exits, so nothing half-starts.
"""

from __future__ import annotations

import json
import os
import secrets
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


DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # SQLite in the instance folder
    "REDIS_URL": None,  # embedded Redis in the instance folder
    "BASE_URL": None,
    "MAIL_URL": None,  # file:// into instance/mail/
    "MAIL_FROM": "onboarding@localhost",
    "SINGLE_ORGANIZATION": True,
    "ORGANIZATION_NAME": "Default",
    "ALLOW_REGISTRATION": False,
    "INVITE_EXPIRY_SECONDS": 7 * 24 * 3600,
    # An expired invite stays listed (a resend revives it) this long, then the hourly clean-up removes it.
    "INVITE_EXPIRED_RETENTION_SECONDS": 30 * 24 * 3600,
    "TRUSTED_PROXIES": 0,
    "SENTRY_DSN": None,
    "ENVIRONMENT": "production",  # recorded with each captured error
    "ERROR_CAPTURE": True,  # store captured errors (sentry-sdk with the local transport)
    "METRICS_TOKEN": None,  # bearer token that may read /metrics from anywhere (else loopback only)
    "LOG_FORMAT": "text",  # or "json": one JSON object per line (onboarding.logs)
    "ACCESS_LOG": False,  # one log line per request from the app (serve turns it on for JSON logs)
    # Sign-in throttles: failed attempts per window (contract: 5/min per email, 50/min per IP).
    "LOGIN_FAILURES_PER_EMAIL": 5,
    "LOGIN_FAILURES_PER_IP": 50,
    "LOGIN_FAILURE_WINDOW": 60,
    # Views of the sign-in page per client IP and second (Sentry: RateLimit(limit=20, window=1)).
    "LOGIN_PAGE_VIEWS_PER_SECOND": 20,
    "REGISTRATIONS_PER_IP": 20,
    # Two-factor codes: failed attempts per user per window during sign-in.
    "TWOFACTOR_FAILURES_PER_USER": 5,
    "TWOFACTOR_FAILURE_WINDOW": 300,
    # SSO: how long a sign-in through an organization's provider counts as fresh (Sentry: 7 days).
    "SSO_SESSION_SECONDS": 7 * 24 * 3600,
    "SSO_HTTP_TIMEOUT": 10,
    "REGISTRATION_WINDOW": 3600,
    # Argon2id: OWASP minimum is m=19 MiB, t=2, p=1.
    "ARGON2_TIME_COST": 2,
    "ARGON2_MEMORY_COST": 19 * 1024,
    "ARGON2_PARALLELISM": 1,
    "SESSION_LIFETIME_SECONDS": 14 * 24 * 3600,
    "SESSION_TOUCH_SECONDS": 60,
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "onboarding_session",
    "WTF_CSRF_TIME_LIMIT": None,  # bound to the session instead; long-open tabs keep working
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "JOBS_SYNC": False,  # run jobs inline (tests); the worker runs them otherwise
    "OUTBOX_LEASE_SECONDS": 120,  # how long a deliverer may hold a message before another may take it
    "OUTBOX_EXTRA_RECEIVERS": [],  # dotted paths of (category, name, fn) tuples: plug-in receivers
    # Account self-service: one-time links and their throttles.
    "PASSWORD_RESET_EXPIRY_SECONDS": 24 * 3600,
    "EMAIL_CONFIRM_EXPIRY_SECONDS": 7 * 24 * 3600,
    "RECOVER_PER_EMAIL": 5,
    "RECOVER_PER_IP": 20,
    "RECOVER_WINDOW": 3600,
    "CONFIRM_RESEND_PER_USER": 5,
    "CONFIRM_RESEND_WINDOW": 3600,
    # Multi-organization mode: whether any signed-in user may create organizations (else superusers only).
    "ALLOW_ORGANIZATION_CREATE": True,
    # Files: blob storage backend ("folder" in FILES_PATH, default <instance>/files; or "database").
    "FILES_STORAGE": "folder",
    "FILES_PATH": None,
    "FILES_FSYNC": True,
    "FILES_GC_GRACE_SECONDS": 24 * 3600,
    # Avatars: decoded upload size (Sentry: 5,000,000 bytes) and the pixel limit checked before decoding.
    "AVATAR_MAX_SIZE": 5_000_000,
    "AVATAR_MAX_PIXELS": 4096 * 4096,
}

_BOOL_KEYS = (
    "SINGLE_ORGANIZATION",
    "ALLOW_REGISTRATION",
    "JOBS_SYNC",
    "ALLOW_ORGANIZATION_CREATE",
    "ERROR_CAPTURE",
    "ACCESS_LOG",
    "FILES_FSYNC",
)
_INT_KEYS = {
    "INVITE_EXPIRY_SECONDS": 60,
    "INVITE_EXPIRED_RETENTION_SECONDS": 0,
    "TRUSTED_PROXIES": 0,
    "LOGIN_FAILURES_PER_EMAIL": 1,
    "LOGIN_FAILURES_PER_IP": 1,
    "LOGIN_FAILURE_WINDOW": 1,
    "LOGIN_PAGE_VIEWS_PER_SECOND": 1,
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 8,
    "ARGON2_PARALLELISM": 1,
    "SESSION_LIFETIME_SECONDS": 60,
    "MAX_CONTENT_LENGTH": 1024,
    "OUTBOX_LEASE_SECONDS": 1,
    "TWOFACTOR_FAILURES_PER_USER": 1,
    "TWOFACTOR_FAILURE_WINDOW": 1,
    "SSO_SESSION_SECONDS": 60,
    "SSO_HTTP_TIMEOUT": 1,
    "PASSWORD_RESET_EXPIRY_SECONDS": 60,
    "EMAIL_CONFIRM_EXPIRY_SECONDS": 60,
    "RECOVER_PER_EMAIL": 1,
    "RECOVER_PER_IP": 1,
    "RECOVER_WINDOW": 1,
    "CONFIRM_RESEND_PER_USER": 1,
    "CONFIRM_RESEND_WINDOW": 1,
    "FILES_GC_GRACE_SECONDS": 0,
    "AVATAR_MAX_SIZE": 1024,
    "AVATAR_MAX_PIXELS": 64 * 64,
}


def instance_path() -> Path:
    """The instance folder: ``ONBOARDING_INSTANCE_PATH`` or ``instance/`` beside ``app.py``."""
    raw = os.environ.get(f"{PREFIX}_INSTANCE_PATH")
    return Path(raw).expanduser().resolve() if raw else ROOT / "instance"


def _decode(raw: str) -> Any:
    """Other Flask and extension settings, read as Flask's ``from_prefixed_env`` reads them (JSON, else text)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{PREFIX}_{key} must be true or false, not {value!r}")


def _as_int(key: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) or isinstance(value, bool) else value
    except ValueError:
        raise ConfigError(f"{PREFIX}_{key} must be a whole number, not {value!r}") from None
    if isinstance(number, bool) or number < minimum:
        raise ConfigError(f"{PREFIX}_{key} must be at least {minimum}, not {value!r}")
    return number


def _check_url(key: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ConfigError(f"{PREFIX}_{key} must start with one of {', '.join(s + '://' for s in schemes)}")
    return value


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` in order and validate it; raises :class:`ConfigError`."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for name, raw in os.environ.items():
        if name.startswith(PREFIX + "_") and name != f"{PREFIX}_INSTANCE_PATH":
            key = name[len(PREFIX) + 1 :]
            known_text = key in DEFAULTS and not isinstance(DEFAULTS[key], list | dict)
            app.config[key] = raw if known_text or key == "SECRET_KEY" else _decode(raw)
    if test_config:
        app.config.update(test_config)
    _validate(app)


def _validate(app: Flask) -> None:
    cfg = app.config
    for key in _BOOL_KEYS:
        cfg[key] = _as_bool(key, cfg[key])
    for key, minimum in _INT_KEYS.items():
        cfg[key] = _as_int(key, cfg[key], minimum)

    instance = Path(app.instance_path)
    if not cfg.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = f"sqlite:///{instance / 'onboarding.sqlite3'}"
    url = str(cfg["DATABASE_URL"])
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, not the psycopg2 default
    if not (url.startswith("sqlite:") or url.startswith("postgresql+psycopg://")):
        raise ConfigError(f"{PREFIX}_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL")
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        # The message never repeats the URL: it may hold a password.
        raise ConfigError(f"{PREFIX}_DATABASE_URL is not a valid database URL") from None
    cfg["DATABASE_URL"] = cfg["SQLALCHEMY_DATABASE_URI"] = url

    if cfg.get("REDIS_URL"):
        _check_url("REDIS_URL", str(cfg["REDIS_URL"]), ("redis", "rediss", "unix"))
    if cfg.get("BASE_URL"):
        base = _check_url("BASE_URL", str(cfg["BASE_URL"]), ("http", "https")).rstrip("/")
        if not urlsplit(base).netloc:
            raise ConfigError(f"{PREFIX}_BASE_URL must be an absolute URL such as https://example.com")
        cfg["BASE_URL"] = base
        if base.startswith("https://"):
            # Flask's default is False, so setdefault would never fire: a public https URL means Secure.
            cfg["SESSION_COOKIE_SECURE"] = True
    cfg["LOG_FORMAT"] = str(cfg.get("LOG_FORMAT") or "text").strip().lower()
    if cfg["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigError(f"{PREFIX}_LOG_FORMAT must be text or json")
    if cfg.get("SENTRY_DSN"):
        dsn = _check_url("SENTRY_DSN", str(cfg["SENTRY_DSN"]), ("http", "https"))
        if not urlsplit(dsn).username:
            raise ConfigError(f"{PREFIX}_SENTRY_DSN must be a Sentry DSN such as https://key@host/1")
    if cfg["FILES_STORAGE"] not in ("folder", "database"):
        raise ConfigError(f"{PREFIX}_FILES_STORAGE must be folder or database, not {cfg['FILES_STORAGE']!r}")
    if cfg.get("MAIL_URL"):
        mail = urlsplit(_check_url("MAIL_URL", str(cfg["MAIL_URL"]), ("smtp", "smtps", "file", "console")))
        if mail.scheme == "file" and (mail.netloc or not mail.path.startswith("/")):
            raise ConfigError(
                f"{PREFIX}_MAIL_URL must name an absolute folder, such as file:///var/mail/onboarding"
            )
        if mail.scheme in ("smtp", "smtps") and not mail.hostname:
            raise ConfigError(
                f"{PREFIX}_MAIL_URL must name the mail server, such as smtp://mail.example.com:587"
            )
        try:
            mail.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ConfigError(f"{PREFIX}_MAIL_URL has an invalid port") from None
    else:
        cfg["MAIL_URL"] = f"file://{instance / 'mail'}"
    if "@" not in str(cfg["MAIL_FROM"]) or any(c in str(cfg["MAIL_FROM"]) for c in "\r\n"):
        raise ConfigError(f"{PREFIX}_MAIL_FROM must be an email address")
    name = str(cfg["ORGANIZATION_NAME"]).strip()
    if not name or len(name) > 64:
        raise ConfigError(f"{PREFIX}_ORGANIZATION_NAME must be 1 to 64 characters")
    cfg["ORGANIZATION_NAME"] = name

    if not cfg.get("SECRET_KEY"):
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
