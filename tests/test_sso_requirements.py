"""The single-sign-on tests need Node.js: without it they skip and say why, except in CI, where they fail."""

from __future__ import annotations

import shutil

import pytest

from tests import oidc_helpers


def test_without_node_the_sso_tests_skip_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONBOARDING_REQUIRE_NODE", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="Node.js is needed .* install Node.js and npm"):
        next(oidc_helpers.oidc_provider_fixture.__wrapped__())  # type: ignore[attr-defined]


def test_ci_requires_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONBOARDING_REQUIRE_NODE", "1")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"Node.js is needed .*\(ONBOARDING_REQUIRE_NODE=1\)"):
        next(oidc_helpers.oidc_provider_fixture.__wrapped__())  # type: ignore[attr-defined]
