"""The container provider's adapter by the manifest's kind, and what stops it before any container."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prizm_core.services.manifest import load_manifest
from provider_servers.container import ContainerProvider
from provider_servers.container.adapters import adapter_class, build_adapter
from provider_servers.container.contract import EXAMPLE
from provider_servers.http_api.provider import HttpApiProvider
from provider_servers.sdk import Capability


def _service(tmp_path: Path, replace: dict[str, str]) -> Path:
    """A copy of the shout service with parts of its manifest replaced."""
    folder = tmp_path / "service"
    shutil.copytree(EXAMPLE, folder)
    text = (folder / "prizm.service.yml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    (folder / "prizm.service.yml").write_text(text)
    return folder / "prizm.service.yml"


def test_an_http_adapter_calls_the_container_not_the_files_base_url() -> None:
    manifest = load_manifest(EXAMPLE / "prizm.service.yml")
    adapter = build_adapter(manifest, "http://127.0.0.1:4242")
    assert isinstance(adapter, HttpApiProvider) and adapter_class(manifest) is HttpApiProvider
    assert adapter.base_url == "http://127.0.0.1:4242"
    models = [(model.id, model.capabilities) for model in adapter.models()]
    assert [param.name for param in adapter.models()[1].parameters] == ["seconds"]
    assert models == [("shout", (Capability.TEXT_TO_TEXT,)), ("shout-slowly", (Capability.TEXT_TO_TEXT,))]


def test_a_cog_adapter_takes_the_services_name_and_capabilities(tmp_path: Path) -> None:
    manifest = load_manifest(
        _service(
            tmp_path,
            {"kind: http": "kind: cog", "config: http_api.yaml": "", "text-to-text": "text-to-image"},
        )
    )
    adapter = build_adapter(manifest, "http://127.0.0.1:4243")
    assert adapter.id == "shout"
    (model,) = adapter.models()
    assert (model.id, model.capabilities) == ("shout", (Capability.TEXT_TO_IMAGE,))


def test_without_a_manifest_the_provider_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIZM_SERVICE_MANIFEST", raising=False)
    assert ContainerProvider.missing() == ["set PRIZM_SERVICE_MANIFEST to the service's prizm.service.yml"]


def test_an_invalid_manifest_keeps_the_provider_from_starting_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIZM_SERVICE_MANIFEST", str(_service(tmp_path, {"port_env: PORT": "port_env: 9"})))
    (problem,) = ContainerProvider.missing()
    line = (EXAMPLE / "prizm.service.yml").read_text().splitlines().index("port_env: PORT") + 1
    assert problem.endswith(f"prizm.service.yml:{line}: port_env: Input should be a valid string"), problem


def test_an_adapter_entry_point_not_installed_keeps_the_provider_from_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _service(
        tmp_path, {"kind: http": "kind: provider", "config: http_api.yaml": "entry_point: nope"}
    )
    monkeypatch.setenv("PRIZM_SERVICE_MANIFEST", str(manifest))
    assert ContainerProvider.missing() == [
        "no provider entry point 'nope' is installed (group prizm.providers)"
    ]
