"""``callcenter users …``: create users, list them, set passwords and roles from the command line.

The first admin of a fresh install is made here (``callcenter users add admin --role admin``).
Passwords are read from a prompt (asked twice) on a terminal, or as one line from standard
input otherwise (``printf '%s\\n' "$PW" | callcenter users passwd olena``), never from an
argument, where they would end up in the shell history and the process list. Every change is
written to the audit trail with the actor ``cli``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from callcenter.config import Settings
from callcenter.errors import ValidationError
from callcenter.storage.audit import record_audit
from callcenter.storage.users import (
    Role,
    create_user,
    get_user_by_login,
    list_users,
    normalize_login,
    set_disabled,
    set_password_hash,
    set_role,
)
from callcenter.web.auth_passwords import PasswordHasher, check_new_password

__all__ = ["CLI_ACTOR", "add_users_parser", "read_password", "users_command"]

CLI_ACTOR = "cli"


def add_users_parser(sub: Any) -> None:
    """Add the ``users`` command and its subcommands to the top-level subparsers."""
    users = sub.add_parser("users", help="people who sign in: add, list, passwd, role, disable, enable")
    users_sub = users.add_subparsers(dest="users_command", metavar="USERS_COMMAND", required=True)
    roles = [r.value for r in Role]

    add = users_sub.add_parser("add", help="create a user (the password is asked for, or read from stdin)")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--name", default="", help="display name, e.g. 'Олена Коваль'")
    add.add_argument("--authority", default=None, help="authority id, for role 'authority'")

    users_sub.add_parser("list", help="every user with role and state")

    passwd = users_sub.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("login")

    role = users_sub.add_parser("role", help="change a user's role (ends the user's sessions)")
    role.add_argument("login")
    role.add_argument("role", choices=roles)
    role.add_argument("--authority", default=None, help="authority id, for role 'authority'")

    for name, text in (("disable", "stop a user signing in"), ("enable", "allow a disabled user again")):
        users_sub.add_parser(name, help=text).add_argument("login")


def read_password(login: str, *, stdin: TextIO | None = None) -> str:
    """A new password: prompted twice on a terminal, else the first line of standard input."""
    stream = stdin or sys.stdin
    if stream.isatty():
        first = getpass.getpass(f"New password for {login}: ")
        if first != getpass.getpass("Repeat it: "):
            raise ValidationError("the two passwords differ", field="password")
        password = first
    else:
        password = stream.readline().rstrip("\r\n")
    check_new_password(password, login=login)
    return password


async def users_command(args: argparse.Namespace, settings: Settings, *, stdin: TextIO | None = None) -> int:
    """Run ``callcenter users <subcommand>``; returns the exit status."""
    from callcenter.app import open_database

    command = args.users_command
    password = ""
    if command in {"add", "passwd"}:
        # Read before opening the database, so a bad password costs no connection.
        password = read_password(normalize_login(args.login), stdin=stdin)
    hasher = PasswordHasher()
    async with open_database(settings) as database:
        pool = database.pool
        if command == "list":
            for user in await list_users(pool):
                state = "disabled" if user.disabled else "active"
                authority = user.authority_id or "-"
                print(f"{user.login:24} {user.role.value:11} {authority:16} {state:9} {user.display_name}")
            return 0
        if command == "add":
            async with pool.acquire() as conn, conn.transaction():
                user = await create_user(
                    conn,
                    args.login,
                    Role(args.role),
                    await hasher.hash(password),
                    display_name=args.name,
                    authority_id=args.authority,
                )
                await record_audit(
                    conn,
                    CLI_ACTOR,
                    "user.create",
                    user.login,
                    {"role": user.role.value, "authority_id": user.authority_id},
                )
            print(f"created {user.login} ({user.role.value})")
            return 0
        existing = await get_user_by_login(pool, args.login)
        if existing is None:
            print(f"callcenter: no user {args.login!r}", file=sys.stderr)
            return 1
        async with pool.acquire() as conn, conn.transaction():
            if command == "passwd":
                await set_password_hash(conn, existing.id, await hasher.hash(password))
                await record_audit(conn, CLI_ACTOR, "user.password", existing.login, {})
            elif command == "role":
                await set_role(conn, existing.id, Role(args.role), authority_id=args.authority)
                await record_audit(
                    conn,
                    CLI_ACTOR,
                    "user.role",
                    existing.login,
                    {"from": existing.role.value, "to": args.role, "authority_id": args.authority},
                )
            else:
                await set_disabled(conn, existing.id, command == "disable")
                await record_audit(conn, CLI_ACTOR, f"user.{command}", existing.login, {})
        print(f"{command}: {existing.login} done")
        return 0
