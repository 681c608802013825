"""Pure OpenAI <-> Prizm mapping: request bodies from options, results and usage from responses."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from prizm_core.errors import invalid_argument
from provider_servers.openai.models import IMAGE_SIZES
from provider_servers.remote import vendor_error
from provider_servers.sdk import MediaUnit, OptionValue

__all__ = [
    "ChatChunk",
    "ImageResult",
    "chat_answer",
    "chat_body",
    "chat_chunk",
    "chat_usage",
    "check_edit_prompt",
    "check_image_options",
    "edit_fields",
    "estimated_tokens",
    "generation_body",
    "image_results",
    "image_units",
    "image_usage",
    "language_code",
    "speech_body",
    "transcription_fields",
    "transcription_result",
]

# gpt-image-1's output tokens per image by quality and size (OpenAI's image generation guide).
_GPT_IMAGE_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
# DALL-E prices per image as multiples of the model's price for one OUTPUT_IMAGE (models.py).
_DALL_E_3_IMAGES = {
    ("standard", "1024x1024"): 1.0,
    ("standard", "1792x1024"): 2.0,
    ("standard", "1024x1792"): 2.0,
    ("hd", "1024x1024"): 2.0,
    ("hd", "1792x1024"): 3.0,
    ("hd", "1024x1792"): 3.0,
}
_DALL_E_2_IMAGES = {"256x256": 0.8, "512x512": 0.9, "1024x1024": 1.0}
_VENDOR = "openai"
# OpenAI's rule of thumb: a token is about four characters of English.
_CHARACTERS_PER_TOKEN = 4


def _size(model: str, options: Mapping[str, OptionValue]) -> str:
    """OpenAI's `size` for the `width` and `height` options.

    Raises:
        PrizmError: INVALID_ARGUMENT when the pair is not one of the model's sizes.
    """
    size = f"{int(options['width'])}x{int(options['height'])}"
    allowed = IMAGE_SIZES[model]
    if size not in allowed:
        problem = f"{model} makes only {', '.join(allowed)}; {size} is not one of them"
        raise invalid_argument([("options.width", problem), ("options.height", problem)])
    return size


def check_image_options(model: str, options: Mapping[str, OptionValue]) -> None:
    """Refuses option combinations OpenAI would refuse, before any call.

    Raises:
        PrizmError: INVALID_ARGUMENT naming the options at fault.
    """
    _size(model, options)
    if options.get("background") == "transparent" and options.get("format") == "jpeg":
        raise invalid_argument([("options.background", "a transparent background needs format png or webp")])


def check_edit_prompt(options: Mapping[str, OptionValue]) -> None:
    """Refuses an image edit without a prompt: /images/edits requires one.

    Raises:
        PrizmError: INVALID_ARGUMENT on `options.prompt`.
    """
    if not str(options.get("prompt", "")).strip():
        raise invalid_argument([("options.prompt", "image-to-image needs a prompt saying what to change")])


def generation_body(model: str, prompt: str, options: Mapping[str, OptionValue]) -> dict[str, object]:
    """The JSON body of `POST /images/generations`."""
    body: dict[str, object] = {"model": model, "prompt": prompt, "n": 1, "size": _size(model, options)}
    if model.startswith("gpt-image"):
        body |= {
            "output_format": options["format"],
            "quality": options["quality"],
            "background": options["background"],
        }
    else:
        body["response_format"] = options["response_format"]
        if model == "dall-e-3":
            body |= {"quality": options["quality"], "style": options["style"]}
    return body


def edit_fields(model: str, options: Mapping[str, OptionValue]) -> dict[str, str]:
    """The form fields of `POST /images/edits` (multipart; the image goes as the `image` file)."""
    fields = {"model": model, "prompt": str(options["prompt"]), "n": "1", "size": _size(model, options)}
    if model.startswith("gpt-image"):
        fields |= {
            "output_format": str(options["format"]),
            "quality": str(options["quality"]),
            "background": str(options["background"]),
        }
    else:
        fields["response_format"] = str(options["response_format"])
    return fields


@dataclass(frozen=True)
class ImageResult:
    """One image of an images response: its bytes (from `b64_json`), or a URL to download."""

    data: bytes | None = None
    url: str = ""


def image_results(response: Mapping[str, object]) -> list[ImageResult]:
    """The images of an images response (`{"data": [{"b64_json"} | {"url"}]}`).

    Raises:
        PrizmError: ABORTED `UPSTREAM_JOB_FAILED` when the response holds no usable image.
    """
    items = response.get("data")
    results: list[ImageResult] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
            try:
                results.append(ImageResult(data=base64.b64decode(item["b64_json"], validate=True)))
            except binascii.Error:
                raise vendor_error(
                    200, "OpenAI sent an image that is not base64", accepted=True, vendor=_VENDOR
                ) from None
        elif isinstance(item, dict) and isinstance(item.get("url"), str):
            results.append(ImageResult(url=item["url"]))
    if not results:
        raise vendor_error(200, "OpenAI's response holds no image", accepted=True, vendor=_VENDOR)
    return results


def image_units(model: str, prompt: str, options: Mapping[str, OptionValue]) -> dict[MediaUnit, float]:
    """The estimated work of one image, in the units `models.py` prices the model in."""
    size = _size(model, options)
    if model.startswith("gpt-image"):
        return {
            MediaUnit.INPUT_TOKEN: float(estimated_tokens(prompt)),
            MediaUnit.OUTPUT_TOKEN: float(_GPT_IMAGE_TOKENS[str(options["quality"])][size]),
        }
    if model == "dall-e-3":
        return {MediaUnit.OUTPUT_IMAGE: _DALL_E_3_IMAGES[str(options["quality"]), size]}
    return {MediaUnit.OUTPUT_IMAGE: _DALL_E_2_IMAGES[size]}


def image_usage(response: Mapping[str, object]) -> dict[MediaUnit, float] | None:
    """The tokens a GPT Image response reports (`usage`), or None when it reports none (DALL-E)."""
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return None
    return {
        MediaUnit.INPUT_TOKEN: float(usage.get("input_tokens", 0)),
        MediaUnit.OUTPUT_TOKEN: float(usage.get("output_tokens", 0)),
    }


def speech_body(model: str, text: str, options: Mapping[str, OptionValue]) -> dict[str, object]:
    """The JSON body of `POST /audio/speech`."""
    return {
        "model": model,
        "input": text,
        "voice": options["voice"],
        "response_format": options["format"],
        "speed": float(options["speed"]),
    }


def language_code(tag: str) -> str:
    """The ISO-639-1 code OpenAI takes for a BCP 47 tag (`pt-BR` -> `pt`).

    Raises:
        PrizmError: INVALID_ARGUMENT when the tag has no two-letter language subtag.
    """
    primary = tag.split("-", maxsplit=1)[0].lower()
    if len(primary) != 2 or not primary.isalpha():
        raise invalid_argument([("options.language", f"{tag!r} has no two-letter (ISO-639-1) language")])
    return primary


def transcription_fields(model: str, options: Mapping[str, OptionValue]) -> dict[str, str]:
    """The form fields of `POST /audio/transcriptions` (the audio goes as the `file` file)."""
    fields = {"model": model, "response_format": "json", "temperature": str(float(options["temperature"]))}
    if options.get("language"):
        fields["language"] = language_code(str(options["language"]))
    if options.get("prompt"):
        fields["prompt"] = str(options["prompt"])
    return fields


def transcription_result(response: Mapping[str, object]) -> tuple[str, dict[MediaUnit, float] | None]:
    """The text of a transcription, and the audio seconds its `usage` reports (None if it does not).

    Raises:
        PrizmError: ABORTED `UPSTREAM_JOB_FAILED` when the response has no text.
    """
    text = response.get("text")
    if not isinstance(text, str):
        raise vendor_error(200, "OpenAI's transcription holds no text", accepted=True, vendor=_VENDOR)
    usage = response.get("usage")
    if isinstance(usage, dict) and usage.get("type") == "duration":
        return text, {MediaUnit.INPUT_AUDIO_SECOND: float(usage.get("seconds", 0.0))}
    return text, None


def estimated_tokens(text: str) -> int:
    """A token count for `text` before the call (about four characters a token, at least one)."""
    return max(1, math.ceil(len(text) / _CHARACTERS_PER_TOKEN))


def chat_body(model: str, text: str, options: Mapping[str, OptionValue]) -> dict[str, object]:
    """The JSON body of `POST /chat/completions`."""
    messages = [{"role": "user", "content": text}]
    if options.get("system"):
        messages.insert(0, {"role": "system", "content": str(options["system"])})
    body: dict[str, object] = {
        "model": model,
        "messages": messages,
        "temperature": float(options["temperature"]),
        "max_completion_tokens": int(options["max_completion_tokens"]),
    }
    if options["stream"]:
        # Without it a stream reports no usage, and the cost would stay an estimate.
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


@dataclass(frozen=True)
class ChatChunk:
    """One event of a streamed chat completion: new text, why it finished, and usage (last chunk)."""

    text: str = ""
    finish_reason: str = ""
    usage: dict[MediaUnit, float] | None = None


def chat_usage(response: Mapping[str, object]) -> dict[MediaUnit, float] | None:
    """The tokens a chat completion (or its last stream chunk) reports in `usage`."""
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return None
    return {
        MediaUnit.INPUT_TOKEN: float(usage.get("prompt_tokens", 0)),
        MediaUnit.OUTPUT_TOKEN: float(usage.get("completion_tokens", 0)),
    }


def chat_chunk(line: str) -> ChatChunk | None:
    """The chunk a server-sent-events line of a chat stream carries; None for other lines and `[DONE]`.

    Raises:
        PrizmError: ABORTED `UPSTREAM_JOB_FAILED` for a data line that is not a chunk, or an error event.
    """
    if not line.startswith("data:"):
        return None
    data = line.removeprefix("data:").strip()
    if data == "[DONE]":
        return None
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        raise vendor_error(
            200, "OpenAI's stream sent a line that is not JSON", accepted=True, vendor=_VENDOR
        ) from None
    if not isinstance(event, dict):
        raise vendor_error(
            200, "OpenAI's stream sent a line that is not an object", accepted=True, vendor=_VENDOR
        )
    if isinstance(event.get("error"), dict):
        raise vendor_error(
            200, str(event["error"].get("message", "stream failed")), accepted=True, vendor=_VENDOR
        )
    text, finish = "", ""
    for choice in event.get("choices") or []:
        delta = choice.get("delta") or {}
        text += str(delta.get("content") or "")
        finish = str(choice.get("finish_reason") or finish)
    return ChatChunk(text=text, finish_reason=finish, usage=chat_usage(event))


def chat_answer(response: Mapping[str, object]) -> ChatChunk:
    """The text, finish reason and usage of a chat completion that was not streamed."""
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise vendor_error(200, "OpenAI's completion holds no choice", accepted=True, vendor=_VENDOR)
    message = choices[0].get("message") or {}
    return ChatChunk(
        text=str(message.get("content") or ""),
        finish_reason=str(choices[0].get("finish_reason") or ""),
        usage=chat_usage(response),
    )
