"""What a finished job hands back: its outputs (in memory or in files), usage, cost and provenance."""

from __future__ import annotations

import hashlib
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import grpc
from prizm.v1 import media_pb2 as media_pb

from prizm_core.client.events import (
    Completion,
    Cost,
    Event,
    OutputChunk,
    OutputHeader,
    Progress,
    Provenance,
)
from prizm_core.enums import MediaKind
from prizm_core.errors import PrizmError, Reason

__all__ = ["Conversion", "FileSink", "JobResult", "MemorySink", "OutputAsset", "OutputSink", "ResultBuilder"]


@dataclass
class OutputAsset:
    """One output of a job.

    Attributes:
        index: Position among the job's outputs.
        kind: Media kind.
        mime_type: MIME type.
        metadata: Media metadata from the provider (duration, sample rate, ...).
        size_bytes: Size, checked against the completion.
        sha256: Hex SHA-256, checked against the completion.
        provenance: Provider, model, options, input hashes, cost and timing.
        data: The bytes, when collected in memory.
        path: The file, when written to disk.
    """

    index: int
    kind: MediaKind
    mime_type: str
    metadata: dict[str, str]
    size_bytes: int = 0
    sha256: str = ""
    provenance: Provenance = field(default_factory=Provenance)
    data: bytes | None = None
    path: Path | None = None

    def text(self) -> str:
        """The content as UTF-8 text."""
        data = self.data if self.data is not None else self.path.read_bytes() if self.path else b""
        return data.decode("utf-8")

    def save(self, path: str | Path) -> Path:
        """Writes the output to `path` (a file, replaced if there) and returns it.

        Works whether the output was collected in memory or already written to a file.
        """
        target = Path(path)
        if self.data is not None:
            target.write_bytes(self.data)
        elif self.path is not None:
            if self.path.resolve() != target.resolve():
                shutil.copyfile(self.path, target)
        else:
            raise ValueError(f"output {self.index} holds no content")
        return target

    def to_asset(self) -> media_pb.Asset:
        """This output as the input of another job."""
        data = self.data if self.data is not None else self.path.read_bytes() if self.path else b""
        return media_pb.Asset(
            kind=media_pb.MediaKind.ValueType(self.kind),
            mime_type=self.mime_type,
            size_bytes=len(data),
            sha256=self.sha256,
            metadata=self.metadata,
            data=data,
        )


@dataclass
class JobResult:
    """A completed job."""

    job_id: str
    outputs: list[OutputAsset]
    completion: Completion
    progress_events: int

    @property
    def cost(self) -> Cost:
        """What the job cost."""
        return self.completion.cost

    def save(self, path: str | Path) -> Path:
        """Writes the job's output to `path` and returns it; see `OutputAsset.save`.

        Raises:
            ValueError: The job made several outputs (save each: `result.outputs[i].save(path)`).
        """
        if len(self.outputs) != 1:
            raise ValueError(
                f"job {self.job_id} made {len(self.outputs)} outputs; save each with outputs[i].save(path)"
            )
        return self.outputs[0].save(path)


@dataclass(frozen=True)
class Conversion:
    """A finished conversion: the capabilities it took and each step's result (the last is the answer)."""

    capabilities: list[str]
    steps: list[JobResult]

    @property
    def result(self) -> JobResult:
        """The last job's result: the source as the kind asked for."""
        return self.steps[-1]


class OutputSink(Protocol):
    """Where output bytes go as they arrive."""

    def open(self, header: OutputHeader) -> BinaryIO:
        """A writable binary stream for the output `header` describes."""
        ...

    def finish(self, output: OutputAsset, stream: BinaryIO) -> None:
        """Called once an output's last chunk was written; the sink closes `stream`."""
        ...

    def abandon(self, index: int, stream: BinaryIO) -> None:
        """Called when the job failed: close `stream` and drop what was written."""
        ...


class MemorySink:
    """Keeps every output in memory (`OutputAsset.data`)."""

    def open(self, header: OutputHeader) -> BinaryIO:
        """A fresh in-memory buffer."""
        return io.BytesIO()

    def finish(self, output: OutputAsset, stream: BinaryIO) -> None:
        """Moves the buffer's bytes into the output."""
        assert isinstance(stream, io.BytesIO)  # noqa: S101 - opened by this sink
        output.data = stream.getvalue()
        stream.close()

    def abandon(self, index: int, stream: BinaryIO) -> None:
        """Drops the buffer."""
        stream.close()


