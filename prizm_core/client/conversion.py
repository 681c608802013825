"""Role conversion: an asset asked for as another kind of media, through one or two jobs of the mesh.

The live mesh's models form a graph of media kinds (each capability is an
edge from its input kind to its output kind); a conversion takes the shortest
path of at most two edges, e.g. video -> audio -> text for a video's words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.capabilities import CapabilityInfo, capability_info
from prizm_core.errors import PrizmError

__all__ = ["KIND_NAMES", "kind_by_name", "plan_conversion"]

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
            "UNKNOWN_MEDIA_KIND",
            f"unknown media kind {name!r}; use one of {', '.join(KIND_NAMES)}",
        ) from None


def _kind_name(kind: int) -> str:
    return next((name for name, value in KIND_NAMES.items() if value == kind), str(kind))


@dataclass(frozen=True)
class _Route:
    kind: media_pb.MediaKind.ValueType
    hops: tuple[CapabilityInfo, ...]


# Among routes of one length, those through these kinds first: a video "as text" is what is said
# in it (through its audio) before what is written in a frame (through an image).
_PREFERRED_STEPS = (
    media_pb.MEDIA_KIND_AUDIO,
    media_pb.MEDIA_KIND_TEXT,
    media_pb.MEDIA_KIND_IMAGE,
    media_pb.MEDIA_KIND_VIDEO,
    media_pb.MEDIA_KIND_MODEL_3D,
)


def _edges(models: Iterable[catalog_pb.Model]) -> list[CapabilityInfo]:
    capabilities = {cap for model in models for cap in model.capabilities if cap}
    edges = [capability_info(cap) for cap in capabilities]
    return sorted(edges, key=lambda edge: (_PREFERRED_STEPS.index(edge.output_kind), edge.value))


def plan_conversion(
    models: Sequence[catalog_pb.Model],
    source: media_pb.MediaKind.ValueType,
    target: media_pb.MediaKind.ValueType,
) -> list[CapabilityInfo]:
    """The capabilities, in order, that turn `source` media into `target` media in this mesh.

    Breadth first, so the fewest jobs win; among equals, steps through audio, then text, image,
    video. An empty list means nothing to do (the kinds are the same).

    Raises:
        PrizmError: FAILED_PRECONDITION NO_CONVERSION_PATH when no path of at most two jobs exists.
    """
    if source == target:
        return []
    edges = _edges(models)
    frontier = [_Route(source, ())]
    seen = {source}
    for _ in range(MAX_HOPS):
        following: list[_Route] = []
        for route in frontier:
            for edge in edges:
                if edge.input_kind != route.kind or edge.output_kind in seen:
                    continue
                hops = (*route.hops, edge)
                if edge.output_kind == target:
                    return list(hops)
                seen.add(edge.output_kind)
                following.append(_Route(edge.output_kind, hops))
        frontier = following
    raise PrizmError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_CONVERSION_PATH",
        f"this mesh cannot turn {_kind_name(source)} into {_kind_name(target)} in {MAX_HOPS} steps or fewer",
        metadata={"from": _kind_name(source), "to": _kind_name(target)},
    )
