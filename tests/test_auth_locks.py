"""Notes §5: never hash passwords inside a write transaction. On SQLite a write transaction is the
whole app's write lock, so a flood of sign-in attempts (each an Argon2 hash) would stall every other
write. While the hash runs, no transaction is open, and another SQLite writer gets the lock at once."""

from __future__ import annotations

import sqlite3

import pytest
from flask import has_request_context

from onboarding import passwords
from onboarding.extensions import db
from tests.factories import login, make_user


@pytest.fixture
def hashing_checked(monkeypatch, database_url):  # type: ignore[no-untyped-def]
    """Each password hash or check records whether a transaction was open (and, on SQLite, proves
    that another connection could take the write lock at that moment)."""
    seen: list[bool] = []

    def checked(real):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if not has_request_context():  # the test's own set-up (make_user) is not under test
                return real(*args, **kwargs)
            seen.append(db.session().in_transaction())
            if database_url.startswith("sqlite"):
                other = sqlite3.connect(
                    database_url.removeprefix("sqlite:///"), timeout=0.2, isolation_level=None
                )
                try:
                    other.execute("BEGIN IMMEDIATE")  # "database is locked" if a writer held it
                    other.execute("ROLLBACK")
                finally:
                    other.close()
            return real(*args, **kwargs)

        return wrapper

    import onboarding.accounts.service as accounts
    import onboarding.auth.views as views

    monkeypatch.setattr(accounts, "verify_password", checked(passwords.verify_password))
    monkeypatch.setattr(accounts, "hash_password", checked(passwords.hash_password))
    monkeypatch.setattr(views, "hash_password", checked(passwords.hash_password))
    return seen


def _register_ada(client):  # type: ignore[no-untyped-def]
    form = {"op": "register", "name": "Ada", "username": "ada@example.com", "password": "a sturdy passphrase"}
    return client.post("/auth/register/", data=form)


@pytest.mark.parametrize(
    ("email", "password", "status"),
    [
        ("a@example.com", "correct horse battery", 303),
        ("a@example.com", "wrong", 422),
        ("x@example.com", "x", 422),
    ],
    ids=["right", "wrong-password", "unknown-email"],
)
def test_sign_in_hashes_with_no_transaction_open(client, hashing_checked, email, password, status):
    make_user("a@example.com", password="correct horse battery")
    assert login(client, email, password).status_code == status
    assert hashing_checked == [False]


def test_an_outdated_hash_is_replaced_after_hashing_outside(app, client, hashing_checked):
    user = make_user("a@example.com", password="correct horse battery")
    app.config["ARGON2_TIME_COST"] = 3  # parameters changed since the hash was made
    old = user.password_hash
    assert login(client, "a@example.com", "correct horse battery").status_code == 303
    assert hashing_checked == [False, False]  # the check, then the new hash
    db.session.expire_all()
    assert db.session.get(type(user), user.id).password_hash != old


def test_registration_hashes_with_no_transaction_open(app, client, hashing_checked):
    app.config["ALLOW_REGISTRATION"] = True
    resp = _register_ada(client)
    assert resp.status_code == 303
    assert hashing_checked == [False]


def test_an_address_taken_between_the_check_and_the_write_gets_the_same_message(app, client, monkeypatch):
    """The form is checked in a read-only transaction; if someone registers the address before the
    account is written, the answer is the usual message, not an error page."""
    from onboarding.auth.forms import RegisterForm

    app.config["ALLOW_REGISTRATION"] = True
    make_user("ada@example.com")
    monkeypatch.setattr(RegisterForm, "check_taken", False)  # as if the check ran before the other sign-up
    resp = _register_ada(client)
    assert resp.status_code == 422
    assert "An account is already registered with that email address." in resp.get_data(as_text=True)
