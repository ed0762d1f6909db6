"""Organization roles, lowest first, and what each may do (contract: Roles)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    rank: int
    desc: str


ROLES: tuple[Role, ...] = (
    Role("member", "Member", 0, "Sees the organization and its members."),
    Role("admin", "Admin", 1, "As member, plus manages teams."),
    Role("manager", "Manager", 2, "As admin, plus invites, approves and manages members up to manager."),
    Role("owner", "Owner", 3, "Everything, including settings, SSO, two-factor policy and other owners."),
)
BY_ID = {role.id: role for role in ROLES}
DEFAULT_ROLE = "member"
TOP_ROLE = "owner"

# Permission → the lowest role that has it.
PERMISSIONS = {
    "org:read": "member",
    "member:request": "member",
    "team:write": "admin",
    "member:invite": "manager",
    "member:write": "manager",
    "org:write": "owner",
    "org:admin": "owner",
}


def rank(role_id: str) -> int:
    role = BY_ID.get(role_id)
    return role.rank if role else -1


def is_valid(role_id: str) -> bool:
    return role_id in BY_ID


def has_permission(role_id: str, permission: str) -> bool:
    return rank(role_id) >= rank(PERMISSIONS[permission])


def allowed_to_assign(role_id: str) -> list[Role]:
    """Roles a member with ``role_id`` may give others: up to manager, or every role for owners."""
    if role_id == "owner":
        return list(ROLES)
    if has_permission(role_id, "member:invite"):
        return [r for r in ROLES if r.rank <= rank(role_id)]
    return []
