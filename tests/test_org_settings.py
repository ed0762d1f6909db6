"""Organization details, options and trusted relays (spec §1.11): the API and the settings page."""

from __future__ import annotations

import base64
import json

import pytest
from avatar_helpers import dispose_engines, png
from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.audit.models import AuditLogEntry
from onboarding.avatars.models import OrganizationAvatar
from onboarding.extensions import db
from onboarding.orgs import options, relays
from onboarding.orgs.models import OrgFlags
from tests.factories import default_org, login, make_member, make_org, make_provider, make_user

KEY1 = "zJhhe6C3RHl0WpbGEsjKnKQVZpMdrX8xeYk2gAESL6Y"
KEY2 = "M1VjYfYleuBsi0_X1580YjoNzoe1tCA0Zci6_SBdWpk"
KEY3 = "Dqh1xVQrWcuziJp8JF4yDuxNkwC8icGgFDhi1-4Xu-Q"
NOT_ON_CURVE = "gxHfiphNFyHrh0gKlbJOzAdZnacqG4To6DUsR4ei-pA"


@pytest.fixture(autouse=True)
def _files_path(settings, tmp_path):
    settings["FILES_PATH"] = str(tmp_path / "files")
    yield
    dispose_engines()


def as_role(client, role: str = "owner") -> User:
    user = make_user(f"{role}@example.com", name=f"{role.title()} Person")
    make_member(default_org(), user, role)
    login(client, user.email)
    return user


def url() -> str:
    return f"/api/0/organizations/{default_org().slug}/"


def put(client, body, slug=None):
    return client.put(f"/api/0/organizations/{slug or default_org().slug}/", json=body)


def edits() -> list[AuditLogEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditLogEntry).where(AuditLogEntry.event == "org.edit")))


# --- reading and permissions -------------------------------------------------------------------


def test_get_details(client):
    as_role(client, "member")
    body = client.get(url()).get_json()
    org = default_org()
    assert body["id"] == str(org.id) and body["slug"] == org.slug and body["name"] == org.name
    assert body["openMembership"] is True and body["allowMemberInvite"] is True
    assert body["allowJoinRequests"] is True and body["require2FA"] is False
    assert body["trustedRelays"] == []
    assert body["avatar"] == {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None}
    assert body["role"] == "member"


def test_strangers_and_anonymous(client):
    assert client.get(url()).status_code == 401
    other = make_org("Elsewhere")
    as_role(client, "owner")
    assert client.get(f"/api/0/organizations/{other.slug}/").status_code == 404
    assert put(client, {"name": "x"}, slug=other.slug).status_code == 404


@pytest.mark.parametrize("role", ["member", "admin", "manager"])
def test_only_owners_may_change(client, role):
    as_role(client, role)
    resp = put(client, {"name": "Renamed"})
    assert resp.status_code == 403
    assert resp.get_json() == {"detail": "You do not have permission to perform this action."}
    assert default_org().name != "Renamed" and edits() == []


def test_superuser_may_change(client):
    user = make_user(superuser=True)
    login(client, user.email)
    assert put(client, {"name": "By Super"}).status_code == 200


def test_body_must_be_an_object(client):
    as_role(client)
    assert client.put(url(), data="nope", content_type="application/json").status_code == 400
    assert put(client, ["name"]).status_code == 400


# --- name, slug, default role ------------------------------------------------------------------


def test_name_change_is_audited(client):
    user = as_role(client)
    old = default_org().name
    resp = put(client, {"name": "  New Name  ", "unknownKey": 1})
    assert resp.status_code == 200 and resp.get_json()["name"] == "New Name"
    [entry] = edits()
    assert entry.data == {"name": f"from {old} to New Name"}
    assert entry.actor_id == user.id and entry.target_object == default_org().id
    assert entry.ip_address


def test_nothing_changed_nothing_audited(client):
    as_role(client)
    org = default_org()
    assert put(client, {"name": org.name, "slug": org.slug, "openMembership": True}).status_code == 200
    assert put(client, {}).status_code == 200
    assert edits() == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field may not be blank."),
        ("x" * 65, "Ensure this field has no more than 64 characters."),
        (5, "Not a valid string."),
    ],
)
def test_bad_names(client, name, message):
    as_role(client)
    resp = put(client, {"name": name})
    assert resp.status_code == 400 and resp.get_json() == {"name": [message]}


@pytest.mark.parametrize("slug", ["santry", "downtown-canada", "1234-foo", "SaNtRy"])
def test_valid_slugs(client, slug):
    as_role(client)
    old = default_org().slug
    resp = put(client, {"slug": slug})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["slug"] == slug.lower()
    assert edits()[0].data == {"slug": f"from {old} to {slug.lower()}"}


