"""Credential files read again when they change: `auth.api_keys_file` and `auth.jwt.jwks_file`.

Revoking a key or rotating a signing key must not need a restart. On a call, at most once a second,
each file's inode, size and modification time are compared with those of the version in use; when
they differ the file is read again. A file that cannot be used (half written, a typo) leaves the
last good version in use, with one warning that names the file and the problem, never its contents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, TypeVar

import jwt

from prizm_core.config_values import ConfigError
from prizm_core.security.callers import ApiKey, CallerPolicy, JwtConfig, read_keys_file

__all__ = ["CHECK_INTERVAL_S", "KeyIndex", "Watched", "read_jwks", "watch_jwks", "watch_keys"]

log = logging.getLogger(__name__)

# How often a call may look at the files: a stat each, at most once a second.
CHECK_INTERVAL_S = 1.0
T = TypeVar("T")
Clock = Callable[[], float]
_Stamp = tuple[int, int, int]


def _stamp(path: Path) -> _Stamp:
    try:
        found = path.stat()
    except OSError:
        return (0, 0, 0)
    return (found.st_ino, found.st_size, found.st_mtime_ns)


class Watched(Generic[T]):
    """A file's parsed contents, read again when the file changes (looked at once a second at most)."""

    def __init__(
        self, path: Path, parse: Callable[[Path], T], clock: Clock = time.monotonic, interval_s: float = 1.0
    ) -> None:
        """Reads the file now.

        Args:
            path: The file.
            parse: Reads and checks it; raises ConfigError for a file that cannot be used.
            clock: Monotonic seconds.
            interval_s: The least time between two looks at the file.

        Raises:
            ConfigError: The file cannot be used at start: the router does not start with it.
        """
        self.path = path
        self._parse = parse
        self._clock = clock
        self._interval_s = interval_s
        self._stamp = _stamp(path)
        self.value = parse(path)
        self._checked = clock()

    def current(self) -> T:
        """The contents of the file's last good version, read again first if it changed."""
        now = self._clock()
        if now - self._checked < self._interval_s:
            return self.value
        self._checked = now
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return self.value
        self._stamp = stamp  # a bad version is reported once, not on every call until it is fixed
        try:
            self.value = self._parse(self.path)
        except ConfigError as exc:
            log.warning(
                "%s changed but cannot be used; the version read before stays in use: %s", self.path, exc
            )
        else:
            log.info("reloaded %s", self.path)
        return self.value


class KeyIndex:
    """The keys of an `api_keys_file` by their hash, and the JWT ids it revokes."""

    def __init__(self, keys: tuple[ApiKey, ...], revoked_jwt_ids: tuple[str, ...]) -> None:
        """Indexes `keys` by hash."""
        self.keys = {key.sha256: key for key in keys}
        self.revoked_jwt_ids = frozenset(revoked_jwt_ids)


def watch_keys(
    path: Path, callers: Mapping[str, CallerPolicy], clock: Clock = time.monotonic
) -> Watched[KeyIndex]:
    """The `api_keys_file` at `path`, its callers checked against `callers`.

    Raises:
        ConfigError: It cannot be used at start.
    """

    def parse(found: Path) -> KeyIndex:
        content = read_keys_file(found, callers)
        return KeyIndex(content.api_keys, content.revoked_jwt_ids)

    return Watched(path, parse, clock)


def read_jwks(settings: JwtConfig, path: Path | None = None) -> jwt.PyJWKSet:
    """The signing keys of the JWKS file (public keys only: its errors may name them).

    Raises:
        ConfigError: It cannot be read or holds no usable key.
    """
    path = path or settings.jwks_file
    try:
        return jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"auth.jwt.jwks_file: cannot use {path}: {exc.strerror}") from None
    except (ValueError, jwt.PyJWTError) as exc:
        raise ConfigError(f"auth.jwt.jwks_file: cannot use {path}: {exc}") from None


def watch_jwks(settings: JwtConfig, clock: Clock = time.monotonic) -> Watched[jwt.PyJWKSet]:
    """The JWKS file of `settings`, read again when it changes.

    Raises:
        ConfigError: It cannot be used at start.
    """
    return Watched(settings.jwks_file, lambda path: read_jwks(settings, path), clock)
