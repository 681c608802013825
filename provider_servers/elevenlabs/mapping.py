"""Pure ElevenLabs mapping: models and prices, voices, options to a text-to-speech request, errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prizm_core.errors import Reason, invalid_argument
from provider_servers.sdk import Capability, MediaUnit, ModelSpec, OptionValue, Param, standard_param

__all__ = [
    "CHARACTERS_PER_SECOND",
    "FORMATS",
    "MODELS",
    "AudioFormat",
    "ElevenModel",
    "SpeechRequest",
    "Voice",
    "model_specs",
    "parse_voices",
    "speech_request",
]

# The languages `language_code` takes on Flash v2.5 and Turbo v2.5 (the docs' models page, as ISO
# 639-1 codes, which are BCP 47 tags too). Multilingual v2 refuses the field and Eleven v3 picks
# the language from the text: their models take no `language` option.
_V25_LANGUAGES = (
    "ar", "bg", "cs", "da", "de", "el", "en", "es", "fi", "fil", "fr", "hi", "hr", "hu", "id", "it",
    "ja", "ko", "ms", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sv", "ta", "tr", "uk", "vi", "zh",
)  # fmt: skip


# ElevenLabs voices say about 15 characters a second at speed 1 (some 150 words a minute): how far a
# stream has come is estimated from the seconds of audio received against that.
CHARACTERS_PER_SECOND = 15.0


@dataclass(frozen=True)
class ElevenModel:
    """One ElevenLabs text-to-speech model as the API reference and price list describe it.

    Attributes:
        id: The `model_id` the API takes.
        display_name: Its name on ElevenLabs' pages.
        usd_per_1k_characters: The API's price per 1,000 characters of text.
        max_characters: Longest text one request takes.
        languages: What `language_code` takes; empty when the model refuses it.
    """

    id: str
    display_name: str
    usd_per_1k_characters: float
    max_characters: int
    languages: tuple[str, ...] = ()


MODELS = (
    ElevenModel("eleven_multilingual_v2", "Eleven Multilingual v2", 0.10, 10_000),
    ElevenModel("eleven_flash_v2_5", "Eleven Flash v2.5", 0.05, 40_000, _V25_LANGUAGES),
    ElevenModel("eleven_turbo_v2_5", "Eleven Turbo v2.5", 0.05, 40_000, _V25_LANGUAGES),
    ElevenModel("eleven_v3", "Eleven v3", 0.10, 5_000),
)
_BY_ID = {model.id: model for model in MODELS}


@dataclass(frozen=True)
class AudioFormat:
    """How a standard `format` is asked of ElevenLabs.

    Attributes:
        mime_type: The output's MIME type.
        output_formats: The `output_format` query value per sample rate.
        default_rate: The sample rate when the job names none.
        streamed: Whether the `/stream` endpoint serves it (else the plain one, which writes WAV).
    """

    mime_type: str
    output_formats: Mapping[int, str]
    default_rate: int
    streamed: bool


FORMATS = {
    # The stream endpoint's MP3s: one bitrate per rate, the lowest tier's (192 kbps needs Creator).
    "mp3": AudioFormat(
        "audio/mpeg", {22050: "mp3_22050_32", 24000: "mp3_24000_48", 44100: "mp3_44100_128"}, 44100, True
    ),
    # WAV only from the plain endpoint (`wav_<rate>`); its body still arrives in chunks as it is made.
    "wav": AudioFormat(
        "audio/wav",
        {rate: f"wav_{rate}" for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000)},
        24000,
        False,
    ),
}


@dataclass(frozen=True)
class Voice:
    """A voice from `GET /v1/voices`: its id and the name callers pick it by."""

    voice_id: str
    name: str


def parse_voices(payload: object) -> tuple[Voice, ...]:
    """The voices of a `GET /v1/voices` body (`{"voices": [{"voice_id", "name", ...}]}`).

    A name given twice keeps its first voice, so a name always means one voice.

    Raises:
        ValueError: The body is not of that shape.
    """
    entries = payload.get("voices") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the voice list has no `voices` array")
    voices: dict[str, Voice] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("voice_id"), str):
            raise ValueError("a voice has no `voice_id`")
        given = entry.get("name")
        name = (given.strip() if isinstance(given, str) else "") or entry["voice_id"]
        voices.setdefault(name, Voice(entry["voice_id"], name))
    return tuple(voices.values())


def _voice_param(voices: Sequence[Voice]) -> Param:
    if not voices:
        return standard_param(
            "voice",
            note="ElevenLabs: a voice of the account, by name (its list could not be read yet).",
            required=True,
            max_length=200,
        )
    return standard_param(
        "voice",
        note="ElevenLabs: the account's voices, by name, from GET /v1/voices at start-up.",
        default=voices[0].name,
        choices=tuple(voice.name for voice in voices),
    )


def _parameters(model: ElevenModel, voices: Sequence[Voice]) -> tuple[Param, ...]:
    language = (
        (standard_param("language", note="ElevenLabs: sent as `language_code`.", choices=model.languages),)
        if model.languages
        else ()
    )
    unit = "0 to 1; leave out for the voice's stored setting."
    return (
        _voice_param(voices),
        standard_param(
            "format",
            note="ElevenLabs: mp3 from its stream endpoint, wav from the plain one.",
            default="mp3",
            choices=tuple(FORMATS),
        ),
        standard_param(
            "sample_rate",
            note="ElevenLabs: mp3 at 22050, 24000 or 44100 (default 44100); wav at 8000, 16000, 22050, "
            "24000, 32000, 44100 or 48000 (default 24000).",
            minimum=8000,
            maximum=48000,
        ),
        standard_param(
            "speed", note="ElevenLabs: voice_settings.speed.", default=1.0, minimum=0.7, maximum=1.2
        ),
        *language,
        standard_param("seed", note="ElevenLabs: best-effort determinism.", minimum=0, maximum=4294967295),
        Param("stability", "number", f"Voice stability, {unit}", minimum=0.0, maximum=1.0),
        Param(
            "similarity_boost", "number", f"Closeness to the original voice, {unit}", minimum=0.0, maximum=1.0
        ),
        Param("style", "number", f"Style exaggeration, {unit}", minimum=0.0, maximum=1.0),
        Param("use_speaker_boost", "boolean", "Boosts similarity to the original speaker."),
    )


def model_specs(voices: Sequence[Voice]) -> list[ModelSpec]:
    """The text-to-speech models, their `voice` choices the account's voices, priced per character."""
    return [
        ModelSpec(
            id=model.id,
            display_name=f"ElevenLabs: {model.display_name}",
            description=(
                f"ElevenLabs {model.display_name} text to speech (hosted; needs ELEVENLABS_API_KEY). "
                f"Up to {model.max_characters:,} characters; audio streamed back as it is made; "
                f"USD {model.usd_per_1k_characters:.2f} per 1,000 characters."
            ),
            capabilities=(Capability.TEXT_TO_AUDIO,),
            parameters=_parameters(model, voices),
            prices={MediaUnit.INPUT_CHARACTER: model.usd_per_1k_characters / 1000},
            input_mime_types=("text/plain",),
            output_mime_type=FORMATS["mp3"].mime_type,
        )
        for model in MODELS
    ]


