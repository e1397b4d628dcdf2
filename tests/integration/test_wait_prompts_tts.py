"""The callback offer is heard without studio recordings: its prompts are synthesized at start."""

from __future__ import annotations

import wave
from pathlib import Path

from callcenter.prompts import PromptSynthesizer
from callcenter.services.queue_wait import WaitPrompts, synthesize_wait_prompts


async def test_callback_prompts_are_synthesized_into_8khz_files(tmp_path: Path) -> None:
    """Both callcenter-specific wait prompts become real 8 kHz WAV files named for STREAM FILE."""
    prompts = await synthesize_wait_prompts(PromptSynthesizer(tmp_path).render_async)
    for name in (prompts.callback_offer, prompts.callback_confirmed):
        assert name != WaitPrompts().callback_offer and not name.endswith(".wav")
        with wave.open(name + ".wav") as audio:
            assert audio.getframerate() == 8000 and audio.getnframes() > 8000  # over a second of speech
    # Asterisk's own queue sounds are left as they are.
    assert prompts.position == WaitPrompts().position
