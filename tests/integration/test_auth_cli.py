"""`callcenter users …` end to end: passwords from stdin, roles, audit, refusal of bad input."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import asyncpg
import pytest

from callcenter.errors import ValidationError
from callcenter.web import auth_cli
from callcenter.web.auth_passwords import PasswordHasher
from tests.integration.test_auth_support import run_cli, scratch_database

__all__ = ["scratch_database"]  # the fixture, imported for pytest to find


def query(dsn: str, sql: str) -> list[Any]:
    async def go() -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(go())


def test_users_add_list_passwd_role_disable(scratch_database: str) -> None:
    """A user made from the command line signs in with the stdin password; changes are audited."""
    added = run_cli(
        "users", "add", "Olena", "--role", "supervisor", "--name", "Олена Коваль",
        database_url=scratch_database, stdin="first passphrase\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "created olena (supervisor)" in added.stdout
    assert "first passphrase" not in added.stdout + added.stderr
    listed = run_cli("users", "list", database_url=scratch_database)
    assert listed.returncode == 0
    assert listed.stdout.split()[:4] == ["olena", "supervisor", "-", "active"]

    stored = query(scratch_database, "SELECT password_hash FROM users WHERE login = 'olena'")[0][0]
    assert stored.startswith("$argon2id$") and PasswordHasher().verify_sync(stored, "first passphrase").ok

    assert (
        run_cli(
            "users", "passwd", "olena", database_url=scratch_database, stdin="second passphrase\n"
        ).returncode
        == 0
    )
    stored = query(scratch_database, "SELECT password_hash FROM users WHERE login = 'olena'")[0][0]
    assert PasswordHasher().verify_sync(stored, "second passphrase").ok

    assert run_cli("users", "role", "olena", "admin", database_url=scratch_database).returncode == 0
    assert run_cli("users", "disable", "olena", database_url=scratch_database).returncode == 0
    rows = query(scratch_database, "SELECT role, disabled FROM users WHERE login = 'olena'")
    assert (rows[0]["role"], rows[0]["disabled"]) == ("admin", True)
    actions = [r["action"] for r in query(scratch_database, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.create", "user.password", "user.role", "user.disable"]
    assert all(r["actor"] == "cli" for r in query(scratch_database, "SELECT actor FROM audit_log"))


def test_users_add_refuses_bad_input(scratch_database: str) -> None:
    """A short password, a taken login, a missing authority or an unknown user exit non-zero with a reason."""
    short = run_cli("users", "add", "ivan", "--role", "agent", database_url=scratch_database, stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    ok = run_cli(
        "users", "add", "ivan", "--role", "agent", database_url=scratch_database, stdin="long enough\n"
    )
    assert ok.returncode == 0
    again = run_cli(
        "users", "add", "IVAN", "--role", "agent", database_url=scratch_database, stdin="long enough\n"
    )
    assert again.returncode == 1 and "taken" in again.stderr
    body = run_cli(
        "users", "add", "oda", "--role", "authority", database_url=scratch_database, stdin="long enough\n"
    )
    assert body.returncode == 1 and "authority" in body.stderr
    nobody = run_cli("users", "role", "nobody", "admin", database_url=scratch_database)
    assert nobody.returncode == 1 and "no user" in nobody.stderr
    bad_role = run_cli(
        "users", "add", "x", "--role", "king", database_url=scratch_database, stdin="long enough\n"
    )
    assert bad_role.returncode == 2


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_password_prompt_on_a_terminal_asks_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the password is asked twice and must match; stdin text is not read."""
    answers = iter(["terminal secret", "terminal secret", "one thing", "another"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert auth_cli.read_password("olena", stdin=FakeTerminal("ignored\n")) == "terminal secret"
    with pytest.raises(ValidationError):
        auth_cli.read_password("olena", stdin=FakeTerminal())