PATTERN = (
    "Enter a valid slug consisting of letters, numbers, or hyphens. "
    "It cannot be entirely numeric or start/end with a hyphen."
)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        (" i have whitespace ", 'The slug " i have whitespace " should not contain any whitespace.'),
        ("foo-bar ", 'The slug "foo-bar " should not contain any whitespace.'),
        ("bird-company!", PATTERN),
        ("downtown_canada", PATTERN),
        ("canada-", PATTERN),
        ("-canada", PATTERN),
        ("----", PATTERN),
        ("1234", PATTERN),
        ("a", 'This slug "a" is too short. Minimum of 3 characters.'),
        ("api", 'This slug "api" is reserved and not allowed.'),
    ],
)
def test_invalid_slugs(client, slug, message):
    as_role(client)
    resp = put(client, {"slug": slug})
    assert resp.status_code == 400
    assert resp.get_json() == {"slug": [message]}


def test_taken_slug_is_a_conflict(client):
    make_org("Taken", slug="taken-slug")
    as_role(client)
    for slug in ("taken-slug", "Taken-Slug"):
        resp = put(client, {"slug": slug})
        assert resp.status_code == 409
        assert resp.get_json() == {"slug": ["An organization with this slug already exists."]}
    assert edits() == []


def test_default_role(client):
    as_role(client)
    assert put(client, {"defaultRole": "wizard"}).get_json() == {"defaultRole": ["Invalid role"]}
    resp = put(client, {"defaultRole": "admin"})
    assert resp.status_code == 200 and resp.get_json()["defaultRole"] == "admin"
    assert edits()[0].data == {"default_role": "from member to admin"}


# --- options and flags ---------------------------------------------------------------------------


def test_option_created_then_updated(client):
    as_role(client)
    org = default_org()
    assert put(client, {"allowJoinRequests": True}).status_code == 200  # = default: stored, not audited
    assert options.get_row(org.id, "sentry:join_requests").value is True
    assert edits() == []
    assert put(client, {"allowJoinRequests": False}).get_json()["allowJoinRequests"] is False
    assert edits()[0].data == {"allowJoinRequests": "from True to False"}


def test_option_first_write_differing_from_default_is_audited(client):
    as_role(client)
    put(client, {"allowJoinRequests": False})
    assert edits()[0].data == {"allowJoinRequests": "to False"}
    assert options.get_value(default_org().id, "sentry:join_requests") is False


def test_flags(client):
    as_role(client)
    body = put(client, {"openMembership": False, "allowMemberInvite": False}).get_json()
    assert body["openMembership"] is False and body["allowMemberInvite"] is False
    org = default_org()
    db.session.refresh(org)
    assert not org.has_flag(OrgFlags.ALLOW_JOINLEAVE) and org.has_flag(OrgFlags.DISABLE_MEMBER_INVITE)
    assert edits()[0].data == {"allow_joinleave": "to False", "disable_member_invite": "to True"}
    put(client, {"allowMemberInvite": "true"})
    assert edits()[1].data == {"disable_member_invite": "to False"}


def test_bad_boolean(client):
    as_role(client)
    resp = put(client, {"openMembership": "maybe", "allowJoinRequests": None})
    assert resp.status_code == 400
    assert resp.get_json() == {
        "openMembership": ["Must be a valid boolean."],
        "allowJoinRequests": ["Must be a valid boolean."],
    }


def test_require_2fa_needs_personal_2fa(client):
    as_role(client)
    resp = put(client, {"require2FA": True})
    assert resp.status_code == 400
    assert resp.get_json() == {
        "require2FA": ["Cannot require two-factor authentication without personal two-factor enabled."]
    }
    assert put(client, {"require2FA": False}).status_code == 200


def test_require_2fa_refused_with_sso(client, monkeypatch):
    as_role(client)
    make_provider(default_org(), required=False)  # optional: the owner is not gated
    for module in ("onboarding.orgs.settings", "onboarding.twofactor.policy"):
        monkeypatch.setattr(f"{module}.user_has_2fa", lambda user_id: True)
    resp = put(client, {"require2FA": True})
    assert resp.get_json() == {"require2FA": ["Cannot require two-factor authentication with SSO enabled"]}


def test_require_2fa_with_personal_2fa(client, monkeypatch):
    as_role(client)
    for module in ("onboarding.orgs.settings", "onboarding.twofactor.policy"):
        monkeypatch.setattr(f"{module}.user_has_2fa", lambda user_id: True)
    assert put(client, {"require2FA": True}).get_json()["require2FA"] is True
    assert edits()[0].data == {"require_2fa": "to True"}


