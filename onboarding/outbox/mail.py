"""Email that leaves through the outbox: queued in the caller's transaction, sent after it commits.

:mod:`onboarding.mail` renders, seals and sends; this module puts a message in the outbox, so an email is
never sent for a change that rolled back and never lost when Redis is down or a worker dies.
"""

from __future__ import annotations

from typing import Any

from onboarding import mail
from onboarding.outbox.models import OutboxMessage
from onboarding.outbox.service import schedule


def schedule_email(
    to: str, subject: str, text: str, html: str | None, *, ref: dict[str, int] | None = None
) -> OutboxMessage:
    """Queue a rendered email in the caller's transaction (sealed; see :func:`onboarding.mail.seal`). ``ref`` (ids only,
    kept unsealed) lets the delivery record what it delivered, e.g. ``{"invite_member_id": 12}``."""
    payload = mail.seal({"to": to, "subject": subject, "text": text, "html": html})
    if ref:
        payload["ref"] = ref
    return schedule("email", payload)


def queue_email(to: str, template: str, *, ref: dict[str, int] | None = None, **ctx: Any) -> OutboxMessage:
    """Render now; send from the ``email`` queue once the current transaction has committed.

    The message goes through the outbox (written in the caller's transaction), so an email is neither
    sent for a change that rolled back nor lost when Redis is down or a worker dies; failed deliveries are
    retried with doubling backoff.
    """
    to = mail.single_address(to)  # refuse a bad recipient now, in the request, not later in the worker
    subject, text, html = mail.render_email(template, **ctx)
    return schedule_email(to, subject, text, html, ref=ref)
