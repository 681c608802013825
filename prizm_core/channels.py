"""Channel and server options shared by every hop: message limits, keepalive, reconnect backoff."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from prizm_core.security.tls import ClientTls, channel_credentials

# Any of grpc.aio's four client interceptor kinds.
ClientInterceptor = grpc.aio.ClientInterceptor

__all__ = [
    "CHUNK_BYTES",
    "INLINE_LIMIT_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_METADATA_BYTES",
    "RECEIVE_LIMIT_BYTES",
    "channel_options",
    "insecure_channel",
    "open_channel",
    "server_options",
]

# Inline input bytes one request may carry, all its inputs together; more go by reference (uploaded).
INLINE_LIMIT_BYTES = 4 * 1024 * 1024
# Largest message accepted or sent on any hop: a request over it is refused with INPUT_TOO_LARGE.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
# What a server reads before gRPC itself refuses with RESOURCE_EXHAUSTED: room enough above
# MAX_MESSAGE_BYTES for a request that is too large to get an answer that says what to do instead.
RECEIVE_LIMIT_BYTES = 16 * 1024 * 1024
# Request metadata a server accepts, counted as HTTP/2 does (name + value + 32 bytes an entry): over
# it, RESOURCE_EXHAUSTED METADATA_TOO_LARGE from Prizm. gRPC's own limits are set far above, because
# between its soft and hard limit it refuses at random, and above the hard one its message can be
# dropped (1,000 keys gave an empty one).
MAX_METADATA_BYTES = 16 * 1024
_GRPC_METADATA_LIMIT_BYTES = 64 * 1024
# Output chunk size: 256 KiB to 1 MiB is the measured sweet spot.
CHUNK_BYTES = 512 * 1024

# Keepalive: ping every 5 s and drop a peer that does not answer within 1 s, so a
# hung provider is seen within seconds instead of the 60 s default ping timeout.
_KEEPALIVE_TIME_MS = 5_000
_PING_TIMEOUT_MS = 1_000
# How long one connection attempt (TCP and the HTTP/2 handshake) may take. gRPC takes it from
# `grpc.min_reconnect_backoff_ms`; at 100 ms a peer across a slow network, or a busy one, could
# never be reached. Redialing stays quick: the backoff between attempts starts at 100 ms.
_CONNECT_TIMEOUT_MS = 5_000
# Servers accept pings this often (a little below what clients send), so they never
# answer a router's keepalive with GOAWAY too_many_pings.
_MIN_RECV_PING_INTERVAL_MS = 1_000


def server_options(max_concurrent_streams: int = 1_000, reuse_port: bool = False) -> list[tuple[str, int]]:
    """Options for every Prizm gRPC server (router and providers).

    gRPC sets SO_REUSEPORT unless told not to, so a second server on a port in use would start
    "successfully" and take half the connections: only `--workers` routers share a port on purpose.
    """
    return [
        ("grpc.so_reuseport", int(reuse_port)),
        ("grpc.max_metadata_size", _GRPC_METADATA_LIMIT_BYTES),
        ("grpc.absolute_max_metadata_size", _GRPC_METADATA_LIMIT_BYTES),
        ("grpc.max_receive_message_length", RECEIVE_LIMIT_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_concurrent_streams", max_concurrent_streams),
        ("grpc.keepalive_time_ms", _KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", _PING_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", _MIN_RECV_PING_INTERVAL_MS),
        ("grpc.http2.min_ping_interval_without_data_ms", _MIN_RECV_PING_INTERVAL_MS),
        ("grpc.http2.max_ping_strikes", 2),
    ]


def channel_options(max_reconnect_backoff_ms: int = 1_000) -> list[tuple[str, int]]:
    """Options for every Prizm client channel (router to provider, caller to router)."""
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", _KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", _PING_TIMEOUT_MS),
        ("grpc.http2.ping_timeout_ms", _PING_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Reconnect quickly after a provider restarts instead of backing off for seconds.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", max_reconnect_backoff_ms),
        ("grpc.min_reconnect_backoff_ms", _CONNECT_TIMEOUT_MS),
    ]


def insecure_channel(
    address: str, max_reconnect_backoff_ms: int = 1_000, interceptors: Sequence[ClientInterceptor] = ()
) -> grpc.aio.Channel:
    """An asyncio channel to `address` (`host:port`) with Prizm's options (and `interceptors`)."""
    options = channel_options(max_reconnect_backoff_ms)
    return grpc.aio.insecure_channel(address, options=options, interceptors=list(interceptors) or None)


def open_channel(
    address: str,
    tls: ClientTls | None,
    max_reconnect_backoff_ms: int = 1_000,
    interceptors: Sequence[ClientInterceptor] = (),  # e.g. the caller's credential (security.bearer)
) -> grpc.aio.Channel:
    """An asyncio channel to `address` over TLS with `tls`, or plaintext when `tls` is None.

    The TLS files are read now: a channel opened after they change uses the new ones, while one
    already open keeps its connection (and redials with the files it was made with).
    """
    if tls is None:
        return insecure_channel(address, max_reconnect_backoff_ms, interceptors)
    options = channel_options(max_reconnect_backoff_ms)
    credentials = channel_credentials(tls)
    return grpc.aio.secure_channel(
        address, credentials, options=options, interceptors=list(interceptors) or None
    )
