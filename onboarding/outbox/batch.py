"""One delivery job for many outbox messages.

- The messages one transaction schedules go out in one job per queue, enqueued after its commit
  (an accept that also notifies webhooks costs one job, not one per message).
- A delivery job delivers, in the same job, the messages its receivers schedule (the member-joined
  receiver queues the inviter's email): no further job, no wait in the queue behind other work.

Exactly-once is :func:`onboarding.outbox.service.deliver`'s (a lease per message, a receipt per
receiver), so batching changes only how many jobs carry the ids. A follow-up whose job dies before
delivering it is due like any other message, and the periodic sweep delivers it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence

from onboarding.database import on_commit
from onboarding.extensions import db

FOLLOW_UPS_PER_JOB = 100  # past this, follow-ups get jobs of their own

_inline: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("outbox_inline", default=None)


def inline_list() -> list[int] | None:
    """Inside a delivery job: the list its follow-ups join; else None."""
    return _inline.get()


def after_commit(message_id: int, category: str) -> None:
    """Remember ``message_id`` for the one enqueue this transaction makes after it commits."""
    session = db.session()
    current: tuple[Callable[[], None], dict[str, list[int]]] | None = session.info.get("outbox_batch")
    # A new transaction (the previous one's callback ran or was dropped) starts a new batch.
    if current is None or current[0] not in session.info.get("on_commit", []):
        ids_by_category: dict[str, list[int]] = {}

        def enqueue_all() -> None:
            from onboarding.outbox import service

            by_queue: dict[str, tuple[str, list[int]]] = {}
            for cat, ids in ids_by_category.items():
                queue = service.QUEUE_FOR.get(cat, "outbox")
                by_queue.setdefault(queue, (cat, []))[1].extend(ids)
            for cat, ids in by_queue.values():
                service.enqueue_delivery(sorted(ids), cat)

        on_commit(enqueue_all)
        current = (enqueue_all, ids_by_category)
        session.info["outbox_batch"] = current
    current[1].setdefault(category, []).append(message_id)


def deliver_batch(message_ids: Sequence[int]) -> bool:
    """Deliver ``message_ids`` and the follow-ups their receivers schedule; True when all were delivered."""
    from onboarding.outbox import service

    todo = list(message_ids)
    token = _inline.set(todo)
    delivered = attempted = 0
    try:
        while todo and attempted < len(message_ids) + FOLLOW_UPS_PER_JOB:
            attempted += 1
            delivered += service.deliver(todo.pop(0))
    finally:
        _inline.reset(token)
    if todo:  # too many follow-ups for one job
        service.enqueue_delivery(todo, "")
    return delivered == attempted and not todo
