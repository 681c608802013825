"""Caller authentication on the router: API keys, JWTs, client certificates, the operator-only control plane.

Every call but a health check carries `authorization: Bearer <credential>`: an API key (its SHA-256
is looked up in the config and its keys file), a registration token (likewise), or a JWT verified
against the JWKS file; or, with none, a verified client certificate that `auth.certificates` maps to
a caller (known only once the call runs: its auth context). The interceptor runs last of the router's
interceptors, so that logs, traces and metrics see its refusals; it refuses with UNAUTHENTICATED or
PERMISSION_DENIED before the handler's own code runs, counts the caller's request rate, and hands the
caller's `Identity` to the handler (`current_identity`). The credential itself is never logged, put
in an error or kept.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import jwt
from grpc_reflection.v1alpha import reflection
from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config_values import ConfigError
from prizm_core.errors import PrizmError, Reason
from prizm_core.handlers import method_path, refuse
from prizm_core.security.callers import AuthConfig, Identity, JwtConfig, current_identity, hash_key
from prizm_core.security.calls import Behavior, Context, Resolve, behavior_of, refusal, run_as, with_behavior
from prizm_core.security.keyfiles import watch_jwks, watch_keys
from prizm_core.security.limits import CallerLimits, check_rate
from prizm_core.security.peers import caller_of_peer

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

    def __init__(self, config: AuthConfig, clock: Callable[[], float] = time.monotonic) -> None:
        """Indexes the configured key hashes and reads the keys and JWKS files.

        Args:
            config: The `auth:` section (its `api_keys` hold the keys file's too, as read at start).
            clock: Monotonic seconds, for how often the files are looked at.

        Raises:
            ConfigError: The keys or JWKS file cannot be read or holds no usable key.
        """
        self.config = config
        self.limits = {name: CallerLimits(policy) for name, policy in config.callers.items()}
        self.tokens = {token.sha256: token for token in config.registration_tokens}
        self.certificates = config.certificates
        self.keys_file = None
        inline = config.api_keys
        if config.api_keys_file is not None:
            self.keys_file = watch_keys(config.api_keys_file, config.callers, clock)
            # The file's keys come from the file as it is now, not as it was when the config was read.
            inline = tuple(key for key in inline if key.sha256 not in self.keys_file.value.keys)
        self.keys = {key.sha256: key for key in inline}
        self.jwks = watch_jwks(config.jwt, clock) if config.jwt is not None else None

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
        filed = self.keys_file.current() if self.keys_file is not None else None
        if credential.count(".") == 2 and self.jwks is not None and self.config.jwt is not None:
            revoked = filed.revoked_jwt_ids if filed is not None else frozenset()
            return self._from_jwt(credential, self.config.jwt, self.jwks.current(), revoked)
        digest = hash_key(credential)
        key = self.keys.get(digest) or (filed.keys.get(digest) if filed is not None else None)
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

    def from_peer(self, auth_context: Mapping[str, Iterable[bytes]]) -> Identity:
        """The caller a call's verified client certificate stands for (`auth.certificates`).

        Raises:
            PrizmError: UNAUTHENTICATED CREDENTIALS_MISSING: no certificate, or one mapped to no caller.
        """
        name = caller_of_peer(self.certificates, auth_context)
        if name is None:
            raise _unauthenticated(
                Reason.CREDENTIALS_MISSING,
                "this router needs a credential: send `authorization: Bearer <key>`, "
                "or a client certificate that auth.certificates names",
            )
        return self.caller(name)

    def _from_jwt(
        self, token: str, settings: JwtConfig, jwks: jwt.PyJWKSet, revoked: frozenset[str]
    ) -> Identity:
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
        if claims.get("jti") in settings.revoked_ids or claims.get("jti") in revoked:
            raise _unauthenticated(Reason.CREDENTIALS_REVOKED, "this token was revoked")
        name = claims.get(settings.caller_claim)
        if not isinstance(name, str) or name not in self.config.callers:
            raise _unauthenticated(
                Reason.CREDENTIALS_INVALID,
                f"the token's {settings.caller_claim} is not a caller of this router",
            )
        return self.caller(name)


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
        metadata = tuple(handler_call_details.invocation_metadata or ())
        resolve: Resolve
        if handler is None or not self.authenticator.certificates or _has_header(metadata):
            try:
                identity = self._admitted(self.authenticator.identify(metadata), method)
            except PrizmError as exc:
                # The reason and a method we serve only: never the credential, nor a path a caller made up.
                _log_refusal(method if handler is not None else "an unknown method", exc)
                return refusal(handler, exc)
            if handler is None:
                return None
            resolve = lambda _context: identity  # noqa: E731 - known before the call runs
        else:  # a client certificate is in the call's auth context, known once the call runs
            resolve = self._by_certificate(method)
        if method in REGISTRATION_METHODS:
            handler = with_behavior(handler, self._leased(method, behavior_of(handler)))
        return run_as(handler, resolve)

    def _admitted(self, identity: Identity, method: str) -> Identity:
        _authorize(identity, method)
        check_rate(identity)
        return identity

    def _by_certificate(self, method: str) -> Resolve:
        def resolve(context: Context) -> Identity:
            try:
                return self._admitted(self.authenticator.from_peer(context.auth_context()), method)
            except PrizmError as exc:
                _log_refusal(method, exc)
                raise

        return resolve

    def _leased(self, method: str, behavior: Behavior) -> Behavior:
        """A (de)registration refused for an address another registration token registered."""

        async def run(request: Any, context: Context) -> Any:
            identity = current_identity()
            assert identity is not None  # noqa: S101 - run_as set it
            try:
                address = self.owners.check(identity, request)
            except PrizmError as exc:
                _log_refusal(method, exc)
                await refuse(context, exc.to_status())
            answer = await behavior(request, context)
            if address is not None and not context.cancelled():
                self.owners.done(identity, method, address)
            return answer

        return run


def _has_header(metadata: Sequence[tuple[str, str | bytes]]) -> bool:
    return any(key == AUTHORIZATION_HEADER for key, _ in metadata)


def _log_refusal(shown: str, exc: PrizmError) -> None:
    log.warning("refused a call to %s: %s %s", shown, exc.code.name, exc.reason)


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
