"""The invite journey's public face: what other features import, re-exported from its stages.

- :mod:`.common` — refusals, links and tokens, the audit shape, the one role rule, mail to managers
- :mod:`.addresses` — whose address it is; alias-aware matching for duplicates and daily limits
- :mod:`.sending` — invite, resend, hand over a fresh link, revoke
- :mod:`.requests` — invite requests, join requests, renewal requests; approve, reject
- :mod:`.accepting` — what a link is worth; accept (one conditional UPDATE) and decline
- :mod:`.listing` — an organization's pending invites and their email state; a user's inbox
- :mod:`.cleanup` — removing invites expired long ago
- :mod:`.session` — the invite kept in the session across the register / sign-in detour
- :mod:`.resume` — :func:`resume_invite`, the one way to finish a pending invite after a detour

Nothing here commits; the view commits once.
"""

from __future__ import annotations

from onboarding.invites.accepting import (
    AcceptResult,
    AcceptStatus,
    LinkState,
    accept,
    accept_as_owner,
    accept_for_verified_email,
    check_link,
    count_link_guess,
    decline,
    link_guess_wait,
    live_invite,
    needs_2fa,
    needs_sso,
)
from onboarding.invites.addresses import addresses_of, email_matches, existing_for_email, match_key
from onboarding.invites.cleanup import delete_expired
from onboarding.invites.common import (
    INVALID_LINK,
    LINK_COPIED,
    RENEWAL_REQUESTED,
    InviteError,
    accept_path,
    base_url,
    check_role,
    invite_link,
    issue_token,
    managers,
    member_audit_data,
    send_invite_email,
)
from onboarding.invites.listing import EmailState, email_states, inbox, pending_invites, stats
from onboarding.invites.requests import (
    JOIN_REQUESTS_OPTION,
    approve,
    join_requests_allowed,
    reject,
    request_join,
    request_renewal,
)
from onboarding.invites.resume import Resumed, Resumption, announce_inbox, resume_invite
from onboarding.invites.sending import (
    LIMIT_PER_EMAIL,
    LIMIT_PER_INVITER,
    LIMIT_PER_ORG,
    Outcome,
    fresh_link,
    invite_many,
    parse_emails,
    resend,
    revoke,
)

__all__ = [
    "INVALID_LINK",
    "JOIN_REQUESTS_OPTION",
    "LIMIT_PER_EMAIL",
    "LIMIT_PER_INVITER",
    "LIMIT_PER_ORG",
    "LINK_COPIED",
    "RENEWAL_REQUESTED",
    "AcceptResult",
    "AcceptStatus",
    "EmailState",
    "InviteError",
    "LinkState",
    "Outcome",
    "Resumed",
    "Resumption",
    "accept",
    "accept_as_owner",
    "accept_for_verified_email",
    "accept_path",
    "addresses_of",
    "announce_inbox",
    "approve",
    "base_url",
    "check_link",
    "count_link_guess",
    "link_guess_wait",
    "check_role",
    "decline",
    "delete_expired",
    "email_matches",
    "email_states",
    "existing_for_email",
    "fresh_link",
    "inbox",
    "invite_link",
    "invite_many",
    "issue_token",
    "join_requests_allowed",
    "live_invite",
    "managers",
    "match_key",
    "member_audit_data",
    "needs_2fa",
    "needs_sso",
    "parse_emails",
    "pending_invites",
    "reject",
    "request_join",
    "request_renewal",
    "resend",
    "resume_invite",
    "revoke",
    "send_invite_email",
    "stats",
]
