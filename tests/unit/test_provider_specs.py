"""`prizm provider add` specs: their forms, the pin rules on git refs, and added providers as sidecars."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from prizm_core.config import SERVICE_MANIFEST_ENV, RouterConfig, SidecarSpec
from prizm_core.installed import (
    GitSource,
    Installed,
    Origin,
    PathSource,
    PipSource,
    Store,
    parse_spec,
    prizm_home,
    with_installed,
)
from prizm_core.installed.git import checkout, pinned_commit
from prizm_core.installed.specs import SpecError


@pytest.mark.parametrize(
    ("spec", "url", "ref"),
    [
        ("git+https://github.com/o/r@v1.0", "https://github.com/o/r", "v1.0"),
        ("https://github.com/o/r@v1", "https://github.com/o/r", "v1"),
        ("git+file:///srv/repo@v0.1.0", "file:///srv/repo", "v0.1.0"),
        # The user in front of the host is not a ref; pip's `#egg=` fragment is dropped.
        ("git+ssh://git@example.org/o/r.git@" + "a" * 40, "ssh://git@example.org/o/r.git", "a" * 40),
        ("git+https://example.org/o/r@v2#egg=r", "https://example.org/o/r", "v2"),
        ("git+https://github.com/o/r", "https://github.com/o/r", ""),
    ],
)
def test_git_urls_split_into_repository_and_ref(spec: str, url: str, ref: str) -> None:
    assert parse_spec(spec, Path("/")) == GitSource(url, ref)


def test_a_pep_508_git_reference_keeps_its_distribution_name() -> None:
    source = parse_spec("prizm-shout @ git+https://example.org/shout@v3", Path("/"))
    assert source == GitSource("https://example.org/shout", "v3", "prizm-shout")


def test_requirements_are_read_by_packaging(tmp_path: Path) -> None:
    source = parse_spec("prizm-sox-effects==0.1.0", tmp_path)
    assert isinstance(source, PipSource)
    assert source.requirement.name == "prizm-sox-effects" and str(source.requirement.specifier) == "==0.1.0"
    assert parse_spec("prizm-x[gpu]>=1,<2", tmp_path) == PipSource(Requirement("prizm-x[gpu]>=1,<2"))


def test_folders_and_local_repositories_at_a_ref(tmp_path: Path) -> None:
    (tmp_path / "provider").mkdir()
    assert parse_spec("./provider", tmp_path) == PathSource(tmp_path / "provider")
    # An existing folder is a folder even without `./`.
    assert parse_spec("provider", tmp_path) == PathSource(tmp_path / "provider")
    assert parse_spec(str(tmp_path / "provider"), Path("/")) == PathSource(tmp_path / "provider")
    assert parse_spec("./provider@v1.0", tmp_path) == GitSource(str(tmp_path / "provider"), "v1.0")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty spec"),
        ("./missing", "no such folder"),
        ("./missing@v1", "no such folder"),
        ("git+https://github.com/o/r@", "nothing after '@'"),
        ("git+ftp://example.org/r@v1", "not a git URL"),
        ("not a requirement!", "not a pip requirement, a folder or a git URL"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(tmp_path: Path, spec: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        parse_spec(spec, tmp_path)


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "x.whl").write_bytes(b"")
    with pytest.raises(SpecError, match=r"not a folder: .*x\.whl \(for a wheel"):
        parse_spec("./x.whl", tmp_path)


def _git(repository: Path, *args: str) -> str:
    identity = ("-c", "user.name=Prizm", "-c", "user.email=prizm@example.org")
    command = ["git", *identity, *args]
    return subprocess.run(command, cwd=repository, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository: `v1.0` on the first commit, `main` one commit ahead of it."""
    folder = tmp_path / "origin"
    folder.mkdir()
    _git(folder, "init", "-q", "-b", "main")
    (folder / "README").write_text("one\n")
    _git(folder, "add", "README")
    _git(folder, "commit", "-qm", "one")
    _git(folder, "tag", "v1.0")
    (folder / "README").write_text("two\n")
    _git(folder, "commit", "-qam", "two")
    return folder


