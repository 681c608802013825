"""The pieces of container services that need no engine: GPU listing, base images, lookup, probes."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from prizm_core.services import containers
from prizm_core.services.containers import engine_socket
from prizm_core.services.gpu import parse_gpu_query
from prizm_core.services.images import base_images, build_plan, download_wheels
from prizm_core.services.locate import ServiceNotFoundError, find_manifest, search_folders
from prizm_core.services.manifest import MANIFEST_FILE, HealthCheck, load_manifest
from prizm_core.services.probes import describe, from_label, probe, to_label

MANIFEST = """\
name: {name}
version: 1.0.0
image: prizm/{name}:1
port: 8080
health: {{http: /}}
capabilities: [text-to-audio]
adapter: {{kind: cog}}
"""


def test_nvidia_smi_output_is_read_as_devices_with_their_memory() -> None:
    text = "0, NVIDIA H100 80GB HBM3, 81559\n1, Tesla T4, 15360\nNo devices were found\n2, GPU, [N/A]\n"
    gpus = parse_gpu_query(text)
    assert [(gpu.index, gpu.name, gpu.memory_gb) for gpu in gpus] == [
        (0, "NVIDIA H100 80GB HBM3", 85.5),
        (1, "Tesla T4", 16.1),
    ]
    assert parse_gpu_query("") == []


def test_base_images_fill_in_build_arguments_and_skip_stages() -> None:
    dockerfile = """\
ARG BASE=prizm/base:bookworm
ARG TOOLS
FROM --platform=linux/amd64 ${BASE} AS build
RUN true
FROM $TOOLS
from build as final
FROM scratch
"""
    assert base_images(dockerfile, {"TOOLS": "prizm/base:tools"}) == [
        "prizm/base:bookworm",
        "prizm/base:tools",
    ]
    assert base_images(dockerfile, {"BASE": "debian:12", "TOOLS": "x"}) == ["debian:12", "x"]


def test_a_compose_service_build_is_read_from_its_file(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  stt:\n    build:\n      context: app\n      dockerfile: Dockerfile.cpu\n"
        "      args: [VOICE=joe, EMPTY=]\n  web: {build: .}\n",
        encoding="utf-8",
    )
    (tmp_path / "app" / "Dockerfile.cpu").write_text("FROM prizm/base:bookworm\n", encoding="utf-8")
    text = MANIFEST.format(name="stt") + "build: {compose: {file: docker-compose.yml, service: stt}}\n"
    (tmp_path / MANIFEST_FILE).write_text(text, encoding="utf-8")
    manifest = load_manifest(tmp_path / MANIFEST_FILE)
    assert manifest.build is not None
    plan = build_plan(manifest.directory, manifest.build)
    assert (plan.context, plan.dockerfile, dict(plan.args)) == (
        (tmp_path / "app").resolve(),
        "Dockerfile.cpu",
        {"VOICE": "joe", "EMPTY": ""},
    )


def test_wheels_already_downloaded_are_not_downloaded_again(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / ".prizm-requirements").write_text("piper-tts==1.8.0", encoding="utf-8")
    said: list[str] = []
    download_wheels("svc", tmp_path, ["piper-tts==1.8.0"], said.append)
    assert said == [f"wheels: cached in {tmp_path / 'wheels'}"]
    download_wheels("svc", tmp_path, [], said.append)
    assert len(said) == 1


def _service(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True)
    (folder / MANIFEST_FILE).write_text(MANIFEST.format(name=name), encoding="utf-8")
    return folder / MANIFEST_FILE


def test_a_service_is_found_by_path_folder_or_name_in_search_order(tmp_path: Path) -> None:
    own = _service(tmp_path / "mine" / "tts", "tts")
    home = _service(tmp_path / "home" / "services" / "tts-repo", "tts")
    local = _service(tmp_path / "cwd" / "services" / "stt", "stt")
    example = _service(tmp_path / "cwd" / "services" / "examples" / "gpu", "gpu-demo")
    environ = {
        "PRIZM_SERVICE_PATH": f"{tmp_path / 'nowhere'}:{tmp_path / 'mine'}",
        "PRIZM_HOME": str(tmp_path / "home"),
    }
    cwd = tmp_path / "cwd"
    assert search_folders(environ, cwd)[1:] == [
        tmp_path / "mine",
        tmp_path / "home" / "services",
        cwd / "services",
        cwd / "services" / "examples",
    ]
    assert find_manifest("tts", environ, cwd) == own  # PRIZM_SERVICE_PATH comes first
    assert find_manifest("tts", {"PRIZM_HOME": str(tmp_path / "home")}, cwd) == home  # by its `name:`
    assert find_manifest("stt", environ, cwd) == local
    assert find_manifest("gpu-demo", environ, cwd) == example
    assert find_manifest(str(example.parent), environ, cwd) == example
    assert find_manifest(str(example), environ, cwd) == example
    with pytest.raises(ServiceNotFoundError, match=r"no service 'nope'.*services/examples"):
        find_manifest("nope", environ, cwd)
    with pytest.raises(ServiceNotFoundError, match=r"holds no prizm\.service\.yml"):
        find_manifest(str(tmp_path), environ, cwd)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/up" else 503)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_http_probe_is_up_only_on_2xx(health_server: str) -> None:
    assert probe(health_server, HealthCheck(http="/up"))
    assert not probe(health_server, HealthCheck(http="/down"))
    assert not probe("127.0.0.1:1", HealthCheck(http="/up"), timeout_s=0.5)


def test_a_grpc_probe_of_nothing_is_down_and_checks_round_trip_through_labels() -> None:
    assert not probe("127.0.0.1:1", HealthCheck(grpc=""), timeout_s=0.5)
    for check in (
        HealthCheck(http="/health-check"),
        HealthCheck(grpc="prizm.v1.ModelService"),
        HealthCheck(grpc=""),
    ):
        assert from_label(to_label(check)) == check
    assert from_label("tcp:5000") is None
    assert describe(HealthCheck(grpc="x")) == 'gRPC health check of "x"'


def test_prizms_own_engine_is_found_only_when_no_other_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(containers, "_DEFAULT_SOCKET", str(tmp_path / "no-such.sock"))
    home = tmp_path / "engine"
    environ = {"PRIZM_DOCKER_HOME": str(home)}
    assert engine_socket(environ) is None  # no socket there yet
    home.mkdir()
    (home / "docker.sock").touch()
    assert engine_socket(environ) == f"unix://{home}/docker.sock"
    assert engine_socket({**environ, "DOCKER_HOST": "unix:///elsewhere.sock"}) is None
    assert engine_socket({"XDG_CACHE_HOME": str(tmp_path)}) is None
    (tmp_path / "prizm" / "docker").mkdir(parents=True)
    (tmp_path / "prizm" / "docker" / "docker.sock").touch()
    assert engine_socket({"XDG_CACHE_HOME": str(tmp_path)}) == f"unix://{tmp_path}/prizm/docker/docker.sock"
    monkeypatch.setattr(containers, "_DEFAULT_SOCKET", str(home / "docker.sock"))
    assert engine_socket(environ) is None  # Docker's own default socket is there: docker.from_env uses it
