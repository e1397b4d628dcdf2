"""The public form's anti-abuse guard (no I/O): zero-bit counting, challenge checks, limits."""

from __future__ import annotations

import hashlib

import pytest

from callcenter.web.public_appeals_guard import (
    Challenge,
    GuardRefused,
    GuardSettings,
    PublicGuard,
    leading_zero_bits,
    solve,
    work_digest,
)

SETTINGS = GuardSettings(difficulty=8, min_fill_s=5, max_age_s=600, submissions_per_hour=3, window_s=3600)
T0 = 1_700_000_000.0


def refused(call: object) -> str:
    assert callable(call)
    with pytest.raises(GuardRefused) as caught:
        call()
    return caught.value.error_id


def test_leading_zero_bits_counts_bits_not_bytes() -> None:
    """Zero bytes count 8 each and the first non-zero byte adds its own leading zeros."""
    assert leading_zero_bits(b"\x00\x00\x80") == 16
    assert leading_zero_bits(b"\x00\x01") == 15
    assert leading_zero_bits(b"\x10") == 3
    assert leading_zero_bits(b"\x00\x00") == 16


def test_solve_finds_the_first_counter_with_enough_zero_bits() -> None:
    """The solution meets the difficulty and no smaller counter does."""
    challenge = Challenge("abc.def.ghi", 10)
    n = solve(challenge)
    assert work_digest("abc.def.ghi", n) == hashlib.sha256(f"abc.def.ghi:{n}".encode()).digest()
    assert leading_zero_bits(work_digest(challenge.token, n)) >= 10
    assert all(leading_zero_bits(work_digest(challenge.token, k)) < 10 for k in range(n))


def test_a_solved_challenge_is_admitted_once_within_its_age_window() -> None:
    """Too early, too late, forged, unsolved and replayed tokens are refused each with their reason."""
    guard = PublicGuard(SETTINGS, secret=b"k" * 32)
    challenge = guard.issue("10.0.0.1", T0)
    n = solve(challenge)

    def admit(token: str = challenge.token, solution: object = n, at: float = T0 + 10) -> None:
        guard.admit_submission("10.0.0.2", token=token, solution=solution, honeypot="", now=at)

    assert refused(lambda: admit(at=T0 + 1)) == "too_fast"
    assert refused(lambda: admit(at=T0 + 601)) == "challenge_expired"
    assert refused(lambda: admit(token=challenge.token.replace(".", "x", 1))) == "challenge_invalid"
    other = PublicGuard(SETTINGS, secret=b"z" * 32)
    assert (
        refused(
            lambda: other.admit_submission("a", token=challenge.token, solution=n, honeypot="", now=T0 + 10)
        )
        == "challenge_invalid"
    )
    bad = n + 1
    while leading_zero_bits(work_digest(challenge.token, bad)) >= SETTINGS.difficulty:
        bad += 1
    guard2 = PublicGuard(SETTINGS, secret=b"k" * 32)
    for i, solution in enumerate((bad, -1, True, "7")):

        def attempt(solution: object = solution, address: str = f"b{i}") -> None:
            guard2.admit_submission(
                address, token=challenge.token, solution=solution, honeypot="", now=T0 + 10
            )

        assert refused(attempt) == "challenge_unsolved"
    guard3 = PublicGuard(SETTINGS, secret=b"k" * 32)
    guard3.admit_submission("c", token=challenge.token, solution=n, honeypot="", now=T0 + 10)
    guard3.spend(challenge.token, T0 + 10)
    assert refused(lambda: guard3.spend(challenge.token, T0 + 11)) == "challenge_reused"


def test_honeypot_and_rate_limit() -> None:
    """A filled honeypot is refused before anything is counted; the fourth attempt in an hour is 429."""
    guard = PublicGuard(SETTINGS, secret=b"k" * 32)
    challenge = guard.issue("x", T0)
    n = solve(challenge)
    for _ in range(5):
        assert (
            refused(
                lambda: guard.admit_submission(
                    "1.2.3.4", token="", solution=0, honeypot="http://spam", now=T0
                )
            )
            == "rejected"
        )
    for _ in range(3):
        guard.admit_submission("1.2.3.4", token=challenge.token, solution=n, honeypot="", now=T0 + 10)
    with pytest.raises(GuardRefused) as caught:
        guard.admit_submission("1.2.3.4", token=challenge.token, solution=n, honeypot="", now=T0 + 11)
    assert (caught.value.status, caught.value.error_id) == (429, "too_many_requests")
    assert caught.value.retry_after is not None and 3500 <= caught.value.retry_after <= 3600
    guard.admit_submission("5.6.7.8", token=challenge.token, solution=n, honeypot="", now=T0 + 11)
    later = guard.issue("1.2.3.4", T0 + 3600)
    guard.admit_submission("1.2.3.4", token=later.token, solution=solve(later), honeypot="", now=T0 + 3611)


def test_settings_refuse_an_impossible_difficulty() -> None:
    """More than 32 zero bits would keep a phone busy for hours and is refused."""
    with pytest.raises(ValueError):
        GuardSettings(difficulty=33)