def test_a_tag_and_a_full_sha_are_pins(repository: Path, tmp_path: Path) -> None:
    tagged = _git(repository, "rev-parse", "v1.0^{commit}")
    head = _git(repository, "rev-parse", "HEAD")
    assert pinned_commit(repository, "v1.0", allow_unpinned=False) == tagged
    assert pinned_commit(repository, head, allow_unpinned=False) == head
    # A clone is checked out at the tag's commit, not at the branch's.
    commit = checkout(GitSource(str(repository), "v1.0"), tmp_path / "clone", allow_unpinned=False)
    assert commit == tagged and (tmp_path / "clone" / "README").read_text() == "one\n"


def test_a_branch_or_no_ref_is_refused_unless_allowed(repository: Path, tmp_path: Path) -> None:
    head = _git(repository, "rev-parse", "HEAD")
    with pytest.raises(SpecError, match=rf"'main' is not a tag or a full commit SHA .*here {head}"):
        checkout(GitSource(str(repository), "main"), tmp_path / "a", allow_unpinned=False)
    with pytest.raises(SpecError, match=r"no tag or commit.*--allow-unpinned"):
        checkout(GitSource(str(repository), ""), tmp_path / "b", allow_unpinned=False)
    assert checkout(GitSource(str(repository), "main"), tmp_path / "c", allow_unpinned=True) == head
    assert checkout(GitSource(str(repository), ""), tmp_path / "d", allow_unpinned=True) == head
    # A short SHA could come to name another commit: not a pin either.
    with pytest.raises(SpecError, match="is not a tag or a full commit SHA"):
        pinned_commit(repository, head[:10], allow_unpinned=False)


def test_a_ref_the_repository_lacks_is_named(repository: Path) -> None:
    with pytest.raises(SpecError, match="'v9' is neither a tag, a branch nor a commit"):
        pinned_commit(repository, "v9", allow_unpinned=True)
    with pytest.raises(SpecError, match=f"commit {'0' * 40} is not in the repository"):
        pinned_commit(repository, "0" * 40, allow_unpinned=False)


def test_the_data_directory_follows_the_environment(tmp_path: Path) -> None:
    assert prizm_home({"PRIZM_HOME": str(tmp_path)}) == tmp_path
    assert prizm_home({"XDG_DATA_HOME": "/data"}) == Path("/data/prizm")
    assert prizm_home({}) == Path("~/.local/share/prizm").expanduser()


def _entry(name: str, **fields: object) -> Installed:
    origin = Origin(kind="path", location=f"/src/{name}")
    return Installed(name=name, spec=name, origin=origin, installed_at=datetime.now(UTC), **fields)  # type: ignore[arg-type]


def test_added_providers_become_sidecars_and_keep_the_configs_settings(tmp_path: Path) -> None:
    package = _entry("prizm-fx", kind="package", provides=("fx", "fx-lite"), venv=tmp_path / "fx" / "venv")
    manifest = tmp_path / "tts" / "prizm.service.yml"
    service = _entry("tts", kind="service", provides=("tts",), manifest=manifest)
    store = Store(tmp_path)
    store.save((package, service))
    assert store.entries() == (package, service)
    config = RouterConfig(sidecars=(SidecarSpec("espeak"), SidecarSpec("fx", priority=7, replicas=2)))
    merged = with_installed(config, store.entries())
    python = str(tmp_path / "fx" / "venv" / "bin" / "python")
    assert merged.sidecars == (
        SidecarSpec("espeak"),
        SidecarSpec("fx", priority=7, replicas=2, python=python),
        SidecarSpec("fx-lite", python=python),
        SidecarSpec("container", env=((SERVICE_MANIFEST_ENV, str(manifest)),), label="tts"),
    )
    # Merged twice, nothing is added twice.
    assert with_installed(merged, store.entries()) == merged


def test_a_damaged_registry_is_named(tmp_path: Path) -> None:
    (tmp_path / "providers.json").write_text('{"version": 1, "installed": [{"name": 3}]}')
    with pytest.raises(
        ValueError, match=r"providers\.json: installed\.0\.name: Input should be a valid string"
    ):
        Store(tmp_path).entries()


def test_a_second_holder_of_the_lock_waits_for_the_first(tmp_path: Path) -> None:
    store, order = Store(tmp_path), []

    def second() -> None:
        with store.locked():
            order.append("second")

    with store.locked():
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(0.3)
        # Still waiting: `add` and `remove` never interleave their registry updates.
        assert waiting.is_alive() and order == []
        order.append("first")
    waiting.join(5)
    assert order == ["first", "second"]
