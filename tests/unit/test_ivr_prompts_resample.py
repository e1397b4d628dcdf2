"""The resampler that turns espeak-ng's 22 050 Hz output into Asterisk's 8 kHz."""

from __future__ import annotations

import itertools
import math

from callcenter.prompts import resample


def tone(frequency: float, rate: int, seconds: float, amplitude: int = 10_000) -> list[int]:
    return [
        round(amplitude * math.sin(2 * math.pi * frequency * n / rate)) for n in range(int(rate * seconds))
    ]


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def zero_crossings(samples: list[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))


def test_length_follows_the_rate_ratio() -> None:
    """One second at 22 050 Hz becomes one second at 8 kHz."""
    assert len(resample(tone(440, 22050, 1.0), 22050, 8000)) == 8000


def test_a_speech_band_tone_keeps_its_pitch_and_level() -> None:
    """A 440 Hz tone keeps its frequency (zero crossings) and loudness after resampling."""
    out = list(resample(tone(440, 22050, 1.0), 22050, 8000))[200:-200]  # skip the filter's edges
    seconds = len(out) / 8000
    assert abs(zero_crossings(out) / seconds - 880) < 10
    assert abs(rms(out) - 10_000 / math.sqrt(2)) < 0.02 * 10_000


def test_a_tone_above_the_new_nyquist_is_removed_not_folded_back() -> None:
    """A 6 kHz tone cannot exist at 8 kHz: it is filtered out instead of aliasing to 2 kHz."""
    out = list(resample(tone(6000, 22050, 0.5), 22050, 8000))[200:-200]
    assert rms(out) < 0.02 * rms(tone(6000, 22050, 0.5))


def test_same_rate_is_a_copy_and_loud_input_is_clipped() -> None:
    """Equal rates return the samples unchanged; overshoot stays within 16 bits."""
    assert list(resample([1, -2, 3], 8000, 8000)) == [1, -2, 3]
    square = [32767 if (n // 20) % 2 else -32768 for n in range(2205)]
    out = resample(square, 22050, 8000)
    assert max(out) <= 32767 and min(out) >= -32768
