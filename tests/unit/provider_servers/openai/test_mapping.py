"""Table tests of the pure OpenAI mapping: bodies from options, results and usage from responses."""

from __future__ import annotations

import base64
import json

import grpc
import pytest

from prizm_core.errors import PrizmError, Reason
from provider_servers.openai import mapping
from provider_servers.openai.models import IMAGE_MODELS, IMAGE_SIZES, MODELS
from provider_servers.sdk import MediaUnit, OptionValue

DEFAULTS = {
    model.id: {p.name: p.default for p in model.parameters if p.default is not None} for model in MODELS
}


def _options(model: str, **changes: OptionValue) -> dict[str, OptionValue]:
    return {**DEFAULTS[model], **changes}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("model", "changes", "body"),
    [
        (
            "gpt-image-1",
            {"width": 1024, "height": 1536, "format": "webp", "quality": "low"},
            {"size": "1024x1536", "output_format": "webp", "quality": "low", "background": "auto"},
        ),
        (
            "dall-e-3",
            {"width": 1792, "height": 1024, "quality": "hd", "style": "natural"},
            {"size": "1792x1024", "response_format": "url", "quality": "hd", "style": "natural"},
        ),
        (
            "dall-e-2",
            {"width": 256, "height": 256, "response_format": "b64_json"},
            {"size": "256x256", "response_format": "b64_json"},
        ),
    ],
)
def test_generation_bodies_carry_each_models_own_fields(
    model: str, changes: dict[str, OptionValue], body: dict[str, object]
) -> None:
    assert mapping.generation_body(model, "a cat", _options(model, **changes)) == {
        "model": model,
        "prompt": "a cat",
        "n": 1,
        **body,
    }


@pytest.mark.parametrize(
    ("model", "width", "height"),
    [("gpt-image-1", 1024, 1792), ("dall-e-3", 1536, 1024), ("dall-e-2", 256, 512), ("dall-e-2", 1024, 256)],
)
def test_a_size_the_model_lacks_is_refused_on_both_options(model: str, width: int, height: int) -> None:
    with pytest.raises(PrizmError) as caught:
        mapping.check_image_options(model, _options(model, width=width, height=height))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    violations = dict(caught.value.field_violations)
    assert violations.keys() == {"options.width", "options.height"}
    assert f"{width}x{height} is not one of them" in violations["options.width"]


def test_every_image_models_sizes_lie_within_its_width_and_height_bounds() -> None:
    for model in IMAGE_MODELS:
        params = {p.name: p for p in model.parameters}
        mapping.check_image_options(model.id, _options(model.id))
        for size in IMAGE_SIZES[model.id]:
            width, height = (int(n) for n in size.split("x"))
            assert params["width"].minimum <= width <= params["width"].maximum  # type: ignore[operator]
            assert params["height"].minimum <= height <= params["height"].maximum  # type: ignore[operator]


def test_a_transparent_jpeg_and_an_edit_without_a_prompt_are_refused() -> None:
    with pytest.raises(PrizmError) as clash:
        mapping.check_image_options(
            "gpt-image-1", _options("gpt-image-1", background="transparent", format="jpeg")
        )
    assert dict(clash.value.field_violations).keys() == {"options.background"}
    mapping.check_image_options(
        "gpt-image-1", _options("gpt-image-1", background="transparent", format="webp")
    )
    for options in ({}, {"prompt": "  "}):
        with pytest.raises(PrizmError) as missing:
            mapping.check_edit_prompt(options)
        assert dict(missing.value.field_violations).keys() == {"options.prompt"}
    mapping.check_edit_prompt({"prompt": "a hat"})


def test_edit_fields_are_strings_with_the_prompt() -> None:
    fields = mapping.edit_fields("dall-e-2", _options("dall-e-2", width=512, height=512, prompt="a hat"))
    assert fields == {
        "model": "dall-e-2",
        "prompt": "a hat",
        "n": "1",
        "size": "512x512",
        "response_format": "url",
    }


@pytest.mark.parametrize(
    ("model", "changes", "units"),
    [
        (
            "gpt-image-1",
            {"quality": "high", "width": 1536, "height": 1024},
            {MediaUnit.INPUT_TOKEN: 3.0, MediaUnit.OUTPUT_TOKEN: 6208.0},
        ),
        ("gpt-image-1", {"quality": "low"}, {MediaUnit.INPUT_TOKEN: 3.0, MediaUnit.OUTPUT_TOKEN: 272.0}),
        ("dall-e-3", {}, {MediaUnit.OUTPUT_IMAGE: 1.0}),
        ("dall-e-3", {"quality": "hd"}, {MediaUnit.OUTPUT_IMAGE: 2.0}),
        ("dall-e-3", {"width": 1024, "height": 1792}, {MediaUnit.OUTPUT_IMAGE: 2.0}),
        ("dall-e-3", {"width": 1792, "height": 1024, "quality": "hd"}, {MediaUnit.OUTPUT_IMAGE: 3.0}),
        ("dall-e-2", {"width": 256, "height": 256}, {MediaUnit.OUTPUT_IMAGE: 0.8}),
        ("dall-e-2", {"width": 512, "height": 512}, {MediaUnit.OUTPUT_IMAGE: 0.9}),
    ],
)
def test_image_units_price_like_openais_price_list(
    model: str, changes: dict[str, OptionValue], units: dict[MediaUnit, float]
) -> None:
    assert mapping.image_units(model, "a red fox", _options(model, **changes)) == units


