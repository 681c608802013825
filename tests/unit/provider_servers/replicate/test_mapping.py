"""Replicate's model references, predictions, progress bars and outputs, table by table."""

from __future__ import annotations

import pytest

from provider_servers.replicate.mapping import (
    ModelRef,
    StreamEvent,
    create_body,
    log_lines,
    output_items,
    output_text,
    parse_data_url,
    parse_model_ref,
    parse_prediction,
    progress_fraction,
    stream_event,
)

VERSION = "f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa"


@pytest.mark.parametrize(
    ("text", "ref", "path"),
    [
        (
            "black-forest-labs/flux-schnell",
            ModelRef("model", "black-forest-labs", "flux-schnell"),
            "/v1/models/black-forest-labs/flux-schnell/predictions",
        ),
        (
            f"nightmareai/real-esrgan:{VERSION}",
            ModelRef("version", "nightmareai", "real-esrgan", VERSION),
            "/v1/predictions",
        ),
        (VERSION, ModelRef("version", version=VERSION), "/v1/predictions"),
        (
            "deployments/acme/my-flux",
            ModelRef("deployment", "acme", "my-flux"),
            "/v1/deployments/acme/my-flux/predictions",
        ),
    ],
)
def test_model_references(text: str, ref: ModelRef, path: str) -> None:
    assert parse_model_ref(text) == ref
    assert ref.create_path == path


@pytest.mark.parametrize("text", ["", "flux", "a/b/c", "owner/name:", "deployments/acme", "../x/y", "a b/c"])
def test_bad_model_references(text: str) -> None:
    with pytest.raises(ValueError, match="not a Replicate model"):
        parse_model_ref(text)


def test_a_version_goes_in_the_body_and_a_model_in_the_path() -> None:
    assert create_body(ModelRef("version", version=VERSION), {"image": "x"}) == {
        "input": {"image": "x"},
        "version": VERSION,
    }
    assert create_body(ModelRef("model", "a", "b"), {"prompt": "p"}, stream=True) == {
        "input": {"prompt": "p"},
        "stream": True,
    }


def test_a_prediction_as_replicate_reports_it() -> None:
    prediction = parse_prediction(
        {
            "id": "gm3qorzdhgbfurvjtvhg6dckhu",
            "status": "succeeded",
            "output": ["https://replicate.delivery/a.png"],
            "logs": "Using seed: 1\n",
            "error": None,
            "metrics": {"predict_time": 0.84},
            "urls": {"get": "https://api.replicate.com/v1/predictions/g", "cancel": "c", "stream": None},
        }
    )
    assert (prediction.id, prediction.status, prediction.predict_time) == (
        "gm3qorzdhgbfurvjtvhg6dckhu",
        "succeeded",
        0.84,
    )
    assert prediction.finished
    assert prediction.error == ""
    assert dict(prediction.urls) == {"get": "https://api.replicate.com/v1/predictions/g", "cancel": "c"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "no id"),
        ({"status": "starting"}, "no id"),
        ({"id": "x", "status": "queued"}, "unknown status"),
    ],
)
def test_bodies_that_are_no_prediction(body: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_prediction(body)


@pytest.mark.parametrize(
    ("logs", "fraction"),
    [
        ("", None),
        ("Using seed: 4\nLoading weights\n", None),
        (" 45%|████▌     | 45/100 [00:04<00:05, 9.8it/s]\n", 0.45),
        ("  0%|          | 0/4 [00:00<?, ?it/s]\r 25%|██▌       | 1/4 [00:01<00:03,  1.00it/s]\r", 0.25),
        (" 50%|█████     | 2/4\nDone sampling\n", 0.5),  # the last bar counts, whatever follows
        ("100%|██████████| 28/28 [00:03<00:00]\n  3%|▎         | 1/30\n", 1 / 30),  # a second bar starts
        ("something 45%|x| 45/100", None),  # a bar starts its line
    ],
)
def test_progress_from_tqdm_bars(logs: str, fraction: float | None) -> None:
    assert progress_fraction(logs) == (pytest.approx(fraction) if fraction is not None else None)


def test_log_lines_are_the_new_ones_without_bars() -> None:
    first = "Using seed: 4\n 10%|█         | 1/10\n"
    then = first + " 20%|██        | 2/10\nSafety check passed\n"
    assert log_lines("", first) == ("Using seed: 4",)
    assert log_lines(first, then) == ("Safety check passed",)
    assert log_lines(then, then) == ()
    assert log_lines("something else", "Restarted\n") == ("Restarted",)  # not a continuation: all of it


@pytest.mark.parametrize(
    ("output", "urls"),
    [
        ("https://replicate.delivery/a.webp", ["https://replicate.delivery/a.webp"]),
        (["https://r.d/1.png", "https://r.d/2.png"], ["https://r.d/1.png", "https://r.d/2.png"]),
        ({"audio_out": "https://r.d/a.wav", "seconds": 3}, ["https://r.d/a.wav"]),
        ("data:image/png;base64,iVBORw0=", ["data:image/png;base64,iVBORw0="]),
    ],
)
def test_output_files(output: object, urls: list[str]) -> None:
    assert output_items(output) == urls


@pytest.mark.parametrize("output", [None, "just words", ["a", "b"], 42, {"n": 1}])
def test_outputs_without_files(output: object) -> None:
    with pytest.raises(ValueError, match="no file"):
        output_items(output)


def test_text_output_is_one_string_or_its_streamed_pieces() -> None:
    assert output_text("Hello") == "Hello"
    assert output_text(["Hel", "lo", ", world"]) == "Hello, world"
    with pytest.raises(ValueError, match="no text"):
        output_text([1, 2])


def test_data_urls() -> None:
    assert parse_data_url("data:image/png;base64,aGVsbG8=").data == b"hello"
    assert parse_data_url("data:image/png;base64,aGVsbG8=").mime_type == "image/png"
    assert parse_data_url("data:,a%20b").data == b"a b"
    with pytest.raises(ValueError, match="base64"):
        parse_data_url("data:image/png;base64,!!!")
    with pytest.raises(ValueError, match="not a data URL"):
        parse_data_url("https://x/y")


def test_token_counts_from_a_language_model_s_metrics() -> None:
    prediction = parse_prediction(
        {
            "id": "p",
            "status": "succeeded",
            "output": ["Hi", " there"],
            "metrics": {"predict_time": 0.5, "input_token_count": 12, "output_token_count": 2},
        }
    )
    assert (prediction.input_tokens, prediction.output_tokens) == (12, 2)
    bare = parse_prediction({"id": "p", "status": "processing", "metrics": {"input_token_count": "12"}})
    assert (bare.input_tokens, bare.output_tokens, bare.predict_time) == (None, None, None)


@pytest.mark.parametrize(
    ("event", "data", "meaning"),
    [
        ("output", "Once upon", StreamEvent("output", "Once upon")),
        ("logs", "Loading weights", StreamEvent("logs", "Loading weights")),
        ("done", "{}", StreamEvent("done", "")),
        ("done", '{"reason": "canceled"}', StreamEvent("done", "canceled")),
        ("error", '{"detail": "CUDA out of memory"}', StreamEvent("error", "CUDA out of memory")),
        ("error", "not json", StreamEvent("error", "not json")),
        ("ping", "", StreamEvent("other", "")),
    ],
)
def test_stream_events(event: str, data: str, meaning: StreamEvent) -> None:
    assert stream_event(event, data) == meaning
