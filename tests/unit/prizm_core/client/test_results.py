"""Assembling a router's `Transform` stream into a result: outputs, checks, restarts and sinks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import grpc
import pytest
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client.events import Cost, OutputHeader, event_from_proto
from prizm_core.client.events import Event as TypedEvent
from prizm_core.client.results import FileSink, JobResult, MemorySink, OutputSink, ResultBuilder
from prizm_core.enums import MediaKind
from prizm_core.errors import PrizmError

Event = router_pb.RouterServiceTransformResponse
JOB = "job-7f3a"
AUDIO = media_pb.MEDIA_KIND_AUDIO
TEXT = media_pb.MEDIA_KIND_TEXT
WAV = [b"RIFF\x24\x00\x00\x00WAVE", b"\x00\x01" * 500, b"\xff" * 7]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _progress(stage: str = "synth") -> Event:
    return Event(job_id=JOB, progress=job_pb.Progress(state=job_pb.JOB_STATE_RUNNING, stage=stage))


def _header(index: int, kind: int = AUDIO, mime_type: str = "audio/wav", **metadata: str) -> Event:
    asset = media_pb.Asset(kind=kind, mime_type=mime_type, metadata=metadata)  # type: ignore[arg-type]
    return Event(job_id=JOB, output_header=media_pb.AssetHeader(index=index, asset=asset))


def _chunk(index: int, data: bytes) -> Event:
    return Event(job_id=JOB, output_chunk=media_pb.AssetChunk(index=index, data=data))


def _summary(index: int, data: bytes, provider_id: str = "piper") -> job_pb.OutputSummary:
    provenance = media_pb.Provenance(provider_id=provider_id, model_id="joe", job_id=JOB)
    return job_pb.OutputSummary(index=index, size_bytes=len(data), sha256=_sha(data), provenance=provenance)


def _completion(*summaries: job_pb.OutputSummary, amount: float = 0.25) -> Event:
    cost = media_pb.Cost(currency="USD", amount=amount)
    return Event(job_id=JOB, completion=job_pb.Completion(outputs=summaries, cost=cost))


def _output(index: int, pieces: Sequence[bytes], **metadata: str) -> list[Event]:
    return [_header(index, AUDIO, "audio/wav", **metadata), *(_chunk(index, piece) for piece in pieces)]


def _build(events: Iterable[Event], sink: OutputSink | None = None) -> ResultBuilder:
    builder = ResultBuilder(sink or MemorySink())
    for event in events:
        builder.add(_typed(event))
    return builder


def _typed(event: Event) -> TypedEvent:
    typed = event_from_proto(event)
    assert typed is not None
    return typed


def _result(events: Iterable[Event], sink: OutputSink | None = None) -> JobResult:
    return _build(events, sink).result()


def _data_loss(builder: ResultBuilder) -> PrizmError:
    with pytest.raises(PrizmError) as raised:
        builder.result()
    assert raised.value.code == grpc.StatusCode.DATA_LOSS
    return raised.value


def test_a_stream_becomes_a_result() -> None:
    wav = b"".join(WAV)
    words = b"hello world"
    result = _result(
        [
            _progress("load"),
            *_output(0, WAV, sample_rate="22050"),
            _progress("transcribe"),
            _header(1, TEXT, "text/plain"),
            _chunk(1, words),
            _completion(_summary(0, wav), _summary(1, words, "pocketsphinx")),
        ]
    )
    assert (result.job_id, result.progress_events) == (JOB, 2)
    assert result.cost == Cost(amount=0.25, currency="USD")
    assert result.completion.outputs[1].size_bytes == len(words)
    first, second = result.outputs
    assert (first.index, first.kind, first.mime_type) == (0, MediaKind.AUDIO, "audio/wav")
    assert first.metadata == {"sample_rate": "22050"}
    assert first.data == wav
    assert (first.size_bytes, first.sha256) == (len(wav), _sha(wav))
    assert (first.provenance.provider_id, first.provenance.model_id) == ("piper", "joe")
    assert first.path is None
    assert (second.index, second.kind, second.text()) == (1, MediaKind.TEXT, "hello world")
    assert second.provenance.provider_id == "pocketsphinx"


def test_an_output_becomes_the_input_of_another_job() -> None:
    wav = b"".join(WAV)
    [output] = _result([*_output(0, WAV, sample_rate="16000"), _completion(_summary(0, wav))]).outputs
    asset = output.to_asset()
    assert (asset.kind, asset.mime_type, asset.data) == (AUDIO, "audio/wav", wav)
    assert (asset.size_bytes, asset.sha256) == (len(wav), _sha(wav))
    assert dict(asset.metadata) == {"sample_rate": "16000"}


def test_interleaved_chunks_and_headers_out_of_order_are_sorted_out() -> None:
    events = [
        _header(1, TEXT, "text/plain"),
        _header(0),
        _chunk(0, b"ab"),
        _chunk(1, b"xy"),
        _chunk(0, b"cd"),
        _chunk(1, b"z"),
        _completion(_summary(1, b"xyz"), _summary(0, b"abcd")),
    ]
    result = _result(events)
    assert [(o.index, o.data) for o in result.outputs] == [(0, b"abcd"), (1, b"xyz")]


def test_an_empty_output_is_kept() -> None:
    [output] = _result([_header(0, TEXT, "text/plain"), _completion(_summary(0, b""))]).outputs
    assert output.data == b""
    assert output.sha256 == _sha(b"")


def test_a_hash_mismatch_is_data_loss() -> None:
    summary = _summary(0, b"what the provider meant")
    builder = _build([*_output(0, [b"what ", b"arrived"]), _completion(summary)])
    error = _data_loss(builder)
    assert error.reason == "OUTPUT_CORRUPTED"
    assert f"output 0 of job {JOB}" in error.message
    assert not error.retryable


def test_a_summary_of_an_output_never_sent_is_data_loss() -> None:
    builder = _build([*_output(0, [b"abc"]), _completion(_summary(0, b"abc"), _summary(1, b"def"))])
    error = _data_loss(builder)
    assert error.reason == "OUTPUT_CORRUPTED"
    assert "output 1" in error.message


def test_a_stream_without_completion_is_incomplete() -> None:
    builder = _build([_progress(), *_output(0, WAV)])
    error = _data_loss(builder)
    assert error.reason == "INCOMPLETE_STREAM"
    assert JOB in error.message
    assert builder.progress_events == 1


def test_a_restarted_output_keeps_only_what_came_after_its_new_header() -> None:
    stale, fresh = [b"partial ", b"audio from the first provider"], [b"whole ", b"audio ", b"again"]
    events = [
        _progress(),
        *_output(0, stale, attempt="1"),
        _progress("restart"),
        *_output(0, fresh, attempt="2"),
    ]
    result = _result([*events, _completion(_summary(0, b"".join(fresh)))])
    [output] = result.outputs
    assert output.data == b"whole audio again"
    assert output.metadata == {"attempt": "2"}
    assert result.progress_events == 2
    # A completion that counted the bytes before the restart does not match.
    everything = b"".join(stale + fresh)
    error = _data_loss(_build([*events, _completion(_summary(0, everything))]))
    assert error.reason == "OUTPUT_CORRUPTED"


def _file_sink(folder: Path) -> FileSink:
    def path_for(header: OutputHeader) -> Path:
        suffix = ".wav" if header.mime_type == "audio/wav" else ".txt"
        return folder / "out" / f"output-{header.index}{suffix}"

    return FileSink(path_for)


def test_file_sink_writes_each_output_to_its_file(tmp_path: Path) -> None:
    wav = b"".join(WAV)
    events = [
        *_output(0, WAV),
        _header(1, TEXT, "text/plain"),
        _chunk(1, b"hi"),
        _completion(_summary(0, wav), _summary(1, b"hi")),
    ]
    first, second = _result(events, _file_sink(tmp_path)).outputs
    assert first.path == tmp_path / "out" / "output-0.wav"
    assert second.path == tmp_path / "out" / "output-1.txt"
    assert first.path.read_bytes() == wav
    assert second.path.read_bytes() == b"hi"
    assert (first.data, first.sha256) == (None, _sha(wav))
    assert first.to_asset().data == wav


def test_file_sink_restart_rewrites_the_file(tmp_path: Path) -> None:
    events = [*_output(0, [b"stale bytes"]), *_output(0, [b"fresh"]), _completion(_summary(0, b"fresh"))]
    [output] = _result(events, _file_sink(tmp_path)).outputs
    assert output.path is not None
    assert output.path.read_bytes() == b"fresh"


def test_abandon_deletes_partial_files(tmp_path: Path) -> None:
    builder = _build(
        [*_output(0, WAV), _header(1, TEXT, "text/plain"), _chunk(1, b"h")], _file_sink(tmp_path)
    )
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["output-0.wav", "output-1.txt"]
    builder.abandon()
    assert list((tmp_path / "out").iterdir()) == []
    builder.abandon()  # nothing left to drop
    assert list((tmp_path / "out").iterdir()) == []


def test_a_corrupted_file_is_deleted_when_the_job_is_abandoned(tmp_path: Path) -> None:
    builder = _build([*_output(0, [b"bad"]), _completion(_summary(0, b"good"))], _file_sink(tmp_path))
    assert _data_loss(builder).reason == "OUTPUT_CORRUPTED"
    builder.abandon()  # what the client does with any failure
    assert not (tmp_path / "out" / "output-0.wav").exists()


def test_a_restart_deletes_the_file_of_the_first_attempt(tmp_path: Path) -> None:
    opened: list[Path] = []

    def path_for(header: OutputHeader) -> Path:
        opened.append(tmp_path / f"output-{header.index}-attempt-{len(opened) + 1}.wav")
        return opened[-1]

    events = [*_output(0, [b"stale"]), *_output(0, [b"fresh"]), _completion(_summary(0, b"fresh"))]
    [output] = _result(events, FileSink(path_for)).outputs
    assert output.path == tmp_path / "output-0-attempt-2.wav"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output-0-attempt-2.wav"]
    assert output.path.read_bytes() == b"fresh"


def test_a_size_that_does_not_match_the_summary_is_data_loss() -> None:
    summary = _summary(0, b"abc")
    summary.size_bytes = 999
    builder = _build([_header(0), _chunk(0, b"abc"), _completion(summary)])
    assert "size" in _data_loss(builder).message


def test_a_chunk_before_its_header_is_data_loss() -> None:
    builder = ResultBuilder(MemorySink())
    with pytest.raises(PrizmError) as caught:
        builder.add(_typed(_chunk(3, b"stray")))
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.DATA_LOSS, "OUTPUT_CORRUPTED")


def test_an_output_without_a_summary_is_data_loss() -> None:
    builder = _build([*_output(0, [b"kept"]), *_output(1, [b"unsummed"]), _completion(_summary(0, b"kept"))])
    assert "differ" in _data_loss(builder).message


def test_an_output_in_memory_saves_to_a_path_given_as_str(tmp_path: Path) -> None:
    wav = b"".join(WAV)
    result = _result([*_output(0, WAV), _completion(_summary(0, wav))])
    saved = result.outputs[0].save(str(tmp_path / "speech.wav"))
    assert saved == tmp_path / "speech.wav" and saved.read_bytes() == wav
    assert result.save(tmp_path / "again.wav").read_bytes() == wav


def test_an_output_in_a_file_is_copied_and_saving_onto_itself_keeps_it(tmp_path: Path) -> None:
    wav = b"".join(WAV)
    [output] = _result([*_output(0, WAV), _completion(_summary(0, wav))], _file_sink(tmp_path)).outputs
    assert output.path is not None
    copy = output.save(tmp_path / "copy.wav")
    assert copy.read_bytes() == wav and output.path.read_bytes() == wav
    assert output.save(output.path).read_bytes() == wav


def test_a_text_output_in_a_file_reads_as_text(tmp_path: Path) -> None:
    events = [
        _header(0, TEXT, "text/plain"),
        _chunk(0, "naïve".encode()),
        _completion(_summary(0, "naïve".encode())),
    ]
    [output] = _result(events, _file_sink(tmp_path)).outputs
    assert output.data is None and output.text() == "naïve"


def test_a_result_of_several_outputs_saves_each_not_all_at_once(tmp_path: Path) -> None:
    headers = [_header(0, TEXT, "text/plain"), _header(1, TEXT, "text/plain")]
    result = _result(
        [*headers, _chunk(0, b"a"), _chunk(1, b"b"), _completion(_summary(0, b"a"), _summary(1, b"b"))]
    )
    with pytest.raises(ValueError, match="2 outputs"):
        result.save(tmp_path / "both.txt")
    assert not (tmp_path / "both.txt").exists()
    assert result.outputs[1].save(tmp_path / "second.txt").read_text() == "b"
