"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 8
MAX_LENGTH = 256  # long enough for any passphrase, short enough that hashing one costs nothing extra


@functools.cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID)


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant-work check: with no stored hash a dummy hash is verified so timing does not tell."""
    ph = hasher()
    if not stored:
        with contextlib.suppress(VerificationError, InvalidHashError):
            ph.verify(dummy_hash(), password)
        return False
    try:
        return ph.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    try:
        return hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True


def dummy_hash() -> str:
    cfg = current_app.config
    return _dummy(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])


@functools.cache
def _dummy(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_cost, parallelism).hash("not a real password, only for timing")


@functools.cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the most common passwords (ranked lists from real breaches); we use its list as the
    # "common and breached-looking" check that needs no network.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def policy_errors(password: str, *, user_inputs: Iterable[str] = ()) -> list[str]:
    """Why ``password`` is refused (empty list when it is fine)."""
    if len(password) < MIN_LENGTH:
        return [f"This password is too short. It must contain at least {MIN_LENGTH} characters."]
    if len(password) > MAX_LENGTH:
        return [f"This password is too long. It must contain at most {MAX_LENGTH} characters."]
    lowered = password.lower()
    if lowered in _common_passwords():
        return ["This password is too common."]
    if password.isdigit():
        return ["This password is entirely numeric."]
    for value in user_inputs:
        value = (value or "").lower()
        local = value.split("@", 1)[0]
        if value and (
            lowered == value or (len(local) >= 4 and local in lowered and len(lowered) - len(local) < 4)
        ):
            return ["The password is too similar to the email address."]
    if len(set(password)) < 4:
        return ["This password is too easy to guess."]
    return []
