"""What `prizm provider add SPEC` accepts: a pip requirement, a local folder, or a git repository at a ref."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement

from prizm_core.installed.store import InstallError

__all__ = ["GitSource", "PathSource", "PipSource", "Source", "SpecError", "parse_spec"]

# URL schemes git clones from; `git+` in front of any of them is pip's spelling of the same.
_GIT_SCHEMES = ("https", "http", "ssh", "git", "file")
_PATH_PREFIXES = ("/", "./", "../", "~")


class SpecError(InstallError):
    """A spec that is not one of the accepted forms, or a ref that is not pinned."""


@dataclass(frozen=True)
class PipSource:
    """A requirement pip resolves (`prizm-sox-effects==0.1.0`, `name @ https://…/x.whl`)."""

    requirement: Requirement


@dataclass(frozen=True)
class PathSource:
    """A local folder: a Python project, or one holding a `prizm.service.yml`."""

    path: Path


@dataclass(frozen=True)
class GitSource:
    """A git repository at a ref (`ref` empty when the spec named none).

    Attributes:
        url: What `git clone` is given: a URL, or a local repository's absolute path.
        ref: The tag, commit or (refused unless allowed) branch after `@`.
        name: The distribution name a PEP 508 spec gave (`name @ git+…`), else empty.
    """

    url: str
    ref: str
    name: str = ""


Source = PipSource | PathSource | GitSource


def _git_url(text: str, name: str = "") -> GitSource:
    """`[git+]scheme://host/path[@ref][#fragment]`: the ref is after the path's last `@`."""
    parts = urlsplit(text.removeprefix("git+"))
    if parts.scheme not in _GIT_SCHEMES or not (parts.netloc or parts.path):
        raise SpecError(f"not a git URL: {text!r} (schemes: {', '.join(_GIT_SCHEMES)})")
    path, at, ref = parts.path.rpartition("@")
    if not at:
        path, ref = parts.path, ""
    if at and not ref:
        raise SpecError(f"{text!r}: nothing after '@': name a tag or a commit")
    # A `#egg=` fragment is pip's; git has no use for it.
    return GitSource(urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), ref, name)


def _local(text: str, cwd: Path) -> Source:
    """A folder (`./provider`), or a local repository at a ref (`../repo@v1.0`)."""
    whole = (cwd / Path(text).expanduser()).resolve()
    if whole.is_dir():
        return PathSource(whole)
    folder, at, ref = text.rpartition("@")
    repository = (cwd / Path(folder).expanduser()).resolve() if at else whole
    if at and repository.is_dir():
        if not ref:
            raise SpecError(f"{text!r}: nothing after '@': name a tag or a commit")
        return GitSource(str(repository), ref)
    if whole.exists():
        raise SpecError(f"not a folder: {whole} (for a wheel or an archive, give `NAME @ file://{whole}`)")
    raise SpecError(f"no such folder: {repository}")


def parse_spec(text: str, cwd: Path) -> Source:
    """Reads a spec of `prizm provider add`; nothing is fetched.

    Args:
        text: A pip requirement, a folder (absolute, `./x`, `../x`, `~/x`, or any existing
            folder), a folder or URL of a git repository with `@TAG` or `@COMMIT`
            (`git+https://host/o/r@v1`, `https://github.com/o/r@v1`, `git+file:///srv/r@v1.0`,
            `../repo@v1.0`), or `name @ git+URL@REF`.
        cwd: The folder relative paths start from.

    Returns:
        Where the provider comes from.

    Raises:
        SpecError: The text is none of these.
    """
    text = text.strip()
    if not text:
        raise SpecError("empty spec: give a pip requirement, a folder or a git URL with @TAG")
    if text.startswith("git+") or urlsplit(text).scheme in _GIT_SCHEMES:
        return _git_url(text)
    if text.startswith(_PATH_PREFIXES) or (cwd / text).exists():
        return _local(text, cwd)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise SpecError(f"not a pip requirement, a folder or a git URL: {text!r} ({exc})") from None
    if requirement.url and requirement.url.startswith("git+"):
        return _git_url(requirement.url, requirement.name)
    return PipSource(requirement)
