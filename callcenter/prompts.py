"""Text prompts → 8 kHz WAV files Asterisk can play, made with the espeak-ng speech synthesizer.

A new flow is callable without a studio: every text prompt is rendered once into
``<sounds_dir>/tts/<language>/<sha256>.wav`` (8 kHz, mono, 16-bit: the format of Asterisk's
``wav`` sounds) and reused while its text, language and voice stay the same. Asterisk is given
the path without the extension, as ``STREAM FILE`` expects.

espeak-ng writes 22 050 Hz audio and cannot write 8 kHz itself; the standard library's
``audioop`` is deprecated, so the conversion is a small windowed-sinc resampler here.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import operator
import os
import shutil
import subprocess
import tempfile
import wave
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from callcenter.errors import CallcenterError
from callcenter.ivr.model import Flow, PromptSpec

__all__ = ["DEFAULT_VOICES", "SAMPLE_RATE", "PromptSynthesizer", "SpeechSynthesisError", "resample"]

SAMPLE_RATE = 8000
#: espeak-ng voice per flow language (espeak-ng has Ukrainian as ``uk``).
DEFAULT_VOICES: Mapping[str, str] = {"uk": "uk", "ru": "ru", "en": "en"}
#: Part of every cache key: change it when the rendering changes, so old files are not reused.
_RENDER_VERSION = "espeak-ng/8k/1"
_TAPS_PER_SIDE = 16


class SpeechSynthesisError(CallcenterError):
    """A prompt could not be synthesized (synthesizer missing, failing, or an unknown language)."""


def _blackman(position: float) -> float:
    """The Blackman window over [-1, 1]."""
    return 0.42 + 0.5 * math.cos(math.pi * position) + 0.08 * math.cos(2 * math.pi * position)


def resample(samples: Sequence[int], source_rate: int, target_rate: int) -> array[int]:
    """Resample 16-bit samples by a rational factor with a low-pass windowed-sinc filter.

    The filter cuts at 90 % of the lower Nyquist frequency, so nothing above 3.6 kHz folds back
    into the 8 kHz result. Coefficients are computed once per phase (polyphase form).
    """
    if source_rate == target_rate:
        return array("h", samples)
    divisor = math.gcd(source_rate, target_rate)
    up, down = target_rate // divisor, source_rate // divisor
    cutoff = 0.9 * min(1.0, target_rate / source_rate)
    width = _TAPS_PER_SIDE
    tables: list[list[float]] = []
    for phase in range(up):
        fraction = phase / up
        coefficients = []
        for offset in range(-width + 1, width + 1):
            x = fraction - offset
            sinc = 1.0 if x == 0 else math.sin(math.pi * cutoff * x) / (math.pi * cutoff * x)
            coefficients.append(cutoff * sinc * _blackman(x / width))
        total = sum(coefficients)
        tables.append([c / total for c in coefficients])  # unity gain at DC
    padded = [0] * width + list(samples) + [0] * (width + 1)
    count = len(samples) * up // down
    out = array("h", bytes(2 * count))
    for n in range(count):
        base, phase = divmod(n * down, up)
        # padded[base + 1 .. base + 2*width] holds samples base-width+1 .. base+width.
        value = sum(map(operator.mul, tables[phase], padded[base + 1 : base + 1 + 2 * width]))
        out[n] = max(-32768, min(32767, round(value)))
    return out


def _read_wav(path: Path) -> tuple[array[int], int]:
    with wave.open(str(path), "rb") as reader:
        channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    if width != 2:
        raise SpeechSynthesisError(f"the synthesizer wrote {8 * width}-bit audio; 16-bit was expected")
    samples = array("h", frames)
    if channels > 1:
        samples = array(
            "h", (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels))
        )
    return samples, rate


def _write_wav(path: Path, samples: array[int]) -> None:
    """Write atomically: a half-written file must never be played or taken for a cache hit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    os.close(handle)
    try:
        with wave.open(temporary, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            writer.writeframes(samples.tobytes())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class PromptSynthesizer:
    """Renders text prompts to cached 8 kHz WAV files under ``<sounds_dir>/tts``."""

    def __init__(
        self,
        sounds_dir: Path,
        *,
        program: str = "espeak-ng",
        voices: Mapping[str, str] = DEFAULT_VOICES,
        words_per_minute: int = 150,
    ) -> None:
        self.sounds_dir = sounds_dir
        self.program = program
        self.voices = dict(voices)
        self.words_per_minute = words_per_minute

    def _voice(self, language: str) -> str:
        try:
            return self.voices[language]
        except KeyError:
            raise SpeechSynthesisError(f"no synthesizer voice for language {language!r}") from None

    def cache_path(self, text: str, language: str) -> Path:
        """Where the rendering of this text in this language lives (whether or not it exists yet)."""
        key = "\x00".join(
            (_RENDER_VERSION, self._voice(language), str(self.words_per_minute), language, text)
        )
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.sounds_dir / "tts" / language / f"{digest}.wav"

    def render(self, text: str, language: str) -> Path:
        """The WAV file for a text, synthesizing it on first use. Blocking: see ``render_async``."""
        target = self.cache_path(text, language)
        if target.exists():
            return target
        executable = shutil.which(self.program)
        if executable is None:
            raise SpeechSynthesisError(
                f"{self.program} is not installed; install the espeak-ng package (apt-get install espeak-ng)"
            )
        with tempfile.TemporaryDirectory(prefix="callcenter-tts-") as work:
            raw = Path(work) / "raw.wav"
            voice, speed = self._voice(language), str(self.words_per_minute)
            # The text goes on stdin so that one starting with "-" is not taken for an option.
            command = [executable, "-v", voice, "-s", speed, "-w", str(raw), "--stdin"]
            try:
                subprocess.run(
                    command,
                    input=text.encode("utf-8"),
                    capture_output=True,
                    check=True,
                    timeout=60,
                )
            except subprocess.CalledProcessError as exc:
                detail = exc.stderr.decode("utf-8", "replace").strip()
                raise SpeechSynthesisError(f"{self.program} failed ({exc.returncode}): {detail}") from exc
            except subprocess.TimeoutExpired as exc:
                raise SpeechSynthesisError(f"{self.program} took longer than 60 s") from exc
            samples, rate = _read_wav(raw)
        _write_wav(target, resample(samples, rate, SAMPLE_RATE))
        return target

    @staticmethod
    def asterisk_name(path: Path) -> str:
        """The name STREAM FILE takes: the path without its extension."""
        return str(path.with_suffix(""))

    async def render_async(self, text: str, language: str) -> str:
        """Render in a worker thread (synthesis takes a while) and give the Asterisk file name."""
        path = await asyncio.to_thread(self.render, text, language)
        return self.asterisk_name(path)

    def render_flow(self, flow: Flow) -> list[Path]:
        """Render every text prompt of a flow in every language it has, ahead of the first call."""
        specs: list[PromptSpec] = list(flow.prompts.values())
        for node in flow.nodes.values():
            specs += [ref.inline for ref in node.prompt_refs() if ref.inline is not None]
        return [self.render(text, language) for text, language in _texts(specs)]


def _texts(specs: Iterable[PromptSpec]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for spec in specs:
        for language, text in spec.texts.items():
            if spec.file is None and language not in spec.files:  # a recording wins over text
                seen[(text, language)] = None
    return list(seen)
