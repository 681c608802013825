"""Who may call the router: the `auth:` config section, hashed keys, and the caller of this call.

API keys and registration tokens are stored as the SHA-256 of the key, never the key. A key is 32
random bytes (`new_key`), so a fast hash is as safe as a slow one: nobody can guess 2**256 keys,
and a slow hash (scrypt) would cost every request tens of milliseconds of CPU, a gift to anyone
flooding the router with bad keys. This is what GitHub and PyPI do with their API tokens.
"""

from __future__ import annotations

import contextvars
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic
import yaml

from prizm_core.capabilities import capability_by_name
from prizm_core.config_values import ConfigError, section

if TYPE_CHECKING:
    from prizm_core.security.limits import CallerLimits

__all__ = [
    "CREDENTIAL_HEADERS",
    "KEY_PREFIX",
    "ApiKey",
    "AuthConfig",
    "CallerPolicy",
    "CertificateRule",
    "Identity",
    "JwtConfig",
    "RegistrationToken",
    "auth_section",
    "current_identity",
    "hash_key",
    "load_api_keys_file",
    "new_key",
    "read_keys_file",
    "refuse_credential_headers",
    "set_identity",
]

# Marks a Prizm key (log scanners and secret scanners can find one by it); the rest is random.
KEY_PREFIX = "prizm_"
_SHA256_HEX = r"^[0-9a-f]{64}$"
Sha256 = Annotated[str, pydantic.StringConstraints(pattern=_SHA256_HEX)]
_Name = Annotated[str, pydantic.StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]


def new_key() -> str:
    """A fresh API key or registration token: the prefix and 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The lower-case hex SHA-256 of `key`, as the config stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class ApiKey(_Strict):
    """One API key of a caller, by its hash."""

    caller: _Name
    sha256: Sha256
    # A revoked key is refused with CREDENTIALS_REVOKED (kept, so that its holder is told why).
    revoked: bool = False


class RegistrationToken(_Strict):
    """A token that lets providers register themselves (and deregister what they registered)."""

    name: _Name
    sha256: Sha256
    revoked: bool = False


class JwtConfig(_Strict):
    """Bearer JWTs signed by an identity provider whose public keys are in a JWKS file."""

    jwks_file: Path
    issuer: str = pydantic.Field(min_length=1)
    audience: str = pydantic.Field(min_length=1)
    algorithms: tuple[Literal["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"], ...] = (
        "RS256",
        "ES256",
    )
    # The claim that names the caller (an entry of `callers`).
    caller_claim: str = "sub"
    # Clock skew allowed on `exp` and `nbf`.
    leeway_s: float = pydantic.Field(default=0.0, ge=0.0, le=300.0)
    # `jti` claims of tokens revoked before they expire.
    revoked_ids: tuple[str, ...] = ()


class CallerPolicy(_Strict):
    """What one caller may do; empty lists allow everything."""

    capabilities: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    max_concurrent_jobs: int | None = pydantic.Field(default=None, ge=1)
    requests_per_minute: int | None = pydantic.Field(default=None, ge=1)
    cost_budget_per_day: dict[Annotated[str, pydantic.StringConstraints(pattern=r"^[A-Z]{3}$")], float] = (
        pydantic.Field(default_factory=dict)
    )
    operator: bool = False

    @pydantic.field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(capability_by_name(name).name for name in names)
        except KeyError as exc:
            raise ValueError(f"unknown capability {exc.args[0]!r}") from None

    @pydantic.field_validator("cost_budget_per_day")
    @classmethod
    def _positive_budget(cls, budget: dict[str, float]) -> dict[str, float]:
        if any(amount < 0 for amount in budget.values()):
            raise ValueError("amounts must be ≥ 0")
        return budget


class CertificateRule(_Strict):
    """A verified client certificate (mTLS) that authenticates a caller, by its CN or one of its SANs."""

    caller: _Name
    # The certificate's subject common name, exactly.
    common_name: str | None = pydantic.Field(default=None, min_length=1)
    # One of its subject alternative names (a DNS name, a URI such as spiffe://..., an email), exactly.
    san: str | None = pydantic.Field(default=None, min_length=1)

    @pydantic.model_validator(mode="after")
    def _one_name(self) -> CertificateRule:
        if (self.common_name is None) == (self.san is None):
            raise ValueError("give one of common_name and san")
        return self


class AuthConfig(_Strict):
    """The router's `auth:` section. Without keys, tokens and JWTs, auth is off."""

    api_keys: tuple[ApiKey, ...] = ()
    # More keys, in a YAML file of its own (`api_keys: [...]`), so the config can be shared.
    api_keys_file: Path | None = None
    jwt: JwtConfig | None = None
    callers: dict[_Name, CallerPolicy] = pydantic.Field(default_factory=dict)
    registration_tokens: tuple[RegistrationToken, ...] = ()
    # Client certificates (the router's `tls.client_ca` verifies them) that stand for callers.
    certificates: tuple[CertificateRule, ...] = ()
    # Serve a non-loopback address with auth off (`--insecure`): only behind something that checks.
    insecure: bool = False

    @property
    def enabled(self) -> bool:
        """Whether any credential or caller is configured (then every call but health needs one)."""
        return bool(
            self.api_keys
            or self.api_keys_file
            or self.jwt
            or self.registration_tokens
            or self.callers
            or self.certificates
        )

    @pydantic.model_validator(mode="after")
    def _keys_name_callers(self) -> AuthConfig:
        for field_name, named in (("api_keys", self.api_keys), ("certificates", self.certificates)):
            unknown = sorted({entry.caller for entry in named} - set(self.callers))
            if unknown:
                raise ValueError(f"{field_name} name caller(s) not in callers: {', '.join(unknown)}")
        return self


