"""argon2id password hashing: verification, rehash on parameter change, refusal of bad hashes."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.errors import ValidationError
from callcenter.web.auth_passwords import (
    FAST_TEST_PARAMETERS,
    HashParameters,
    PasswordHasher,
    check_new_password,
)

HASHER = PasswordHasher(FAST_TEST_PARAMETERS)


def test_hash_is_argon2id_salted_and_verifies() -> None:
    """A hash is an argon2id PHC string, differs per call (salt), and verifies only the right password."""
    first = HASHER.hash_sync("кобзар-1840")
    second = HASHER.hash_sync("кобзар-1840")
    assert first.startswith("$argon2id$") and first != second
    assert HASHER.verify_sync(first, "кобзар-1840").ok
    assert not HASHER.verify_sync(first, "кобзар-1841").ok


def test_changed_parameters_ask_for_a_rehash() -> None:
    """A hash made with other parameters verifies but is flagged for renewal."""
    old = PasswordHasher(HashParameters(time_cost=1, memory_cost=16, parallelism=1)).hash_sync("pass phrase")
    verdict = HASHER.verify_sync(old, "pass phrase")
    assert verdict.ok and verdict.needs_rehash
    assert not HASHER.verify_sync(HASHER.hash_sync("pass phrase"), "pass phrase").needs_rehash


@pytest.mark.parametrize("stored", ["", "plain text", "$argon2id$v=19$m=8,t=1,p=1$broken", "$2b$12$bcrypt"])
def test_corrupt_or_foreign_hash_never_verifies(stored: str) -> None:
    """A stored value that is not a valid argon2 hash lets nobody in, and raises nothing."""
    assert not HASHER.verify_sync(stored, "anything").ok


async def test_async_hash_verify_and_burn_run_off_the_loop() -> None:
    """The async forms give the same answers; burn completes for an unknown login."""
    stored = await HASHER.hash("async password")
    assert (await HASHER.verify(stored, "async password")).ok
    assert not (await HASHER.verify(stored, "wrong")).ok
    await HASHER.burn("whatever")


def test_new_password_rules() -> None:
    """Too short, too long, or equal to the login is refused, naming the password field."""
    for bad in ("short", "x" * 1025):
        with pytest.raises(ValidationError) as info:
            check_new_password(bad)
        assert info.value.field == "password"
    with pytest.raises(ValidationError):
        check_new_password("Olena.Koval", login="olena.koval")
    check_new_password("a decent passphrase", login="olena")


def test_hashing_bounds_concurrency_and_survives_a_new_event_loop() -> None:
    """Hashes queue behind the concurrency bound, and the hasher works again in a later event loop."""
    hasher = PasswordHasher(FAST_TEST_PARAMETERS, max_concurrent=1)

    async def many() -> list[str]:
        return await asyncio.gather(*(hasher.hash(f"password {n}") for n in range(4)))

    for _ in range(2):
        hashes = asyncio.run(many())
        assert len(set(hashes)) == 4
