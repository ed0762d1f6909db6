"""Email: rendering (text and HTML parts, names escaped), delivery by ``ONBOARDING_MAIL_URL``, queueing.

``ONBOARDING_MAIL_URL``: ``smtp://user:pass@host:port`` (``?starttls=1``), ``smtps://…`` (TLS),
``file:///dir`` (one .eml per message), ``console://`` (printed to the log).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import smtplib
import ssl
import sys
import time
import uuid
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, render_template

log = logging.getLogger(__name__)


def _one_line(value: str) -> str:
    # Header values never carry CR/LF (no header injection), whatever an org or user name holds.
    return " ".join(str(value).replace("\r", " ").replace("\n", " ").split())


def render_email(template: str, **ctx: Any) -> tuple[str, str, str]:
    """Render ``templates/emails/<template>.{subject,txt,html}``; the HTML part autoescapes names."""
    subject = _one_line(render_template(f"emails/{template}.subject.txt", **ctx))
    text = render_template(f"emails/{template}.txt", **ctx)
    html = render_template(f"emails/{template}.html", **ctx)
    return subject, text, html


def single_address(to: str) -> str:
    """``to`` as one bare address, or ValueError.

    SMTP takes the recipients from the To header, so ``"a@x.com, b@y.com"`` or an address followed by
    CR/LF and ``Bcc: …`` would add recipients even once the header is folded onto one line.
    """
    try:
        address = Address(addr_spec=to.strip())
    except (ValueError, IndexError, HeaderParseError):
        raise ValueError(f"not a single email address: {to!r}") from None
    if not address.domain or any(c in to for c in "\r\n,;"):
        raise ValueError(f"not a single email address: {to!r}")
    return address.addr_spec


def sender() -> tuple[str, str]:
    """(display name, address) from ``ONBOARDING_MAIL_FROM``, which may be ``Name <addr>``; the
    name defaults to "Onboarding"."""
    name, address = parseaddr(str(current_app.config["MAIL_FROM"]))
    return (name or "Onboarding", address or str(current_app.config["MAIL_FROM"]))


def _mail_domain() -> str:
    return sender()[1].rsplit("@", 1)[-1]


def where_mail_goes() -> str | None:
    """Where messages end up when no mail server is configured, in words; None for SMTP."""
    url = urlsplit(str(current_app.config["MAIL_URL"]))
    if url.scheme == "console":
        return "printed on the server's console (no mail server configured)"
    if url.scheme == "file":
        folder = Path(unquote(url.path))
        root = Path(current_app.root_path).parent
        with contextlib.suppress(ValueError):
            folder = folder.relative_to(root)
        return f"written to {folder} (no mail server configured)"
    return None


def outbox_message_id(outbox_id: int, payload: dict[str, Any]) -> str:
    """The Message-ID of the email in outbox message ``outbox_id``: the same on every retry.

    SMTP promises at least once: a worker that dies between the mail server's 250 and the receipt
    sends the message again. With the same Message-ID the repeat is recognisably the same message (mail
    clients and many servers drop it). The digest of the stored payload keeps ids apart across
    databases that reuse numbers.
    """
    stored = payload.get("sealed") or json.dumps(payload, sort_keys=True)
    digest = hashlib.sha256(f"{outbox_id}\0{stored}".encode()).hexdigest()[:24]
    return f"<outbox.{outbox_id}.{digest}@{_mail_domain()}>"


def build_message(
    to: str, subject: str, text: str, html: str | None, *, message_id: str | None = None
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr(sender())
    msg["To"] = single_address(to)
    msg["Subject"] = _one_line(subject)
    msg["Message-ID"] = message_id or make_msgid(domain=_mail_domain())
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def deliver(msg: EmailMessage) -> None:
    """Send one message now through the configured transport; raises on failure (the job retries)."""
    url = urlsplit(str(current_app.config["MAIL_URL"]))
    if url.scheme == "console":
        # For development: the whole text part, links included, on standard output. Logs mask tokens
        # (onboarding.web.logmask), which would make the links useless, so this does not go through them.
        body = msg.get_body(("plain",))
        content = body.get_content() if body else ""
        sys.stdout.write(f"--- email to {msg['To']}: {msg['Subject']}\n{content.rstrip()}\n---\n")
        sys.stdout.flush()
        log.info("email to %s: %s (printed on standard output)", msg["To"], msg["Subject"])
        return
    if url.scheme == "file":
        folder = Path(unquote(url.path))
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}.eml"
        tmp = folder / (name + ".tmp")
        tmp.write_bytes(bytes(msg))
        tmp.rename(folder / name)  # readers never see half a message
        return
    query = parse_qs(url.query)
    host, port = url.hostname or "localhost", url.port
    timeout = 20
    if url.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(host, port or 25, timeout=timeout)
    try:
        if url.scheme == "smtp" and query.get("starttls", ["0"])[0] in ("1", "true"):
            server.starttls(context=ssl.create_default_context())
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(msg)
    except BaseException:
        server.close()
        raise
    # The server has taken the message: from here nothing may fail the delivery, or the retry would
    # send it again. A goodbye answered with an error is logged and forgotten.
    try:
        server.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.info("mail server %s answered QUIT with an error after taking the message: %s", host, exc)
    finally:
        server.close()


def send_now(to: str, template: str, **ctx: Any) -> None:
    subject, text, html = render_email(template, **ctx)
    deliver(build_message(to, subject, text, html))


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"]
    raw = secret if isinstance(secret, bytes) else str(secret).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"onboarding outbox mail\0" + raw).digest()))


def seal(message: dict[str, Any]) -> dict[str, Any]:
    """An email as it waits in the outbox: encrypted with a key derived from the secret key.

    Emails carry one-time links (invites, password resets) whose tokens the database otherwise holds only
    as hashes; sealed, a dump of the database still contains no usable token (SECURITY.md).
    """
    return {"sealed": _fernet().encrypt(json.dumps(message).encode()).decode("ascii")}


def unseal(payload: dict[str, Any]) -> dict[str, Any]:
    """The email in an outbox payload; payloads queued before sealing pass through unchanged.

    Raises ValueError when it cannot be opened: the secret key differs from the one it was sealed with
    (every process — web, workers, CLI — must share ``ONBOARDING_SECRET_KEY``).
    """
    if "sealed" not in payload:
        return payload
    try:
        message: dict[str, Any] = json.loads(_fernet().decrypt(payload["sealed"].encode("ascii")))
    except InvalidToken:
        raise ValueError(
            "cannot open this queued email: it was sealed with another secret key "
            "(every process must share ONBOARDING_SECRET_KEY)"
        ) from None
    return message
