"""Git checkouts pinned to a tag or a full commit: a branch moves, so it is refused unless allowed."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from prizm_core.installed.specs import GitSource, SpecError
from prizm_core.installed.store import InstallError

__all__ = ["checkout", "pinned_commit"]

_FULL_SHA = re.compile(r"[0-9a-f]{40}")
# A clone of a large repository on a slow link takes minutes; a hung one must not hang `add`.
_GIT_TIMEOUT_S = 600


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # No prompt for credentials: a private URL fails at once instead of waiting on a terminal.
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C"}
    try:
        return subprocess.run(
            ["git", *args],  # noqa: S607 - git from PATH, as a person runs it
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
            env={**os.environ, **env},
        )
    except FileNotFoundError:
        raise InstallError("git is not installed (Debian: apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise InstallError(f"git {args[0]} took over {_GIT_TIMEOUT_S} s") from None


def _commit_of(repository: Path, ref: str) -> str:
    found = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repository)
    return found.stdout.strip() if found.returncode == 0 else ""


def pinned_commit(repository: Path, ref: str, *, allow_unpinned: bool) -> str:
    """The commit `ref` names in a clone, if `ref` is a pin (a tag or a full commit SHA).

    Args:
        repository: A clone of the source repository.
        ref: What the spec named after `@` ("" for nothing).
        allow_unpinned: Accept a branch or no ref (`--allow-unpinned`).

    Returns:
        The full SHA of the commit to install.

    Raises:
        SpecError: `ref` is a branch or missing (not allowed), or names nothing in the repository.
    """
    if _FULL_SHA.fullmatch(ref):
        commit = _commit_of(repository, ref)
        if not commit:
            raise SpecError(f"commit {ref} is not in the repository")
        return commit
    if ref and _git("show-ref", "--verify", "--quiet", f"refs/tags/{ref}", cwd=repository).returncode == 0:
        return _commit_of(repository, f"refs/tags/{ref}")
    branch = f"refs/remotes/origin/{ref}" if ref else "HEAD"
    commit = _commit_of(repository, branch) or (_commit_of(repository, ref) if ref else "")
    if not commit:
        raise SpecError(f"{ref!r} is neither a tag, a branch nor a commit of the repository")
    if not allow_unpinned:
        named = f"{ref!r} is not a tag or a full commit SHA (a branch moves)" if ref else "no tag or commit"
        raise SpecError(
            f"{named}: pin one with @TAG or @COMMIT (40 hex digits, here {commit}), or pass --allow-unpinned"
        )
    return commit


def checkout(source: GitSource, into: Path, *, allow_unpinned: bool) -> str:
    """Clones `source` into `into` and checks out its pinned commit.

    Args:
        source: The repository and ref.
        into: An empty or missing folder.
        allow_unpinned: Accept a branch or no ref.

    Returns:
        The commit checked out (full SHA).

    Raises:
        InstallError: The clone failed (its message attached) or the ref is not a pin.
    """
    cloned = _git("clone", "--quiet", "--no-checkout", "--", source.url, str(into))
    if cloned.returncode != 0:
        raise InstallError(f"cannot clone {source.url}: {cloned.stderr.strip()}")
    commit = pinned_commit(into, source.ref, allow_unpinned=allow_unpinned)
    checked = _git("-c", "advice.detachedHead=false", "checkout", "--quiet", commit, cwd=into)
    if checked.returncode != 0:
        raise InstallError(f"cannot check out {commit} of {source.url}: {checked.stderr.strip()}")
    return commit