@pytest.mark.parametrize(
    ("model", "changes", "dollars"),
    [
        ("dall-e-3", {}, 0.04),
        ("dall-e-3", {"width": 1792, "height": 1024}, 0.08),
        ("dall-e-3", {"width": 1792, "height": 1024, "quality": "hd"}, 0.12),
        ("dall-e-2", {"width": 256, "height": 256}, 0.016),
        ("dall-e-2", {"width": 512, "height": 512}, 0.018),
        ("dall-e-2", {}, 0.02),
    ],
)
def test_dall_e_estimates_cost_the_listed_price(
    model: str, changes: dict[str, OptionValue], dollars: float
) -> None:
    spec = next(m for m in MODELS if m.id == model)
    assert spec.cost(mapping.image_units(model, "", _options(model, **changes))) == pytest.approx(dollars)


def test_image_results_read_base64_and_urls_and_refuse_nothing() -> None:
    answer = {"data": [{"b64_json": base64.b64encode(b"\x89PNG").decode()}, {"url": "https://x/y.png"}]}
    assert mapping.image_results(answer) == [
        mapping.ImageResult(data=b"\x89PNG"),
        mapping.ImageResult(url="https://x/y.png"),
    ]
    for broken in ({"data": []}, {"data": [{"b64_json": "not base64!"}]}, {}):
        with pytest.raises(PrizmError) as caught:
            mapping.image_results(broken)
        assert (caught.value.code, caught.value.reason) == (
            grpc.StatusCode.ABORTED,
            Reason.UPSTREAM_JOB_FAILED,
        )


def test_image_usage_comes_from_gpt_image_responses_only() -> None:
    usage = {"input_tokens": 12, "output_tokens": 1056, "total_tokens": 1068}
    assert mapping.image_usage({"usage": usage}) == {
        MediaUnit.INPUT_TOKEN: 12.0,
        MediaUnit.OUTPUT_TOKEN: 1056.0,
    }
    assert mapping.image_usage({"data": []}) is None


def test_speech_body_maps_the_standard_options() -> None:
    options = _options("tts-1", format="flac", speed=0.5, voice="onyx")
    assert mapping.speech_body("tts-1", "Hi.", options) == {
        "model": "tts-1",
        "input": "Hi.",
        "voice": "onyx",
        "response_format": "flac",
        "speed": 0.5,
    }


@pytest.mark.parametrize(
    ("tag", "code"), [("en-US", "en"), ("pt-BR", "pt"), ("de", "de"), ("ZH-Hant-TW", "zh")]
)
def test_bcp47_tags_become_iso_639_1_codes(tag: str, code: str) -> None:
    assert mapping.language_code(tag) == code


@pytest.mark.parametrize("tag", ["", "eng", "x-klingon", "1a-US"])
def test_a_tag_without_a_two_letter_language_is_refused(tag: str) -> None:
    with pytest.raises(PrizmError) as caught:
        mapping.language_code(tag)
    assert dict(caught.value.field_violations).keys() == {"options.language"}


def test_transcription_fields_and_result() -> None:
    fields = mapping.transcription_fields(
        "whisper-1", _options("whisper-1", language="fr-CA", prompt="Bonjour")
    )
    assert fields == {
        "model": "whisper-1",
        "response_format": "json",
        "temperature": "0.0",
        "language": "fr",
        "prompt": "Bonjour",
    }
    assert "language" not in mapping.transcription_fields("whisper-1", _options("whisper-1"))
    answer = {"text": "hello", "usage": {"type": "duration", "seconds": 4.5}}
    assert mapping.transcription_result(answer) == ("hello", {MediaUnit.INPUT_AUDIO_SECOND: 4.5})
    assert mapping.transcription_result({"text": "hi"}) == ("hi", None)
    with pytest.raises(PrizmError):
        mapping.transcription_result({"usage": {}})


def test_chat_body_asks_for_usage_when_streaming() -> None:
    streamed = mapping.chat_body("gpt-4o", "hi", _options("gpt-4o", system="Be brief."))
    assert streamed == {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "temperature": 1.0,
        "max_completion_tokens": 1024,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert "stream" not in mapping.chat_body("gpt-4o", "hi", _options("gpt-4o", stream=False))


def _line(chunk: object) -> str:
    return f"data: {json.dumps(chunk)}"


@pytest.mark.parametrize(
    ("line", "chunk"),
    [
        (": keep-alive", None),
        ("", None),
        ("data: [DONE]", None),
        (
            _line({"choices": [{"delta": {"content": "Hel"}, "finish_reason": None}]}),
            mapping.ChatChunk("Hel"),
        ),
        (_line({"choices": [{"delta": {}, "finish_reason": "stop"}]}), mapping.ChatChunk("", "stop")),
        (
            _line({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}),
            mapping.ChatChunk(usage={MediaUnit.INPUT_TOKEN: 9.0, MediaUnit.OUTPUT_TOKEN: 4.0}),
        ),
    ],
)
def test_chat_stream_lines(line: str, chunk: mapping.ChatChunk | None) -> None:
    assert mapping.chat_chunk(line) == chunk


@pytest.mark.parametrize(
    "line", ["data: {not json", "data: [1, 2]", _line({"error": {"message": "overloaded"}})]
)
def test_a_broken_stream_fails_the_accepted_job(line: str) -> None:
    with pytest.raises(PrizmError) as caught:
        mapping.chat_chunk(line)
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)


def test_chat_answer_of_a_whole_completion() -> None:
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2},
    }
    assert mapping.chat_answer(answer) == mapping.ChatChunk(
        "Paris.", "stop", {MediaUnit.INPUT_TOKEN: 7.0, MediaUnit.OUTPUT_TOKEN: 2.0}
    )
    with pytest.raises(PrizmError):
        mapping.chat_answer({"choices": []})


@pytest.mark.parametrize(("text", "tokens"), [("", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)])
def test_estimated_tokens(text: str, tokens: int) -> None:
    assert mapping.estimated_tokens(text) == tokens