# --- trusted relays -------------------------------------------------------------------------------


def test_key_validation():
    assert relays.is_valid_public_key(KEY1) and relays.is_valid_public_key(KEY2)
    for bad in (NOT_ON_CURVE, KEY1[:-1], KEY1 + "A", KEY1 + "=", KEY1.replace("z", "+"), "", 42, None):
        assert not relays.is_valid_public_key(bad)
    # Non-canonical trailing bits: the same bytes spelled differently are refused.
    assert not relays.is_valid_public_key(KEY1[:-1] + "Z")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a list", 'Expected a list of items but got type "str".'),
        (["x"], "Bad structure received for Trusted Relays"),
        ([{"publicKey": KEY1}], "Relay key info with missing name in Trusted Relays"),
        ([{"name": None, "publicKey": KEY1}], "Relay key info with missing name in Trusted Relays"),
        ([{"name": "   ", "publicKey": KEY1}], "Relay key info with empty name in Trusted Relays"),
        ([{"name": "r1"}], "Missing public key for relay key info with name:'r1' in Trusted Relays"),
        (
            [{"name": "r1", "publicKey": ""}],
            "Missing public key for relay key info with name:'r1' in Trusted Relays",
        ),
        (
            [{"name": "r1", "publicKey": "abc"}],
            "Invalid public key for relay key info with name:'r1' in Trusted Relays",
        ),
        (
            [{"name": "r1", "publicKey": NOT_ON_CURVE}],
            "Invalid public key for relay key info with name:'r1' in Trusted Relays",
        ),
        (
            [{"name": "a", "publicKey": KEY1}, {"name": "b", "publicKey": KEY1}],
            f"Duplicated key in Trusted Relays: '{KEY1}'",
        ),
    ],
)
def test_relay_messages(client, value, message):
    as_role(client)
    resp = put(client, {"trustedRelays": value})
    assert resp.status_code == 400
    assert resp.get_json() == {"trustedRelays": [message]}


def test_relays_created_kept_last_modified_only_when_changed(client):
    as_role(client)
    first = put(
        client,
        {
            "trustedRelays": [
                {"name": " one ", "publicKey": KEY1, "description": "d1", "created": "1999-01-01T00:00:00Z"},
                {"name": "two", "publicKey": KEY2},
            ]
        },
    ).get_json()["trustedRelays"]
    assert [r["name"] for r in first] == ["one", "two"]
    assert first[0]["created"] != "1999-01-01T00:00:00Z"  # client timestamps are ignored
    assert first[0]["created"] == first[0]["lastModified"]
    assert "description" not in first[1]
    [entry] = edits()
    assert entry.data["trustedRelays"].startswith("to [")

    second = put(
        client,
        {
            "trustedRelays": [
                {"name": "one", "publicKey": KEY1, "description": "d1"},
                {"name": "two renamed", "publicKey": KEY2},
                {"name": "three", "publicKey": KEY3},
            ]
        },
    ).get_json()["trustedRelays"]
    assert second[0] == first[0]  # unchanged: same created and lastModified
    assert second[1]["created"] == first[1]["created"]
    assert second[1]["lastModified"] > first[1]["lastModified"]
    assert second[2]["created"] == second[2]["lastModified"]
    log = edits()[1].data["trustedRelays"]
    assert log.startswith("from [") and " to [" in log and "two renamed" in log
    before = json.loads(log[len("from ") : log.index(" to [")])
    assert [r["name"] for r in before] == ["one", "two"]

    # Same list again: nothing stored, nothing logged.
    put(
        client,
        {
            "trustedRelays": [
                {"name": r["name"], "publicKey": r["publicKey"], "description": r.get("description")}
                for r in second
            ]
        },
    )
    assert len(edits()) == 2

    # Removing one is a change even though no remaining key changed.
    third = put(
        client, {"trustedRelays": [{"name": "one", "publicKey": KEY1, "description": "d1"}]}
    ).get_json()
    assert third["trustedRelays"] == [second[0]]
    assert len(edits()) == 3

    # An empty list clears them.
    assert put(client, {"trustedRelays": []}).get_json()["trustedRelays"] == []
    assert options.get_value(default_org().id, relays.OPTION_KEY) == []
    assert edits()[3].data["trustedRelays"].endswith(" to []")


# --- avatar through the API -------------------------------------------------------------------