class KeysFile(_Strict):
    """The `api_keys_file`: keys kept apart from the config, read again when the file changes."""

    api_keys: tuple[ApiKey, ...] = ()
    # `jti` claims of JWTs revoked before they expire, besides `auth.jwt.revoked_ids`.
    revoked_jwt_ids: tuple[str, ...] = ()


def auth_section(data: Mapping[str, Any], source: str, base: Path) -> AuthConfig:
    """The `auth:` section of a config, with the keys of its `api_keys_file` (relative to `base`) added
    and the JWKS file's path made absolute.

    Raises:
        ConfigError: Naming the key path of each problem.
    """
    config = section(AuthConfig, data, "auth", source)
    keys = load_api_keys_file(config, base)
    jwt = config.jwt.model_copy(update={"jwks_file": base / config.jwt.jwks_file}) if config.jwt else None
    # The file's path stays, absolute: the router reads it again when it changes (`keyfiles`).
    keys_file = base / config.api_keys_file if config.api_keys_file else None
    return config.model_copy(update={"api_keys": keys, "api_keys_file": keys_file, "jwt": jwt})


def load_api_keys_file(config: AuthConfig, base: Path | None = None) -> tuple[ApiKey, ...]:
    """The keys of `config.api_keys` and of its `api_keys_file` (relative to `base`).

    Raises:
        ConfigError: The file cannot be read, does not fit, or names a caller not configured.
    """
    if config.api_keys_file is None:
        return config.api_keys
    path = config.api_keys_file if base is None else base / config.api_keys_file
    return config.api_keys + read_keys_file(path, config.callers).api_keys


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong with a YAML file and where, without quoting it (its lines may hold key hashes)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"not valid YAML{where}: {getattr(exc, 'problem', None) or type(exc).__name__}"


def read_keys_file(path: Path, callers: Mapping[str, CallerPolicy]) -> KeysFile:
    """Reads an `api_keys_file`; no error message quotes the file.

    Raises:
        ConfigError: The file cannot be read, does not fit, or names a caller not in `callers`.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"auth.api_keys_file: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"auth.api_keys_file: cannot read {path}: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping with api_keys")
    found = section(KeysFile, {str(path): data}, str(path), "auth.api_keys_file")
    unknown = sorted({key.caller for key in found.api_keys} - set(callers))
    if unknown:
        raise ConfigError(f"{path}: api_keys name caller(s) not in auth.callers: {', '.join(unknown)}")
    return found


# Headers that carry a caller's credential: never relayed to a provider (`forward_metadata`).
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-amz-security-token",
        "prizm-registration-token",
    }
)


def refuse_credential_headers(names: Sequence[str], source: str) -> None:
    """Refuses a `forward_metadata` that would relay a caller's credential to providers.

    Raises:
        ConfigError: Naming the key and the header.
    """
    for index, name in enumerate(names):
        if name in CREDENTIAL_HEADERS or "token" in name or "secret" in name or "api-key" in name:
            raise ConfigError(
                f"{source}: forward_metadata.{index}: {name!r} carries a caller's credential; "
                "it is never relayed to providers (they get their own keys)"
            )


@dataclass(frozen=True)
class Identity:
    """Who the current call comes from, once authenticated.

    Attributes:
        name: The caller's name (its `callers` entry), or the registration token's name.
        policy: What it may do; a registration token has the empty policy.
        registrar: Whether it holds a registration token (and nothing else).
        state: Its limits' running state, shared by all its calls (see `limits.CallerLimits`).
    """

    name: str
    policy: CallerPolicy = field(default_factory=CallerPolicy)
    registrar: bool = False
    state: CallerLimits | None = None

    @property
    def operator(self) -> bool:
        """Whether it may use the control plane."""
        return self.policy.operator and not self.registrar


_IDENTITY: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("prizm_identity", default=None)


def set_identity(identity: Identity | None) -> None:
    """Sets the caller of the current call (gRPC runs an interceptor and its handler in one task)."""
    _IDENTITY.set(identity)


def current_identity() -> Identity | None:
    """The authenticated caller of the current call; None with auth off."""
    return _IDENTITY.get()
