"""Password hashing with argon2id (argon2-cffi), off the event loop and bounded in memory.

argon2id is the password hash OWASP and RFC 9106 recommend; argon2-cffi is the vetted binding
of the reference implementation, so we configure it rather than write anything of our own.
Each hash takes tens of milliseconds and, with the default parameters, 64 MiB of memory, so
hashing runs in a worker thread and at most ``max_concurrent`` hashes run at once: a burst of
logins queues instead of stalling the loop or exhausting memory.

``verify`` also says when a stored hash was made with other parameters than today's, so the
login handler rehashes it while it holds the plain password (parameters can then be raised
over time without a password reset). ``burn`` verifies against a dummy hash, so an unknown
login costs as much time as a wrong password and the two cannot be told apart by timing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from callcenter.errors import ValidationError

__all__ = [
    "DEFAULT_PARAMETERS",
    "FAST_TEST_PARAMETERS",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "HashParameters",
    "PasswordHasher",
    "Verdict",
    "check_new_password",
]

#: Passwords shorter than this are refused when set (NIST SP 800-63B's minimum).
MIN_PASSWORD_LENGTH = 8
#: And longer than this: the hash is fine with it, but it is not a password any more.
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class HashParameters:
    """argon2id cost parameters (memory in KiB)."""

    time_cost: int = argon2.DEFAULT_TIME_COST
    memory_cost: int = argon2.DEFAULT_MEMORY_COST
    parallelism: int = argon2.DEFAULT_PARALLELISM


#: argon2-cffi's defaults (RFC 9106's second recommended option: t=3, m=64 MiB, p=4).
DEFAULT_PARAMETERS = HashParameters()
#: Cheap parameters for tests that sign in many times; never for real passwords.
FAST_TEST_PARAMETERS = HashParameters(time_cost=1, memory_cost=8, parallelism=1)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of checking a password: does it match, and should the hash be renewed."""

    ok: bool
    needs_rehash: bool = False


class PasswordHasher:
    """Hash and verify passwords with argon2id in worker threads."""

    def __init__(self, parameters: HashParameters = DEFAULT_PARAMETERS, *, max_concurrent: int = 4) -> None:
        self.parameters = parameters
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        # Made on first use: hashing costs real time, and many apps (tests) never need it.
        self._dummy_hash: str | None = None
        self._max_concurrent = max_concurrent
        # Made per event loop: a semaphore belongs to the loop it first waits on.
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self._max_concurrent))
        return self._slots[1]

    def hash_sync(self, password: str) -> str:
        """The PHC string of ``password`` (blocking; for the CLI)."""
        return self._hasher.hash(password)

    def verify_sync(self, stored_hash: str, password: str) -> Verdict:
        """Check ``password`` against ``stored_hash`` (blocking)."""
        try:
            self._hasher.verify(stored_hash, password)
        except VerifyMismatchError:
            return Verdict(ok=False)
        except (VerificationError, InvalidHashError):
            # A corrupt or foreign hash: nobody can sign in with it, which is the safe answer.
            return Verdict(ok=False)
        return Verdict(ok=True, needs_rehash=self._hasher.check_needs_rehash(stored_hash))

    async def hash(self, password: str) -> str:
        """The PHC string of ``password``, computed in a worker thread."""
        async with self._semaphore():
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> Verdict:
        """Check ``password`` against ``stored_hash`` in a worker thread."""
        async with self._semaphore():
            return await asyncio.to_thread(self.verify_sync, stored_hash, password)

    async def burn(self, password: str) -> None:
        """Spend the time a verification takes, for a login that does not exist."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("dummy password for unknown logins")
        await self.verify(self._dummy_hash, password)


def check_new_password(password: str, *, login: str = "") -> None:
    """Refuse a new password that is too short, too long, or the login itself."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password has at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"a password has at most {MAX_PASSWORD_LENGTH} characters", field="password")
    if login and password.strip().lower() == login.strip().lower():
        raise ValidationError("the password must not be the login", field="password")
