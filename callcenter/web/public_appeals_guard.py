"""Protection of the public appeal form against automated abuse, with no third-party service.

Three layers, each cheap for a person and costly for a script:

* **Rate limits per client address** (the login limiter's ``SlidingWindow``): a few submissions
  an hour, more status checks, more challenges.
* **A signed, time-stamped challenge with a proof of work.** The page fetches a challenge token
  (HMAC-signed issue time + random nonce) and its browser looks for a counter ``n`` such that
  SHA-256(``token:n``) starts with ``difficulty`` zero bits (2^difficulty hashes on average, a
  second or so in a phone's browser, done while the person types). The server checks the
  signature, that the token is at least ``min_fill_s`` old (nobody fills the form faster) and
  at most ``max_age_s``, the work, and that the token was not used before (kept in memory
  until it expires: with one active backend it sees every submission).
* **A honeypot field** hidden from people (and from screen readers) that form-filling bots fill.

Time is passed in (wall-clock seconds) so tests need no sleeping. Every refusal is a
``GuardRefused`` with a stable ``error_id`` the page turns into a clear message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from callcenter.web.auth_ratelimit import SlidingWindow

__all__ = [
    "DEFAULT_DIFFICULTY",
    "Challenge",
    "GuardRefused",
    "GuardSettings",
    "PublicGuard",
    "leading_zero_bits",
    "solve",
    "work_digest",
]

DEFAULT_DIFFICULTY = 16


class GuardRefused(Exception):
    """A request the guard turned away; ``status`` is the HTTP status it deserves."""

    def __init__(self, error_id: str, message: str, *, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.error_id = error_id
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """Limits and the challenge's cost."""

    difficulty: int = DEFAULT_DIFFICULTY
    min_fill_s: float = 5.0
    max_age_s: float = 2 * 3600.0
    submissions_per_hour: int = 10
    status_checks_per_window: int = 30
    challenges_per_window: int = 60
    window_s: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 <= self.difficulty <= 32:
            raise ValueError("difficulty must be 0-32 bits")


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the page needs to do the work: the token and the number of zero bits wanted."""

    token: str
    difficulty: int


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits ``digest`` starts with."""
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def work_digest(token: str, counter: int) -> bytes:
    """SHA-256 of ``token:counter``, the digest whose leading zero bits the challenge counts."""
    return hashlib.sha256(f"{token}:{counter}".encode()).digest()


def solve(challenge: Challenge) -> int:
    """The first counter that satisfies ``challenge`` (what the page's script does; tests use it)."""
    counter = 0
    while leading_zero_bits(work_digest(challenge.token, counter)) < challenge.difficulty:
        counter += 1
    return counter


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PublicGuard:
    """Rate limits, challenges and the honeypot for the public form (state kept in memory)."""

    def __init__(self, settings: GuardSettings | None = None, *, secret: bytes | None = None) -> None:
        self.settings = s = settings or GuardSettings()
        # A per-process secret: a restart only invalidates the forms open at that moment.
        self._secret = secret or secrets.token_bytes(32)
        self._submissions = SlidingWindow(s.submissions_per_hour, s.window_s)
        self._status_checks = SlidingWindow(s.status_checks_per_window, s.window_s)
        self._challenges = SlidingWindow(s.challenges_per_window, s.window_s)
        self._used: OrderedDict[str, float] = OrderedDict()  # token → when it stops mattering

    # -- rate limits -----------------------------------------------------------------------

    @staticmethod
    def _limit(window: SlidingWindow, address: str, now: float, what: str) -> None:
        wait = window.retry_after(address, now)
        if wait is not None:
            raise GuardRefused(
                "too_many_requests",
                f"too many {what} from this address; try again later",
                status=429,
                retry_after=max(1, int(wait + 0.999)),
            )
        window.record(address, now)

    def check_status_rate(self, address: str, now: float) -> None:
        """Count one status check from ``address``; GuardRefused (429) past the limit."""
        self._limit(self._status_checks, address, now, "status checks")

    # -- challenges ------------------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:18])

    def issue(self, address: str, now: float) -> Challenge:
        """A fresh challenge for the page at ``address``."""
        self._limit(self._challenges, address, now, "forms")
        payload = f"{int(now * 1000)}.{secrets.token_hex(8)}"
        return Challenge(f"{payload}.{self._sign(payload)}", self.settings.difficulty)

    def _check_challenge(self, token: str, solution: object, now: float) -> None:
        parts = token.split(".")
        if len(parts) != 3 or not hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}"), parts[2]):
            raise GuardRefused("challenge_invalid", "the form's check is missing or damaged; reload the page")
        try:
            issued = int(parts[0]) / 1000
        except ValueError:
            raise GuardRefused("challenge_invalid", "the form's check is damaged; reload the page") from None
        age = now - issued
        if age < self.settings.min_fill_s:
            raise GuardRefused("too_fast", "the form was sent too quickly after it opened; wait a moment")
        if age > self.settings.max_age_s:
            raise GuardRefused("challenge_expired", "the form was open too long; it was renewed, send again")
        if not isinstance(solution, int) or isinstance(solution, bool) or solution < 0:
            raise GuardRefused("challenge_unsolved", "the browser's check was not completed; wait a moment")
        if leading_zero_bits(work_digest(token, solution)) < self.settings.difficulty:
            raise GuardRefused("challenge_unsolved", "the browser's check is wrong; reload the page")
        self._forget_used(now)
        if token in self._used:
            raise GuardRefused(
                "challenge_reused", "this form was already sent; reload the page to send another"
            )

    def _forget_used(self, now: float) -> None:
        while self._used:
            token, until = next(iter(self._used.items()))
            if until > now:
                break
            del self._used[token]

    def admit_submission(
        self, address: str, *, token: str, solution: object, honeypot: str, now: float
    ) -> None:
        """Check one submission; GuardRefused when it must not be processed.

        The rate limit counts every attempt that reaches it (a script retrying a bad token
        still uses up its budget). The token is not spent here: a form returned for a bad field
        is sent again with the same work; ``spend`` marks it used once the form is accepted.
        """
        if honeypot.strip():
            raise GuardRefused("rejected", "the form could not be accepted")
        self._limit(self._submissions, address, now, "appeals")
        self._check_challenge(token, solution, now)

    def spend(self, token: str, now: float) -> None:
        """Mark an admitted token used; GuardRefused when it already was (a replayed form)."""
        self._forget_used(now)
        if token in self._used:
            raise GuardRefused(
                "challenge_reused", "this form was already sent; reload the page to send another"
            )
        self._used[token] = now + self.settings.max_age_s
