"""Caller authentication on the router: bearer API keys and JWTs, the operator-only control plane.

Every call but a health check carries `authorization: Bearer <credential>`: an API key (its SHA-256
is looked up in the config), a registration token (likewise), or a JWT verified against the JWKS
file. The interceptor runs last of the router's interceptors, so that logs, traces and metrics see
its refusals; it refuses with UNAUTHENTICATED or PERMISSION_DENIED before any handler runs, counts
the caller's request rate, and hands the caller's `Identity` to the handler (`current_identity`).
The credential itself is never logged, put in an error or kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import jwt
from grpc_reflection.v1alpha import reflection
from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config_values import ConfigError
from prizm_core.errors import PrizmError, Reason
from prizm_core.handlers import method_path
from prizm_core.security.callers import AuthConfig, Identity, JwtConfig, hash_key, set_identity
from prizm_core.security.limits import CallerLimits, check_rate

__all__ = ["AUTHORIZATION_HEADER", "AuthInterceptor", "Authenticator", "auth_interceptors", "check_exposure"]

log = logging.getLogger(__name__)

AUTHORIZATION_HEADER = "authorization"
_ROUTER = router_pb.DESCRIPTOR.services_by_name["RouterService"].methods_by_name
_PROVIDER = provider_pb.DESCRIPTOR.services_by_name["ProviderService"].methods_by_name
# What providers holding a registration token may call: their own lease.
REGISTRATION_METHODS = frozenset(
    method_path(_ROUTER[name]) for name in ("RegisterProvider", "DeregisterProvider")
)
# The control plane: operators only (and registration tokens for REGISTRATION_METHODS).
OPERATOR_METHODS = REGISTRATION_METHODS | frozenset(
    method_path(_PROVIDER[name]) for name in ("Configure", "StartService", "StopService")
)
# Reflection tells a stranger every method the server has: operators only, in both its versions.
_REFLECTION_PREFIXES = (f"/{reflection.SERVICE_NAME}/", "/grpc.reflection.v1.ServerReflection/")
# Probes (kubelet, load balancers, `prizm health-probe`) carry no credential. Nor do providers
# downloading a job's inputs: a `prizm-asset://` URI holds 122 random bits, so knowing it is the
# permission (as with a presigned URL), and the caller's own credential never goes to a provider.
_OPEN_PREFIX = "/grpc.health.v1.Health/"
_OPEN_METHODS = frozenset(
    {method_path(asset_pb.DESCRIPTOR.services_by_name["AssetService"].methods_by_name["DownloadAsset"])}
)
_REGISTER = method_path(_ROUTER["RegisterProvider"])

# How long a refused client stream may take to send its first message (see `_first_sent`).
_FIRST_MESSAGE_WAIT_S = 1.0
Behavior = Callable[[Any, Any], Any]
Context = grpc.aio.ServicerContext[Any, Any]
if TYPE_CHECKING:  # subscriptable in the stubs only
    Handler = grpc.RpcMethodHandler[Any, Any]


def _unauthenticated(reason: Reason, message: str) -> PrizmError:
    return PrizmError(grpc.StatusCode.UNAUTHENTICATED, reason, message)


def _bearer(metadata: Sequence[tuple[str, str | bytes]]) -> str:
    """The credential of `authorization: Bearer <credential>`."""
    values = [value for key, value in metadata if key == AUTHORIZATION_HEADER]
    if not values:
        raise _unauthenticated(
            Reason.CREDENTIALS_MISSING,
            "this router needs a credential: send `authorization: Bearer <key>` "
            "(Prizm's clients and CLI send $PRIZM_API_KEY)",
        )
    scheme, _, credential = str(values[0]).partition(" ")
    if len(values) > 1 or scheme.lower() != "bearer" or not credential.strip():
        raise _unauthenticated(
            Reason.CREDENTIALS_INVALID, "send one `authorization` header of the form `Bearer <key>`"
        )
    return credential.strip()


class Authenticator:
    """Turns a call's credential into the caller's `Identity`, or refuses it."""

    def __init__(self, config: AuthConfig) -> None:
        """Indexes the configured key hashes and reads the JWKS file.

        Raises:
            ConfigError: The JWKS file cannot be read or holds no usable key.
        """
        self.config = config
        self.limits = {name: CallerLimits(policy) for name, policy in config.callers.items()}
        self.keys = {key.sha256: key for key in config.api_keys}
        self.tokens = {token.sha256: token for token in config.registration_tokens}
        self.jwks = _read_jwks(config.jwt) if config.jwt is not None else None

    def caller(self, name: str) -> Identity:
        """The identity of the configured caller `name`."""
        return Identity(name, self.config.callers[name], state=self.limits[name])

    def identify(self, metadata: Sequence[tuple[str, str | bytes]]) -> Identity:
        """The caller a call's metadata authenticates.

        Raises:
            PrizmError: UNAUTHENTICATED, reason CREDENTIALS_MISSING, CREDENTIALS_INVALID,
                CREDENTIALS_EXPIRED or CREDENTIALS_REVOKED.
        """
        credential = _bearer(metadata)
        if credential.count(".") == 2 and self.jwks is not None and self.config.jwt is not None:
            return self._from_jwt(credential, self.config.jwt, self.jwks)
        digest = hash_key(credential)
        key = self.keys.get(digest)
        if key is not None:
            if key.revoked:
                raise _unauthenticated(Reason.CREDENTIALS_REVOKED, "this API key was revoked")
            return self.caller(key.caller)
        token = self.tokens.get(digest)
        if token is not None:
            if token.revoked:
                raise _unauthenticated(Reason.CREDENTIALS_REVOKED, "this registration token was revoked")
            return Identity(token.name, registrar=True)
        raise _unauthenticated(
            Reason.CREDENTIALS_INVALID, "the credential is not a key or token of this router"
        )

    def _from_jwt(self, token: str, settings: JwtConfig, jwks: jwt.PyJWKSet) -> Identity:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = jwks[kid] if kid is not None else next(iter(jwks))
            claims = jwt.decode(
                token,
                key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_s,
                options={"require": ["exp", "iss", "aud", settings.caller_claim]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthenticated(Reason.CREDENTIALS_EXPIRED, "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _unauthenticated(Reason.CREDENTIALS_INVALID, "the token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise _unauthenticated(
                Reason.CREDENTIALS_INVALID, "the token is not meant for this router (aud)"
            ) from None
        except jwt.InvalidIssuerError:
            raise _unauthenticated(
                Reason.CREDENTIALS_INVALID, "the token's issuer is not trusted (iss)"
            ) from None
        except (jwt.PyJWTError, KeyError, StopIteration, ValueError):
            raise _unauthenticated(
                Reason.CREDENTIALS_INVALID, "the token is not valid for this router"
            ) from None
        if claims.get("jti") in settings.revoked_ids:
            raise _unauthenticated(Reason.CREDENTIALS_REVOKED, "this token was revoked")
        name = claims.get(settings.caller_claim)
        if not isinstance(name, str) or name not in self.config.callers:
            raise _unauthenticated(
                Reason.CREDENTIALS_INVALID,
                f"the token's {settings.caller_claim} is not a caller of this router",
            )
        return self.caller(name)


def _read_jwks(settings: JwtConfig) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_json(settings.jwks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise ConfigError(f"auth.jwt.jwks_file: cannot use {settings.jwks_file}: {exc}") from None


def _authorize(identity: Identity, method: str) -> None:
    """Refuses a method the identity may not call."""
    if identity.registrar:
        if method not in REGISTRATION_METHODS:
            raise PrizmError(
                grpc.StatusCode.PERMISSION_DENIED,
                Reason.REGISTRATION_ONLY,
                "a registration token may only register and deregister providers",
            )
        return
    if (method in OPERATOR_METHODS or method.startswith(_REFLECTION_PREFIXES)) and not identity.operator:
        raise PrizmError(
            grpc.StatusCode.PERMISSION_DENIED,
            Reason.OPERATOR_ONLY,
            f"{method} is part of the control plane: it needs an operator's credential",
        )


class _Owners:
    """Which registration token registered each address, so that no other token can take it away."""

    def __init__(self) -> None:
        self.by_address: dict[str, str] = {}

    def check(self, identity: Identity, request: Any) -> str | None:
        """Refuses a registrar touching an address another one registered; returns the address."""
        address = getattr(request, "address", None)
        if not isinstance(address, str):  # a request that could not be read: its handler refuses it
            return None
        owner = self.by_address.get(address)
        if identity.registrar and owner is not None and owner != identity.name:
            raise PrizmError(
                grpc.StatusCode.PERMISSION_DENIED,
                Reason.ENDPOINT_NOT_OWNED,
                f"{address} was registered with another registration token",
            )
        return address

    def done(self, identity: Identity, method: str, address: str) -> None:
        """Records the outcome of a successful (de)registration."""
        if method == _REGISTER:
            self.by_address.setdefault(address, identity.name)
        else:
            self.by_address.pop(address, None)


def _field(handler: Handler) -> str:
    """The attribute of an `RpcMethodHandler` that holds its behaviour: `unary_stream`, ..."""
    kind = "stream" if handler.response_streaming else "unary"
    return f"{'stream' if handler.request_streaming else 'unary'}_{kind}"


def _with(handler: Handler, behavior: Behavior) -> Handler:
    # RpcMethodHandler is a named tuple at run time; the stubs only declare its fields.
    replaced: Handler = handler._replace(**{_field(handler): behavior})  # type: ignore[attr-defined]
    return replaced


async def _first_sent(requests: AsyncIterable[Any]) -> None:
    """Waits (briefly) for a client stream's first message, read and dropped.

    A grpc-python client still writing its first message when the call ends can report INTERNAL
    "Internal error from Core" instead of the status the server sent; once the first message is in,
    the refusal arrives as it was sent. The wait is short, and the message is dropped unread.
    """
    with contextlib.suppress(Exception):
        await asyncio.wait_for(anext(aiter(requests), None), _FIRST_MESSAGE_WAIT_S)


def _refusal(handler: Handler | None, error: PrizmError) -> Handler:
    """A handler of the same kind as `handler` that ends the call with `error`."""
    streamed = handler is not None and handler.request_streaming

    async def unary(request: Any, context: Context) -> Any:
        if streamed:
            await _first_sent(request)
        await context.abort_with_status(error.to_status())

    async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
        if streamed:
            await _first_sent(request)
        await context.abort_with_status(error.to_status())
        yield None  # pragma: no cover - abort raises

    if handler is None:  # an unknown method: a stranger learns nothing, not even that it is unknown
        return grpc.unary_unary_rpc_method_handler(unary)
    return _with(handler, stream if handler.response_streaming else unary)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call but health checks and hands its `Identity` to the handler."""

    def __init__(self, authenticator: Authenticator) -> None:
        """Uses `authenticator` for every call."""
        self.authenticator = authenticator
        self.owners = _Owners()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """Refuses the call, or returns its handler run as the authenticated caller."""
        method = handler_call_details.method
        handler = await continuation(handler_call_details)
        if method.startswith(_OPEN_PREFIX) or method in _OPEN_METHODS:
            return handler
        try:
            identity = self.authenticator.identify(tuple(handler_call_details.invocation_metadata or ()))
            _authorize(identity, method)
            check_rate(identity)
        except PrizmError as exc:
            # The reason and a method we serve only: never the credential, nor a path a caller made up.
            shown = method if handler is not None else "an unknown method"
            log.warning("refused a call to %s: %s %s", shown, exc.code.name, exc.reason)
            return _refusal(handler, exc)
        if handler is None:
            return None
        behavior = getattr(handler, _field(handler))
        if handler.response_streaming:
            return _with(handler, _streaming_as(identity, behavior))
        if method in REGISTRATION_METHODS:
            return _with(handler, self._lease_as(identity, method, behavior))
        return _with(handler, _unary_as(identity, behavior))

    def _lease_as(self, identity: Identity, method: str, behavior: Behavior) -> Behavior:
        """A (de)registration run as `identity`, refused for an address another token registered."""

        async def run(request: Any, context: Context) -> Any:
            set_identity(identity)
            try:
                address = self.owners.check(identity, request)
            except PrizmError as exc:
                log.warning("refused a call to %s: %s %s", method, exc.code.name, exc.reason)
                await context.abort_with_status(exc.to_status())
            answer = await behavior(request, context)
            if address is not None and not context.cancelled():
                self.owners.done(identity, method, address)
            return answer

        return run


