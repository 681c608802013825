"""The ElevenLabs mapping, table by table: voices, models and prices, options to the request."""

from __future__ import annotations

import grpc
import pytest

from prizm_core.errors import PrizmError
from provider_servers.elevenlabs.mapping import (
    MODELS,
    Voice,
    model_specs,
    parse_voices,
    speech_request,
)
from provider_servers.sdk import MediaUnit, OptionValue
from provider_servers.sdk.options import resolve_options

VOICES = (Voice("21m00Tcm4TlvDq8ikWAM", "Rachel"), Voice("JBFqnCBsd6RMkjVDRZzb", "George"))


def _options(model_id: str, **given: object) -> dict[str, OptionValue]:
    spec = next(m for m in model_specs(VOICES) if m.id == model_id)
    return resolve_options(spec.parameters, given)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"voices": []}, ()),
        (
            {"voices": [{"voice_id": "a1", "name": " Rachel "}, {"voice_id": "b2", "name": "George"}]},
            (Voice("a1", "Rachel"), Voice("b2", "George")),
        ),
        # A name given twice means its first voice; a voice without a name goes by its id.
        (
            {
                "voices": [
                    {"voice_id": "a1", "name": "Sam"},
                    {"voice_id": "b2", "name": "Sam"},
                    {"voice_id": "c3"},
                ]
            },
            (Voice("a1", "Sam"), Voice("c3", "c3")),
        ),
    ],
)
def test_voices_are_read_from_the_voice_list(payload: object, expected: tuple[Voice, ...]) -> None:
    assert parse_voices(payload) == expected


@pytest.mark.parametrize("payload", [[], {"voices": {}}, {"voices": [{"name": "x"}]}, {"other": []}])
def test_a_voice_list_of_another_shape_is_refused(payload: object) -> None:
    with pytest.raises(ValueError, match="voice"):
        parse_voices(payload)


def test_models_list_the_voices_as_choices_and_price_per_character() -> None:
    specs = {spec.id: spec for spec in model_specs(VOICES)}
    assert list(specs) == [model.id for model in MODELS]
    voice = next(p for p in specs["eleven_flash_v2_5"].parameters if p.name == "voice")
    assert (voice.choices, voice.default) == (("Rachel", "George"), "Rachel")
    assert specs["eleven_multilingual_v2"].prices == {MediaUnit.INPUT_CHARACTER: pytest.approx(0.0001)}
    assert specs["eleven_flash_v2_5"].prices == {MediaUnit.INPUT_CHARACTER: pytest.approx(0.00005)}
    # language_code is refused by Multilingual v2, so its model takes no `language`.
    names = {spec_id: {p.name for p in spec.parameters} for spec_id, spec in specs.items()}
    assert "language" in names["eleven_turbo_v2_5"] and "language" not in names["eleven_multilingual_v2"]


def test_without_a_voice_list_the_voice_must_be_named() -> None:
    voice = next(p for p in model_specs(())[0].parameters if p.name == "voice")
    assert (voice.required, voice.choices, voice.default) == (True, (), None)


@pytest.mark.parametrize(
    ("model_id", "given", "path", "output_format", "body"),
    [
        (
            "eleven_multilingual_v2",
            {},
            "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream",
            "mp3_44100_128",
            {"voice_settings": {"speed": 1.0}},
        ),
        (
            "eleven_flash_v2_5",
            {"voice": "George", "speed": 1.2, "language": "de", "seed": 7, "sample_rate": 22050},
            "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream",
            "mp3_22050_32",
            {"voice_settings": {"speed": 1.2}, "language_code": "de", "seed": 7},
        ),
        (
            "eleven_turbo_v2_5",
            {"format": "wav", "stability": 0.3, "use_speaker_boost": False},
            "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM",
            "wav_24000",
            {"voice_settings": {"stability": 0.3, "use_speaker_boost": False, "speed": 1.0}},
        ),
        (
            "eleven_v3",
            {"format": "wav", "sample_rate": 48000, "style": 0.5, "similarity_boost": 0.9},
            "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM",
            "wav_48000",
            {"voice_settings": {"similarity_boost": 0.9, "style": 0.5, "speed": 1.0}},
        ),
    ],
)
def test_options_map_to_the_text_to_speech_call(
    model_id: str, given: dict[str, object], path: str, output_format: str, body: dict[str, object]
) -> None:
    call = speech_request(model_id, "Hello.", _options(model_id, **given), VOICES)
    assert (call.path, dict(call.params)) == (path, {"output_format": output_format})
    assert dict(call.body) == {"text": "Hello.", "model_id": model_id, **body}


@pytest.mark.parametrize(
    ("output_format", "mime_type", "bytes_per_second"),
    [("mp3", "audio/mpeg", 16000), ("wav", "audio/wav", 48000)],
)
def test_progress_is_the_audio_received_against_the_expected_length(
    output_format: str, mime_type: str, bytes_per_second: int
) -> None:
    text = "x" * 150  # ten seconds at 15 characters a second
    call = speech_request(
        "eleven_flash_v2_5", text, _options("eleven_flash_v2_5", format=output_format), VOICES
    )
    assert call.mime_type == mime_type
    assert call.fraction(bytes_per_second * 5) == pytest.approx(0.5)
    assert call.fraction(bytes_per_second * 20) == 0.99


@pytest.mark.parametrize(
    ("model_id", "given", "text", "field", "reason"),
    [
        (
            "eleven_flash_v2_5",
            {"format": "mp3", "sample_rate": 16000},
            "Hi.",
            "options.sample_rate",
            "INVALID_OPTIONS",
        ),
        (
            "eleven_flash_v2_5",
            {"format": "wav", "sample_rate": 11025},
            "Hi.",
            "options.sample_rate",
            "INVALID_OPTIONS",
        ),
        ("eleven_v3", {}, "x" * 5001, "inputs[0].data", "INPUT_TOO_LARGE"),
    ],
)
def test_what_elevenlabs_would_refuse_is_refused_before_the_call(
    model_id: str, given: dict[str, object], text: str, field: str, reason: str
) -> None:
    with pytest.raises(PrizmError) as refused:
        speech_request(model_id, text, _options(model_id, **given), VOICES)
    assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert field in refused.value.message


def test_a_voice_the_account_lost_is_refused() -> None:
    options = _options("eleven_flash_v2_5", voice="George")
    with pytest.raises(PrizmError, match="no voice named 'George'"):
        speech_request("eleven_flash_v2_5", "Hi.", options, VOICES[:1])
