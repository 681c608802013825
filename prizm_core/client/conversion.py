"""Role conversion: an asset asked for as another kind of media, through one or two jobs of the mesh.

The live mesh's models form a graph of media (each model's capability is an edge from the media
types it takes to the media it makes); a conversion takes the shortest path of at most two edges,
e.g. video -> audio -> text for a video's words, or an mp3 -> WAV -> text when the speech
recogniser takes only WAV.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.capabilities import CapabilityInfo, capability_info
from prizm_core.errors import PrizmError, Reason

__all__ = ["KIND_NAMES", "ConversionStep", "kind_by_name", "plan_conversion"]

MAX_HOPS = 2
KIND_NAMES = {
    "text": media_pb.MEDIA_KIND_TEXT,
    "image": media_pb.MEDIA_KIND_IMAGE,
    "audio": media_pb.MEDIA_KIND_AUDIO,
    "video": media_pb.MEDIA_KIND_VIDEO,
    "3d": media_pb.MEDIA_KIND_MODEL_3D,
}


def kind_by_name(name: str) -> media_pb.MediaKind.ValueType:
    """A media kind by name: text, image, audio, video or 3d."""
    try:
        return KIND_NAMES[name.strip().lower()]
    except KeyError:
        raise PrizmError(
            grpc.StatusCode.INVALID_ARGUMENT,
            Reason.UNKNOWN_MEDIA_KIND,
            f"unknown media kind {name!r}; use one of {', '.join(KIND_NAMES)}",
        ) from None


def _kind_name(kind: int) -> str:
    return next((name for name, value in KIND_NAMES.items() if value == kind), str(kind))


@dataclass(frozen=True)
class ConversionStep:
    """One job of a conversion: what it does, and the model (of which provider) that takes its input.

    Attributes:
        capability: The capability of the job.
        model_id: The model chosen, one that takes the step's input media type.
        provider_id: The provider serving that model.
    """

    capability: CapabilityInfo
    model_id: str
    provider_id: str


@dataclass(frozen=True)
class _Media:
    kind: int
    mime_type: str  # bare and lower case; empty when not known


@dataclass(frozen=True)
class _Route:
    media: _Media
    steps: tuple[ConversionStep, ...]


@dataclass(frozen=True)
class _Edge:
    step: ConversionStep
    accepts: frozenset[str]  # empty: any media type of the kind
    output: _Media


# Among routes of one length, those through these kinds first: a video "as text" is what is said
# in it (through its audio) before what is written in a frame (through an image).
_PREFERRED_STEPS = (
    media_pb.MEDIA_KIND_AUDIO,
    media_pb.MEDIA_KIND_TEXT,
    media_pb.MEDIA_KIND_IMAGE,
    media_pb.MEDIA_KIND_VIDEO,
    media_pb.MEDIA_KIND_MODEL_3D,
)


def _bare(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


def _edges(models: Iterable[catalog_pb.Model]) -> list[_Edge]:
    edges = [
        _Edge(
            step=ConversionStep(capability_info(cap), model.id, model.provider_id),
            accepts=frozenset(_bare(mime) for mime in model.input_mime_types),
            output=_Media(capability_info(cap).output_kind, _bare(model.output_mime_type)),
        )
        for model in models
        for cap in model.capabilities
        if cap
    ]
    # A stable sort: among equals, the order the router listed the models in.
    return sorted(
        edges, key=lambda edge: (_PREFERRED_STEPS.index(edge.output.kind), edge.step.capability.value)
    )


def _takes(edge: _Edge, media: _Media) -> bool:
    """Whether the edge's model takes the media; an unknown media type is left to the provider."""
    return edge.step.capability.input_kind == media.kind and (
        not edge.accepts or not media.mime_type or media.mime_type in edge.accepts
    )


def plan_conversion(
    models: Sequence[catalog_pb.Model],
    source: media_pb.MediaKind.ValueType,
    target: media_pb.MediaKind.ValueType,
    source_mime_type: str = "",
) -> list[ConversionStep]:
    """The jobs, in order, that turn `source` media into `target` media in this mesh.

    Plans by MIME type where models declare the types they take: an mp3 goes to a speech recogniser
    that takes only WAV through a conversion to WAV first, when the mesh has one. Breadth first, so
    the fewest jobs win; among equals, steps through audio, then text, image, video. An empty list
    means nothing to do (the kinds are the same).

    Args:
        models: The mesh's models (`PrizmClient.list_models`).
        source: The kind of the source.
        target: The kind wanted.
        source_mime_type: The source's MIME type; when empty, any model of the kind is taken to accept it.

    Raises:
        PrizmError: FAILED_PRECONDITION NO_CONVERSION_PATH when no path of at most two jobs exists.
    """
    if source == target:
        return []
    edges = _edges(models)
    start = _Media(source, _bare(source_mime_type))
    frontier = [_Route(start, ())]
    seen = {start}
    for _ in range(MAX_HOPS):
        following: list[_Route] = []
        for route in frontier:
            for edge in edges:
                if not _takes(edge, route.media) or edge.output in seen:
                    continue
                steps = (*route.steps, edge.step)
                if edge.output.kind == target:
                    return list(steps)
                seen.add(edge.output)
                following.append(_Route(edge.output, steps))
        frontier = following
    raise _no_path(start, target)


def _no_path(source: _Media, target: int) -> PrizmError:
    described = _kind_name(source.kind) + (f" ({source.mime_type})" if source.mime_type else "")
    metadata = {"from": _kind_name(source.kind), "to": _kind_name(target)}
    if source.mime_type:
        metadata["mime_type"] = source.mime_type
    return PrizmError(
        grpc.StatusCode.FAILED_PRECONDITION,
        Reason.NO_CONVERSION_PATH,
        f"this mesh cannot turn {described} into {_kind_name(target)} in {MAX_HOPS} steps or fewer",
        metadata=metadata,
    )
