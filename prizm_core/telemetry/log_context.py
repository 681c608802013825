"""Who a log line is about: the request, job, caller and trace of the call that wrote it.

A server's outermost interceptor opens a `RequestScope` per call in a context variable; the
router's dispatch and the provider SDK add the job and caller once they know them. `ContextFilter`
copies the scope onto every `LogRecord`, so a line carries them without any string formatting at
the call site, and so does every task the call starts (tasks copy the context they start in).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from opentelemetry import trace

__all__ = [
    "CONTEXT_FIELDS",
    "REQUEST_ID_HEADER",
    "ContextFilter",
    "RequestScope",
    "begin_request",
    "bind_job",
    "current_scope",
    "echo_request_id",
    "forwarded_identity",
    "unsent_request_id",
]

REQUEST_ID_HEADER = "x-request-id"
# The router's `dispatch.CALLER_HEADER`: a provider's log lines name the router's caller, not the router.
_CALLER_HEADER = "prizm-caller"
# What a log record gets from the scope and the current span; empty strings where unknown.
CONTEXT_FIELDS = ("job_id", "caller", "request_id", "trace_id", "span_id")
# A caller's own id is kept when it is this tame; anything else (too long, spaces, quotes) is
# replaced by a fresh one, so no caller controls what lands in logs beyond a short token.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
_SENDABLE = re.compile(r"[\x20-\x7e]{1,256}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")

Metadata = Sequence[tuple[str, str | bytes]]


@dataclass
class RequestScope:
    """One call's identity for its log lines.

    Attributes:
        request_id: The caller's `x-request-id`, or one made here.
        trace_id: The caller's trace id from `traceparent`, for lines logged outside a span
            (tracing off); the current span's id wins when there is one.
        job_id: The job the call runs, once known.
        caller: Who asked for it, once known.
        echoed: Whether the request id went back in the response's initial metadata.
    """

    request_id: str
    trace_id: str = ""
    job_id: str = ""
    caller: str = ""
    echoed: bool = False


_scope: ContextVar[RequestScope | None] = ContextVar("prizm_request_scope", default=None)


def _text(metadata: Metadata, key: str) -> str:
    return next((v for k, v in metadata if k == key and isinstance(v, str)), "")


def begin_request(metadata: Metadata) -> RequestScope:
    """Opens the scope of a call in the current context from its invocation metadata."""
    given = _text(metadata, REQUEST_ID_HEADER)
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    parent = _TRACEPARENT.fullmatch(_text(metadata, "traceparent"))
    scope = RequestScope(request_id=request_id, trace_id=parent.group(1) if parent else "")
    _scope.set(scope)
    return scope


def current_scope() -> RequestScope | None:
    """The scope of the call this code runs for, if any."""
    return _scope.get()


def bind_job(job_id: str, caller: str = "") -> None:
    """Names the job (and its caller) of the current call in its log lines from now on."""
    scope = _scope.get()
    if scope is None:  # a call that did not come through the interceptor (an in-process test)
        scope = RequestScope(request_id=uuid.uuid4().hex)
        _scope.set(scope)
    scope.job_id = job_id
    if caller:
        scope.caller = caller


def echo_request_id() -> tuple[tuple[str, str], ...]:
    """The initial-metadata entry that tells the caller its request id; marks it as sent."""
    scope = _scope.get()
    if scope is None:
        return ()
    scope.echoed = True
    return ((REQUEST_ID_HEADER, scope.request_id),)


def unsent_request_id() -> tuple[tuple[str, str], ...]:
    """The request id for a status's trailing metadata when no initial metadata carried it (a call
    refused before its first response message); nothing once it was sent."""
    scope = _scope.get()
    return () if scope is None or scope.echoed else echo_request_id()


def forwarded_identity() -> tuple[tuple[str, str], ...]:
    """Metadata that carries the current call's request id and caller on to a provider."""
    scope = _scope.get()
    if scope is None:
        return ()
    # Only what gRPC can send on as a text header; a caller named otherwise is the router's to log.
    caller = ((_CALLER_HEADER, scope.caller),) if _SENDABLE.fullmatch(scope.caller) else ()
    return ((REQUEST_ID_HEADER, scope.request_id), *caller)


class ContextFilter(logging.Filter):
    """Sets `CONTEXT_FIELDS` on every record from the current scope and span.

    Args:
        clean: Applied to the caller and request id, which come from the caller: the redacting
            filter's `clean`, so a secret used as a caller name is never printed either.
    """

    def __init__(self, clean: Callable[[str], str] = str) -> None:
        super().__init__()
        self._clean = clean

    def filter(self, record: logging.LogRecord) -> bool:
        """Adds the fields; never drops a record."""
        scope = _scope.get()
        span = trace.get_current_span().get_span_context()
        record.job_id = scope.job_id if scope else ""
        record.caller = self._clean(scope.caller) if scope and scope.caller else ""
        record.request_id = self._clean(scope.request_id) if scope else ""
        if span.is_valid:
            record.trace_id = trace.format_trace_id(span.trace_id)
            record.span_id = trace.format_span_id(span.span_id)
        else:
            record.trace_id = scope.trace_id if scope else ""
            record.span_id = ""
        return True