class FileSink:
    """Writes each output to a file as its chunks arrive (`OutputAsset.path`)."""

    def __init__(self, path_for: PathFor) -> None:
        self._path_for = path_for
        self._paths: dict[int, Path] = {}

    def open(self, header: OutputHeader) -> BinaryIO:
        """Opens the file for the output, creating its folder."""
        path = self._path_for(header)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._paths[header.index] = path
        return path.open("wb")

    def finish(self, output: OutputAsset, stream: BinaryIO) -> None:
        """Closes the file and records its path."""
        stream.close()
        output.path = self._paths[output.index]

    def abandon(self, index: int, stream: BinaryIO) -> None:
        """Closes and deletes the partial file."""
        stream.close()
        self._paths.pop(index).unlink(missing_ok=True)


class PathFor(Protocol):
    """Chooses the file an output is written to."""

    def __call__(self, header: OutputHeader) -> Path: ...


class ResultBuilder:
    """Assembles a job's events into a JobResult, checking sizes and hashes."""

    def __init__(self, sink: OutputSink) -> None:
        self.sink = sink
        self.job_id = ""
        self.progress_events = 0
        self.outputs: dict[int, OutputAsset] = {}
        self._streams: dict[int, BinaryIO] = {}
        self._digests: dict[int, hashlib._Hash] = {}
        self._sizes: dict[int, int] = {}
        self.completion: Completion | None = None

    def add(self, event: Event) -> None:
        """Takes the next event of the stream."""
        self.job_id = self.job_id or event.job_id
        if isinstance(event, Progress):
            self.progress_events += 1
        elif isinstance(event, OutputHeader):
            if event.index in self._streams:  # the job restarted: this output starts over
                self.sink.abandon(event.index, self._streams.pop(event.index))
            self.outputs[event.index] = OutputAsset(
                index=event.index, kind=event.kind, mime_type=event.mime_type, metadata=dict(event.metadata)
            )
            self._streams[event.index] = self.sink.open(event)
            self._digests[event.index] = hashlib.sha256()
            self._sizes[event.index] = 0
        elif isinstance(event, OutputChunk):
            if event.index not in self._streams:
                raise self._corrupted(event.index, "a chunk came before its header")
            self._streams[event.index].write(event.data)
            self._digests[event.index].update(event.data)
            self._sizes[event.index] += len(event.data)
        else:
            self.completion = event

    def result(self) -> JobResult:
        """The finished job; raises DATA_LOSS if an output does not match its summary."""
        if self.completion is None:
            raise PrizmError(
                grpc.StatusCode.DATA_LOSS,
                Reason.INCOMPLETE_STREAM,
                f"job {self.job_id} ended without completion",
            )
        summaries = {summary.index: summary for summary in self.completion.outputs}
        if set(summaries) != set(self.outputs):
            raise self._corrupted(min(set(summaries) ^ set(self.outputs)), "outputs and summaries differ")
        for summary in summaries.values():
            output = self.outputs[summary.index]
            digest = self._digests[summary.index]
            if digest.hexdigest() != summary.sha256 or self._sizes[summary.index] != summary.size_bytes:
                raise self._corrupted(summary.index, "does not match its size and checksum")
            output.size_bytes, output.sha256 = summary.size_bytes, summary.sha256
            output.provenance = summary.provenance
            self.sink.finish(output, self._streams.pop(summary.index))
        return JobResult(
            job_id=self.job_id,
            outputs=[self.outputs[i] for i in sorted(self.outputs)],
            completion=self.completion,
            progress_events=self.progress_events,
        )

    def _corrupted(self, index: int, problem: str) -> PrizmError:
        return PrizmError(
            grpc.StatusCode.DATA_LOSS,
            Reason.OUTPUT_CORRUPTED,
            f"output {index} of job {self.job_id}: {problem}",
        )

    def abandon(self) -> None:
        """Drops every output not yet finished (the job failed)."""
        for index, stream in self._streams.items():
            self.sink.abandon(index, stream)
        self._streams.clear()
