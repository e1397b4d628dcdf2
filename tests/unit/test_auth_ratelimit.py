"""Login rate limiting: sliding windows per login and per address, with time passed in."""

from __future__ import annotations

import pytest

from callcenter.web.auth_ratelimit import LoginLimits, LoginThrottle, SlidingWindow


def test_window_allows_up_to_the_limit_then_says_how_long_to_wait() -> None:
    """The limit-th event closes the key until the oldest counted event leaves the window."""
    window = SlidingWindow(limit=3, window_s=60)
    for t in (0.0, 10.0, 20.0):
        assert window.retry_after("k", t) is None
        window.record("k", t)
    assert window.retry_after("k", 30.0) == pytest.approx(30.0)  # the event at 0 leaves at 60
    assert window.retry_after("k", 60.0) is None


def test_window_slides_rather_than_resets() -> None:
    """Old events drop out one by one, so a steady trickle stays limited."""
    window = SlidingWindow(limit=2, window_s=10)
    window.record("k", 0.0)
    window.record("k", 9.0)
    assert window.retry_after("k", 9.5) == pytest.approx(0.5)
    window.record("k", 10.5)  # the event at 0 left; 9.0 and 10.5 remain
    assert window.retry_after("k", 11.0) == pytest.approx(8.0)


def test_keys_are_independent_and_reset_forgets() -> None:
    """One key's events never limit another, and reset clears a key."""
    window = SlidingWindow(limit=1, window_s=100)
    window.record("a", 0.0)
    assert window.retry_after("a", 1.0) is not None
    assert window.retry_after("b", 1.0) is None
    window.reset("a")
    assert window.retry_after("a", 1.0) is None


def test_number_of_keys_is_bounded() -> None:
    """A flood of distinct keys evicts the least recently used instead of growing without end."""
    window = SlidingWindow(limit=1, window_s=1000, max_keys=3)
    for n in range(10):
        window.record(f"k{n}", float(n))
    assert len(window) == 3
    assert window.retry_after("k9", 10.0) is not None
    assert window.retry_after("k0", 10.0) is None


def test_expired_keys_are_dropped() -> None:
    """A key whose events all left the window takes no memory."""
    window = SlidingWindow(limit=5, window_s=10)
    window.record("k", 0.0)
    assert window.retry_after("k", 20.0) is None
    assert len(window) == 0


def test_invalid_limits_are_refused() -> None:
    """A zero limit or window is a programming error, not a silent no-limit."""
    with pytest.raises(ValueError):
        SlidingWindow(limit=0, window_s=10)
    with pytest.raises(ValueError):
        SlidingWindow(limit=1, window_s=0)


def test_throttle_limits_per_login_and_success_clears_only_the_login() -> None:
    """Five failures lock a login; a success clears it but not the address's count."""
    throttle = LoginThrottle(LoginLimits(per_login=5, per_address=7, window_s=900))
    for n in range(5):
        assert throttle.retry_after("olena", "10.0.0.1", float(n)) is None
        throttle.failed("olena", "10.0.0.1", float(n))
    wait = throttle.retry_after("olena", "10.0.0.1", 5.0)
    assert wait == 895
    assert throttle.retry_after("olena", "10.0.0.2", 5.0) == 895  # another address, same login
    throttle.succeeded("olena")
    assert throttle.retry_after("olena", "10.0.0.1", 6.0) is None
    throttle.failed("ivan", "10.0.0.1", 7.0)
    throttle.failed("ivan", "10.0.0.1", 8.0)
    assert throttle.retry_after("someone", "10.0.0.1", 9.0) == 891  # 7 from this address


def test_throttle_wait_is_whole_seconds_at_least_one() -> None:
    """Retry-After is a positive whole number even when the wait is a fraction of a second."""
    throttle = LoginThrottle(LoginLimits(per_login=1, per_address=10, window_s=10))
    throttle.failed("a", "h", 0.0)
    assert throttle.retry_after("a", "h", 9.99) == 1
