"""The command line is quiet and complete: one line when migrations change something, help for every command."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onboarding import create_app
from tests.conftest import base_config


def test_migrations_say_one_line_only_when_they_change_something(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from onboarding.cli import upgrade_database

    app = create_app(base_config(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", redis_url))
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        upgrade_database()
        first = capsys.readouterr()
        upgrade_database()
        second = capsys.readouterr()
    lines = first.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Database schema upgraded ("), first.out
    assert first.err == ""
    assert second.out == "" and second.err == ""
    assert not [r for r in caplog.records if r.name.startswith("alembic") and r.levelno < logging.WARNING]


def _help(*args: str) -> str:
    from onboarding.cli import cli

    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_help_offers_env_file_only_when_it_can_work() -> None:
    offered = "--env-file" in _help()
    assert offered == (importlib.util.find_spec("dotenv") is not None)


@pytest.mark.parametrize("group", [(), ("files",), ("outbox",), ("db",)])
def test_every_command_says_what_it_does(group: tuple[str, ...]) -> None:
    from onboarding.cli import cli

    command: Any = cli
    with cli.make_context("onboarding", list(group) or ["--help"], resilient_parsing=True) as ctx:
        for name in group:
            command = command.get_command(ctx, name)
        assert command.help or command.short_help, group
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert (sub.help or sub.short_help or "").strip(), f"{' '.join(group)} {name} has no help"
    text = _help(*group)
    assert "Commands:" in text