def test_avatar_upload_answers_202(client):
    as_role(client)
    resp = put(client, {"avatar": base64.b64encode(png()).decode(), "avatarType": "upload"})
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["avatarUpload"]["status"] == "done"  # JOBS_SYNC ran the job after commit
    avatar = db.session.scalar(select(OrganizationAvatar))
    assert client.get(url()).get_json()["avatar"] == {
        "avatarType": "upload",
        "avatarUuid": avatar.ident,
        "avatarUrl": f"/organization-avatar/{avatar.ident}/",
    }
    resp = put(client, {"avatarType": "letter_avatar"})
    assert resp.status_code == 200 and resp.get_json()["avatar"]["avatarType"] == "letter_avatar"
    assert resp.get_json()["avatar"]["avatarUuid"] == avatar.ident  # the picture is kept
    assert put(client, {"avatarType": "upload"}).get_json()["avatar"]["avatarType"] == "upload"


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False}])
def test_avatar_upload_is_queued(client, app):
    as_role(client)
    resp = put(client, {"avatar": base64.b64encode(png()).decode()})
    assert resp.status_code == 202 and resp.get_json()["avatarUpload"]["status"] == "pending"
    assert client.get(url()).get_json()["avatar"]["avatarType"] == "letter_avatar"
    from onboarding.queue import run_worker

    run_worker(app, ["files"], burst=True)
    assert client.get(url()).get_json()["avatar"]["avatarType"] == "upload"


def test_avatar_errors(client, settings):
    as_role(client)
    assert put(client, {"avatarType": "upload"}).get_json() == {
        "avatarType": ["Cannot set avatarType to upload without avatar"]
    }
    assert put(client, {"avatarType": "gravatar"}).get_json() == {
        "avatarType": ['"gravatar" is not a valid choice.']
    }
    assert put(client, {"avatar": "@@not base64@@"}).get_json() == {"avatar": ["Invalid image format."]}
    tiny = base64.b64encode(png(20, 20)).decode()
    assert put(client, {"avatar": tiny}).get_json() == {"avatar": ["Invalid image dimensions."]}
    text = base64.b64encode(b"hello").decode()
    assert put(client, {"avatar": text}).get_json() == {"avatar": ["Invalid image format."]}


@pytest.mark.parametrize("settings", [{"AVATAR_MAX_SIZE": 2000}])
def test_avatar_too_large(client):
    as_role(client)
    big = base64.b64encode(png(300, 300, (1, 2, 3))[:1] + b"\0" * 2500).decode()
    resp = put(client, {"avatar": big})
    assert resp.status_code == 413 and resp.get_json() == {"detail": "Image too large"}
    huge = "A" * 20000  # over the body limit: refused from Content-Length before parsing
    resp = client.put(url(), data=json.dumps({"avatar": huge}), content_type="application/json")
    assert resp.status_code == 413


# --- user avatar API ---------------------------------------------------------------------------


def test_user_avatar_api(client):
    user = make_user()
    login(client, user.email)
    assert client.put("/api/0/users/me/avatar/", json={"avatar_type": "upload"}).status_code == 400
    assert client.put("/api/0/users/me/avatar/", json={"avatar_type": "nope"}).status_code == 400
    other = make_user()
    assert client.put(f"/api/0/users/{other.id}/avatar/", json={"avatar_type": "gravatar"}).status_code == 403
    resp = client.put(
        f"/api/0/users/{user.id}/avatar/",
        json={"avatar_type": "upload", "avatar_photo": base64.b64encode(png()).decode()},
    )
    assert resp.status_code == 202 and resp.get_json()["avatarType"] == "upload"
    resp = client.put("/api/0/users/me/avatar/", json={"avatar_type": "gravatar"})
    assert resp.status_code == 200 and resp.get_json()["avatarType"] == "gravatar"


# --- the settings page ---------------------------------------------------------------------------


def page_url() -> str:
    return f"/organizations/{default_org().slug}/settings/"