@dataclass(frozen=True)
class SpeechRequest:
    """One text-to-speech call: where it goes, its query and body, and what comes back.

    Attributes:
        path: Path under the base URL.
        params: Query parameters.
        body: JSON body.
        mime_type: MIME type of the audio that comes back.
        bytes_per_second: Bytes of that audio per second of speech.
        expected_s: About how long the speech will be.
    """

    path: str
    params: Mapping[str, str]
    body: Mapping[str, object]
    mime_type: str
    bytes_per_second: float
    expected_s: float

    def fraction(self, received: int) -> float:
        """How much of the speech `received` bytes are, estimated; below 1 until the stream ends."""
        return min(received / self.bytes_per_second / self.expected_s, 0.99)


def _bytes_per_second(output_format: str) -> float:
    """Bytes of audio per second: MP3 at its constant bitrate, WAV as 16-bit mono PCM."""
    kind, rate, *bitrate = output_format.split("_")
    return int(bitrate[0]) * 1000 / 8 if kind == "mp3" else 2 * int(rate)


def _output_format(options: Mapping[str, OptionValue]) -> tuple[AudioFormat, str]:
    audio = FORMATS[str(options["format"])]
    given = options.get("sample_rate")
    rate = audio.default_rate if given is None else int(given)
    if rate not in audio.output_formats:
        rates = ", ".join(str(r) for r in audio.output_formats)
        violation = ("options.sample_rate", f"ElevenLabs writes {options['format']} at {rates} Hz only")
        raise invalid_argument([violation], Reason.INVALID_OPTIONS)
    return audio, audio.output_formats[rate]


def _voice_settings(options: Mapping[str, OptionValue]) -> dict[str, OptionValue]:
    names = ("stability", "similarity_boost", "style", "use_speaker_boost", "speed")
    return {name: options[name] for name in names if options.get(name) is not None}


def speech_request(
    model_id: str, text: str, options: Mapping[str, OptionValue], voices: Sequence[Voice]
) -> SpeechRequest:
    """The text-to-speech call for a job's validated options.

    Raises:
        PrizmError: INVALID_ARGUMENT for a voice the account lacks, a sample rate the format is not
            made at, or text longer than the model takes.
    """
    model = _BY_ID[model_id]
    if len(text) > model.max_characters:
        violation = ("inputs[0].data", f"{model_id} takes at most {model.max_characters} characters")
        raise invalid_argument([violation], Reason.INPUT_TOO_LARGE)
    name = str(options["voice"])
    voice = next((v for v in voices if v.name == name), None)
    if voice is None:
        raise invalid_argument([("options.voice", f"no voice named {name!r}")], Reason.INVALID_OPTIONS)
    audio, output_format = _output_format(options)
    body: dict[str, object] = {"text": text, "model_id": model_id, "voice_settings": _voice_settings(options)}
    if options.get("language") is not None:
        body["language_code"] = options["language"]
    if options.get("seed") is not None:
        body["seed"] = options["seed"]
    suffix = "/stream" if audio.streamed else ""
    speed = float(options.get("speed") or 1.0)
    return SpeechRequest(
        f"/v1/text-to-speech/{voice.voice_id}{suffix}",
        {"output_format": output_format},
        body,
        audio.mime_type,
        _bytes_per_second(output_format),
        max(len(text) / CHARACTERS_PER_SECOND / speed, 0.5),
    )
