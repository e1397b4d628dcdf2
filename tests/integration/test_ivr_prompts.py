"""Text prompts rendered with the real espeak-ng into cached 8 kHz WAV files."""

from __future__ import annotations

import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from callcenter.ivr import ValidationContext, check_flow
from callcenter.ivr.loader import parse_flow
from callcenter.prompts import PromptSynthesizer, SpeechSynthesisError

TEXT = "Вітаємо! Ви зателефонували на гарячу лінію."


def test_renders_ukrainian_text_to_8khz_mono_16bit_wav(tmp_path: Path) -> None:
    """espeak-ng's Ukrainian voice gives a WAV Asterisk can play, under tts/uk/<sha256>.wav."""
    path = PromptSynthesizer(tmp_path).render(TEXT, "uk")
    assert path.parent == tmp_path / "tts" / "uk"
    assert len(path.stem) == 64 and path.suffix == ".wav"
    with wave.open(str(path), "rb") as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (8000, 1, 2)
        seconds = reader.getnframes() / 8000
        frames = reader.readframes(reader.getnframes())
    assert 1.0 < seconds < 10.0
    assert any(frames)  # not silence


def test_cache_is_reused_by_content_and_keyed_by_text_language_and_voice(tmp_path: Path) -> None:
    """A second render does not run the synthesizer; other text, language or voice is a new file."""
    first = PromptSynthesizer(tmp_path).render(TEXT, "uk")
    cached = PromptSynthesizer(tmp_path, program="no-such-espeak").render(TEXT, "uk")
    assert cached == first
    synth = PromptSynthesizer(tmp_path)
    assert synth.cache_path(TEXT + " ", "uk") != first
    assert synth.cache_path(TEXT, "ru") != first
    assert PromptSynthesizer(tmp_path, voices={"uk": "uk", "ru": "ru", "en": "en-us"}).cache_path(
        "Hi", "en"
    ) != (synth.cache_path("Hi", "en"))
    assert list((tmp_path / "tts" / "uk").iterdir()) == [first]  # no temporary files left behind


async def test_render_async_returns_the_name_stream_file_takes(tmp_path: Path) -> None:
    """The async form gives the path without extension, as STREAM FILE expects."""
    name = await PromptSynthesizer(tmp_path).render_async("Hello", "en")
    assert name.startswith(str(tmp_path / "tts" / "en")) and not name.endswith(".wav")
    assert (tmp_path / "tts" / "en" / (Path(name).name + ".wav")) in list((tmp_path / "tts" / "en").iterdir())


def test_missing_synthesizer_names_the_package(tmp_path: Path) -> None:
    """Without espeak-ng the error says what to install."""
    with pytest.raises(SpeechSynthesisError, match=r"apt-get install espeak-ng"):
        PromptSynthesizer(tmp_path, program="no-such-espeak").render("Привіт", "uk")


def test_unknown_language_is_refused(tmp_path: Path) -> None:
    """A language without a configured voice is an error, not a silent default."""
    with pytest.raises(SpeechSynthesisError, match="no synthesizer voice"):
        PromptSynthesizer(tmp_path).render("Hallo", "de")


def test_render_flow_makes_every_text_prompt_but_not_recorded_ones(tmp_path: Path) -> None:
    """All texts of a flow are rendered ahead of calls; languages with a recording are skipped."""
    text = (
        "languages: [uk, en]\nstart: a\nprompts:\n"
        "  hi: {uk: 'Привіт', en: {file: custom/hello}}\n  beep: {file: beep}\n"
        "nodes:\n  a:\n    type: play\n    prompt: [hi, beep, {uk: 'Так', en: 'Yes'}]\n    next: z\n  z:\n    type: hangup\n"
    )
    flow, errors = check_flow(text, "f.yaml", ValidationContext(frozenset(), frozenset(), frozenset()))
    assert flow is not None, errors
    paths = PromptSynthesizer(tmp_path).render_flow(flow)
    assert len(paths) == 3 and all(p.is_file() for p in paths)
    assert sorted(p.parent.name for p in paths) == ["en", "uk", "uk"]


@pytest.mark.slow
def test_every_text_prompt_of_the_hotline_synthesizes(tmp_path: Path) -> None:
    """All 106 texts of hotline.yaml (uk, ru, en) render to non-empty 8 kHz files: callable without a studio."""
    repo = Path(__file__).resolve().parents[2]
    parsed = parse_flow((repo / "ivr_flows" / "hotline.yaml").read_text("utf-8"), "hotline.yaml", "hotline")
    assert parsed.flow is not None and parsed.errors == []
    synth = PromptSynthesizer(tmp_path)
    texts = [(text, lang) for spec in parsed.flow.prompts.values() for lang, text in spec.texts.items()]
    assert len(texts) > 100
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda item: synth.render(*item), texts))
    assert len(set(paths)) == len(set(texts))
    for path in paths:
        with wave.open(str(path), "rb") as reader:
            assert reader.getframerate() == 8000 and reader.getnframes() > 2000  # at least a quarter second