def form_data(**overrides):
    org = default_org()
    data = {
        "name": org.name,
        "slug": org.slug,
        "defaultRole": org.default_role,
        "openMembership": "on",
        "allowMemberInvite": "on",
        "allowJoinRequests": "on",
        "relay_count": "1",
        "relay-0-name": "",
        "relay-0-publicKey": "",
        "relay-0-description": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("role", ["member", "admin", "manager"])
def test_page_is_for_owners(client, role):
    as_role(client, role)
    assert client.get(page_url()).status_code == 403
    assert client.post(page_url(), data=form_data(name="X")).status_code == 403


def test_page_shows_the_form(client):
    as_role(client)
    html = client.get(page_url()).get_data(as_text=True)
    assert 'id="org-settings-form"' in html and 'id="avatar-form"' in html
    assert 'name="relay-0-publicKey"' in html and 'name="relay-1-name"' not in html
    assert 'viewBox="0 0 120 120"' in html


def test_page_saves_and_audits(client):
    as_role(client)
    old = default_org().name
    resp = client.post(page_url(), data=form_data(name="Page Name", allowJoinRequests=None))
    assert resp.status_code == 303
    follow = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Organization settings saved." in follow
    assert edits()[0].data == {"name": f"from {old} to Page Name", "allowJoinRequests": "to False"}
    resp = client.post(page_url(), data=form_data(name="Page Name", allowJoinRequests=None))
    assert resp.status_code == 303 and len(edits()) == 1  # nothing changed: nothing audited
    assert "Nothing changed." in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_page_slug_errors(client):
    make_org("Other", slug="other-org")
    as_role(client)
    resp = client.post(page_url(), data=form_data(slug="other-org"))
    assert resp.status_code == 422
    assert "The slug &#34;other-org&#34; is already in use." in resp.get_data(as_text=True)
    resp = client.post(page_url(), data=form_data(slug="-bad"), headers={"HX-Request": "true"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "<html" not in body and "Enter a valid slug" in body and 'value="-bad"' in body


def test_page_require_2fa_refused(client):
    as_role(client)
    resp = client.post(page_url(), data=form_data(require2FA="on"))
    assert resp.status_code == 422
    assert "without personal two-factor enabled." in resp.get_data(as_text=True)


def test_page_relays_without_javascript(client):
    as_role(client)
    # "Add row" re-renders the whole page with one more row and keeps what was typed.
    resp = client.post(page_url(), data=form_data(**{"relay-0-name": "r1", "op": "add_relay"}))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" in html
    assert 'name="relay-1-name"' in html and 'value="r1"' in html
    assert options.get_row(default_org().id, relays.OPTION_KEY) is None  # nothing saved yet
    rows = {
        "relay_count": "3",
        "relay-0-name": "r1",
        "relay-0-publicKey": KEY1,
        "relay-1-name": "r2",
        "relay-1-publicKey": KEY2,
        "relay-1-description": "second",
        "relay-2-name": "",
        "relay-2-publicKey": "",
    }
    resp = client.post(page_url(), data=form_data(**rows))
    assert resp.status_code == 303
    stored = relays.get_relays(default_org().id)
    assert [(r["name"], r["public_key"], r["description"]) for r in stored] == [
        ("r1", KEY1, None),
        ("r2", KEY2, "second"),
    ]
    html = client.get(page_url()).get_data(as_text=True)
    assert f'value="{KEY2}"' in html and 'name="relay-2-name"' in html  # two rows plus a blank one
    # Remove (plain form button) drops the row from the form, then Save stores it.
    resp = client.post(page_url(), data=form_data(**rows, remove_relay="0"))
    assert resp.status_code == 200 and f'value="{KEY1}"' not in resp.get_data(as_text=True)


def test_page_relays_with_htmx(client):
    as_role(client)
    resp = client.post(
        page_url(),
        data=form_data(op="add_relay", **{"relay-0-name": "typed"}),
        headers={"HX-Request": "true"},
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and body.lstrip().startswith('<details id="trusted-relays"')
    assert 'name="relay-1-name"' in body and 'value="typed"' in body
    resp = client.post(
        page_url(),
        data=form_data(op="remove_relay", remove_relay="0", **{"relay-0-name": "typed"}),
        headers={"HX-Request": "true"},
    )
    assert 'value="typed"' not in resp.get_data(as_text=True)


def test_page_relay_errors(client):
    as_role(client)
    resp = client.post(page_url(), data=form_data(**{"relay-0-name": "r1", "relay-0-publicKey": "nope"}))
    assert resp.status_code == 422
    assert "Invalid public key for relay key info with name:&#39;r1&#39; in Trusted Relays" in resp.get_data(
        as_text=True
    )
    resp = client.post(page_url(), data=form_data(**{"relay-0-publicKey": KEY1}))
    assert "Relay key info with empty name in Trusted Relays" in resp.get_data(as_text=True)
    resp = client.post(page_url(), data=form_data(**{"relay-0-name": "n"}))
    assert "Missing public key for relay key info with name:&#39;n&#39; in Trusted Relays" in resp.get_data(
        as_text=True
    )


def test_page_rename_slug_redirects_to_new_address(client):
    as_role(client)
    resp = client.post(page_url(), data=form_data(slug="brand-new"))
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/organizations/brand-new/settings/")