def _unary_as(identity: Identity, behavior: Behavior) -> Behavior:
    async def run(request: Any, context: Context) -> Any:
        set_identity(identity)
        return await behavior(request, context)

    return run


def _streaming_as(identity: Identity, behavior: Behavior) -> Behavior:
    async def run(request: Any, context: Context) -> AsyncIterator[Any]:
        # An async generator's body runs in its consumer's context: that of the call's task.
        set_identity(identity)
        async for item in behavior(request, context):
            yield item

    return run


def _loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_exposure(host: str, config: AuthConfig) -> str:
    """Refuses to serve a non-loopback address with auth off, unless `insecure`; returns what to log.

    Raises:
        ConfigError: `host` is not loopback, auth is off and `insecure` is not set.
    """
    if config.enabled:
        return "auth is on: every call but health checks needs a credential"
    if _loopback(host):
        return f"auth is off: listening on loopback ({host}) only; configure auth: to serve other hosts"
    if not config.insecure:
        raise ConfigError(
            f"refusing to listen on {host} with auth off: anyone who reaches it could use it and run "
            "up costs; configure auth: (see docs/security.md), listen on 127.0.0.1, or pass --insecure "
            "if something in front of the router checks callers"
        )
    return f"auth is off and --insecure is set: listening on {host} for anyone who reaches it"


def auth_interceptors(config: AuthConfig) -> list[grpc.aio.ServerInterceptor]:
    """The router's auth interceptor, to put last in its list; none with auth off.

    Raises:
        ConfigError: The JWKS file cannot be used.
    """
    return [AuthInterceptor(Authenticator(config))] if config.enabled else []
