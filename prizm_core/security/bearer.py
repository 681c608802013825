"""The caller's side of auth: its credential (`PRIZM_API_KEY`) sent on every call of a channel."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any

import grpc

__all__ = [
    "API_KEY_ENV",
    "REGISTRATION_TOKEN_ENV",
    "api_key_from",
    "bearer_interceptors",
]

# Where the client and the CLI take the caller's API key or JWT from: never a flag (`ps` shows flags).
API_KEY_ENV = "PRIZM_API_KEY"
# Where a provider that registers itself (`--register ROUTER`) takes the router's registration token.
REGISTRATION_TOKEN_ENV = "PRIZM_REGISTRATION_TOKEN"  # noqa: S105 - a variable name, not a token

Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Any]


def api_key_from(environ: Mapping[str, str]) -> str:
    """The caller's credential from the environment, or "" when none is set."""
    return environ.get(API_KEY_ENV, "").strip()


class _Bearer:
    """Adds `authorization: Bearer <credential>` to a call; the credential is never logged."""

    def __init__(self, credential: str) -> None:
        self._header = ("authorization", f"Bearer {credential}")

    def __repr__(self) -> str:  # never the credential, whatever prints this object
        return f"{type(self).__name__}(***)"

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*tuple(details.metadata or ()), self._header)
        return details._replace(metadata=metadata)  # type: ignore[attr-defined, no-any-return]


# grpc.aio files each interceptor under the first of the four kinds it is (an if/elif chain), so
# each kind needs an object of its own.
class _UnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _UnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _StreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


class _StreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


def bearer_interceptors(credential: str) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors of a channel that sends `credential` on every call; none for ""."""
    if not credential:
        return []
    return [kind(credential) for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
