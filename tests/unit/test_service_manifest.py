"""`prizm.service.yml`: every shape loads, each mistake names its field and line, the schema is current."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import grpc
import pytest

from prizm_core.errors import Reason
from prizm_core.services.manifest import MANIFEST_FILE, ManifestError, ServiceManifest, load_manifest
from prizm_core.services.schema import SCHEMA_PATH, main, schema_text

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
name: tiny
version: 1.0.0
image: prizm/tiny:1
port: 8080
health: {http: /health}
capabilities: [text-to-audio]
adapter: {kind: cog}
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / MANIFEST_FILE
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _load(folder: Path, text: str) -> ServiceManifest:
    return load_manifest(_write(folder, text))


def test_an_image_only_manifest_loads_with_its_defaults(tmp_path: Path) -> None:
    manifest = _load(tmp_path, MINIMAL)
    assert (manifest.name, manifest.image, manifest.port, manifest.port_env) == (
        "tiny",
        "prizm/tiny:1",
        8080,
        None,
    )
    assert manifest.build is None and manifest.command is None
    assert (manifest.health.http, manifest.health.grpc) == ("/health", None)
    assert (manifest.health.interval_s, manifest.health.start_timeout_s) == (0.5, 300)
    assert manifest.requirements.gpus == 0 and manifest.requirements.memory is None
    assert manifest.directory == tmp_path.resolve()


def test_a_dockerfile_build_with_every_field_loads(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile.gpu").write_text("FROM prizm/base:bookworm\n", encoding="utf-8")
    manifest = _load(
        tmp_path,
        """\
        # yaml-language-server: $schema=../service.schema.json
        name: piper-tts
        version: "1.0"
        description: Neural text-to-speech
        image: registry.example:5000/prizm/piper-tts:1.0.0
        build:
          context: ctx
          dockerfile: Dockerfile.gpu
          args: {PY: 3.11, DEBUG: true}
          wheels: [piper-tts==1.8.0]
        port_env: PORT
        command: [python3, -m, server]
        health: {grpc: "", interval_s: 0.1, start_timeout_s: 20}
        capabilities: [TEXT_TO_AUDIO, audio-to-text]
        adapter: {kind: provider, entry_point: piper}
        requirements: {gpus: all, gpu_memory_gb: 8, memory: 1.5GiB, cpus: 0.5}
        environment: {VOICE: joe, THREADS: 2, FAST: false}
        volumes: [{source: ./models, target: /models, read_only: true}]
        """,
    )
    assert manifest.build is not None
    assert (manifest.build.context, manifest.build.dockerfile) == ("ctx", "Dockerfile.gpu")
    assert manifest.build.args == {"PY": "3.11", "DEBUG": "true"}
    assert manifest.build.wheels == ("piper-tts==1.8.0",)
    assert (manifest.port, manifest.port_env, manifest.command) == (None, "PORT", ("python3", "-m", "server"))
    assert (manifest.health.http, manifest.health.grpc) == (None, "")
    assert manifest.capabilities == ("text-to-audio", "audio-to-text")
    assert (manifest.adapter.kind, manifest.adapter.entry_point) == ("provider", "piper")
    wanted = manifest.requirements
    assert (wanted.gpus, wanted.gpu_memory_gb, wanted.memory, wanted.cpus) == ("all", 8, 3 << 29, 0.5)
    assert manifest.environment == {"VOICE": "joe", "THREADS": "2", "FAST": "false"}
    assert [(v.source, v.target, v.read_only) for v in manifest.volumes] == [("./models", "/models", True)]


def test_a_compose_build_and_an_http_adapter_load(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {stt: {build: .}}\n", encoding="utf-8")
    (tmp_path / "http_api.yaml").write_text("id: stt\n", encoding="utf-8")
    manifest = _load(
        tmp_path,
        MINIMAL.replace(
            "image: prizm/tiny:1",
            "image: prizm/stt:2\nbuild: {compose: {file: docker-compose.yml, service: stt}}",
        ).replace("{kind: cog}", "{kind: http, config: http_api.yaml}"),
    )
    assert manifest.build is not None and manifest.build.compose is not None
    assert (manifest.build.compose.file, manifest.build.compose.service, manifest.build.dockerfile) == (
        "docker-compose.yml",
        "stt",
        None,
    )
    assert (manifest.adapter.kind, manifest.adapter.config) == ("http", "http_api.yaml")


def test_memory_sizes_are_read_as_bytes(tmp_path: Path) -> None:
    sizes = {"512m": 512 << 20, "2g": 2 << 30, "2GB": 2 << 30, "8192k": 8 << 20, "67108864": 1 << 26}
    for text, expected in sizes.items():
        value = text if not text.isdigit() else int(text)
        manifest = _load(tmp_path, MINIMAL + f"requirements: {{memory: {value}}}\n")
        assert manifest.requirements.memory == expected, text


# (what the file says, the line, the field and words of the message expected)
BAD = [
    ("name: Tiny\n", 1, "name", "should match pattern"),
    ("version: 1.0\n", 2, "version", "valid string"),
    ("image: Prizm Tiny\n", 3, "image", "not an image reference"),
    ("port: 70000\n", 4, "port", "less than or equal to 65535"),
    ("health: {http: health}\n", 5, "health.http", "should match pattern '^/'"),
    ("health: {http: /h, grpc: x}\n", 5, "health.http", "exactly one of `http` and `grpc`"),
    ("health: {interval_s: 1}\n", 5, "health.http", "exactly one of `http` and `grpc`"),
    ("health:\n  http: /h\n  interval_s: 0\n", 7, "health.interval_s", "greater than 0"),
    ("capabilities: [text-to-audio, text-to-audo]\n", 6, "capabilities.1", "did you mean text-to-audio"),
    ("capabilities: []\n", 6, "capabilities", "at least 1 item"),
    ("capabilities: [text-to-audio, TEXT_TO_AUDIO]\n", 6, "capabilities", "names a capability twice"),
    ("adapter: {kind: docker}\n", 7, "adapter.kind", "'cog', 'http' or 'provider'"),
    ("adapter:\n  kind: http\n", 7, "adapter.config", "required with kind http"),
    ("adapter:\n  kind: http\n  config: nope.yaml\n", 9, "adapter.config", "no such file: nope.yaml"),
    ("adapter:\n  kind: provider\n", 7, "adapter.entry_point", "required with kind provider"),
    ("adapter:\n  kind: cog\n  entry_point: piper\n", 9, "adapter.entry_point", "not used with kind cog"),
]


def _replace(field_yaml: str) -> str:
    """MINIMAL with the top-level field of `field_yaml` replaced by it (same line, later lines shift)."""
    field = field_yaml.split(":", 1)[0]
    lines = MINIMAL.splitlines(keepends=True)
    return "".join(field_yaml if line.startswith(f"{field}:") else line for line in lines)


@pytest.mark.parametrize(("change", "line", "field", "words"), BAD)
def test_a_bad_field_is_named_with_its_line(
    tmp_path: Path, change: str, line: int, field: str, words: str
) -> None:
    path = _write(tmp_path, _replace(change))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert str(caught.value).splitlines() == [str(caught.value.problems[0])]
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), line, field), str(caught.value)
    assert words in problem.message, str(caught.value)


# Fields appended after MINIMAL's 7 lines: (text, line, field, words).
ADDED = [
    ("ports: [5000]\n", 8, "ports", "Extra inputs are not permitted"),
    ("port_env: 1PORT\n", 8, "port_env", "should match pattern"),
    ("command: []\n", 8, "command", "at least 1 item"),
    ("build: {context: ., dockerfile: Dockerfile}\n", 3, "image", "must name a tag"),
    ("requirements:\n  gpus: -1\n", 9, "requirements.gpus", "whole number of GPUs"),
    ("requirements:\n  memory: 2x\n", 9, "requirements.memory", "'2x' is not a size"),
    ("requirements:\n  memory: 1k\n", 9, "requirements.memory", "at least 4m"),
    ("requirements:\n  cpus: 0\n", 9, "requirements.cpus", "greater than 0"),
    ("requirements:\n  gpu_memory_gb: 8\n", 9, "requirements.gpu_memory_gb", "needs `gpus`"),
    ("environment:\n  OK: 1\n  1BAD: x\n", 10, "environment.1BAD", "should match pattern"),
    ("environment:\n  LIST: [1, 2]\n", 9, "environment.LIST", "a string, a number or a boolean"),
    ("volumes:\n  - source: ./m\n    target: models\n", 10, "volumes.0.target", "should match pattern '^/'"),
    ("volumes:\n  - {target: /m}\n", 9, "volumes.0.source", "Field required"),
    ("health2: x\nport: 1\n", 9, "port", "given twice"),
]


@pytest.mark.parametrize(("added", "line", "field", "words"), ADDED)
def test_an_added_bad_field_is_named_with_its_line(
    tmp_path: Path, added: str, line: int, field: str, words: str
) -> None:
    # A build needs a tag to give its image: only that case leaves the tag out.
    text = MINIMAL.replace("prizm/tiny:1", "prizm/tiny") if "must name a tag" in words else MINIMAL
    (tmp_path / "Dockerfile").write_text("FROM prizm/base:bookworm\n", encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        _load(tmp_path, text + added)
    found = [(p.line, p.field) for p in caught.value.problems if words in p.message]
    assert (line, field) in found, str(caught.value)


def test_build_needs_exactly_one_way_and_its_files(tmp_path: Path) -> None:
    # The missing `dockerfile` is reported on the `build:` line (8); the others on their own.
    cases = {
        "build: {context: .}\n": (8, "build.dockerfile", "exactly one of `dockerfile` and `compose`"),
        "build: {dockerfile: Nope}\n": (8, "build.dockerfile", "no such file in the context: Nope"),
        "build:\n  context: gone\n  dockerfile: D\n": (9, "build.context", "no such folder: gone"),
        "build:\n  compose: {file: c.yml, service: s}\n": (9, "build.compose.file", "no such file: c.yml"),
        "build:\n  compose: {file: D, service: s}\n  args: {A: 1}\n": (10, "build.args", "from the Compose"),
    }
    (tmp_path / "D").write_text("FROM scratch\n", encoding="utf-8")
    for added, (line, field, words) in cases.items():
        with pytest.raises(ManifestError) as caught:
            _load(tmp_path, MINIMAL + added)
        problems = [(p.line, p.field, p.message) for p in caught.value.problems]
        assert len(problems) == 1 and problems[0][:2] == (line, field), str(caught.value)
        assert words in problems[0][2], str(caught.value)


def test_every_problem_of_a_file_gets_its_own_line_in_file_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "name: A\nversion: 1\nimage: X y\nhealth: {}\ncapabilities: [nope]\nadapter: {kind: cog}\n"
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    lines = str(caught.value).splitlines()
    assert lines == [str(problem) for problem in caught.value.problems]
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (1, "name"),
        (2, "version"),
        (3, "image"),
        (4, "health.http"),
        (5, "capabilities.0"),
    ]
    assert all(line.startswith(f"{path}:") for line in lines)


def test_not_yaml_not_a_mapping_and_no_file_are_manifest_errors(tmp_path: Path) -> None:
    cases = {
        "name: x\nversion: [1\n": (3, "(yaml)", "not valid YAML"),
        "- a list\n": (1, "(manifest)", "must be a mapping"),
    }
    for text, (line, field, words) in cases.items():
        with pytest.raises(ManifestError) as caught:
            _load(tmp_path, text)
        problem = caught.value.problems[0]
        assert (problem.line, problem.field) == (line, field) and words in problem.message, str(caught.value)
    with pytest.raises(ManifestError, match=r"missing\.yml:1: \(file\): cannot read it"):
        load_manifest(tmp_path / "missing.yml")


def test_a_manifest_error_crosses_an_rpc_as_manifest_invalid(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        _load(tmp_path, _replace("health: {http: h}\n"))
    error = caught.value.to_prizm_error()
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, Reason.MANIFEST_INVALID)
    assert list(error.field_violations) == [("health.http", "String should match pattern '^/'")]
    assert f"{MANIFEST_FILE}:5: health.http" in error.message


def test_the_json_schema_is_current_and_strict() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "run: python -m prizm_core.services.schema"
    )
    assert main(["--check"]) == 0
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "version", "image", "health", "capabilities", "adapter"}
    assert "text-to-audio" in schema["properties"]["capabilities"]["items"]["enum"]
    assert set(schema["$defs"]["Requirements"]["properties"]) == {"gpus", "gpu_memory_gb", "memory", "cpus"}


def test_the_check_fails_on_a_stale_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "service.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr("prizm_core.services.schema.SCHEMA_PATH", stale)
    assert main(["--check"]) == 1
    assert main([]) == 0
    assert stale.read_text(encoding="utf-8") == schema_text()


def _shipped() -> list[Path]:
    return sorted(ROOT.glob(f"services/*/{MANIFEST_FILE}")) + sorted(
        ROOT.glob(f"services/examples/*/{MANIFEST_FILE}")
    )


@pytest.mark.parametrize("path", _shipped(), ids=lambda path: str(path.parent.relative_to(ROOT)))
def test_every_shipped_manifest_validates(path: Path) -> None:
    manifest = load_manifest(path)
    assert manifest.name and manifest.capabilities
    assert manifest.directory == path.parent.resolve()


def test_the_gpu_examples_are_there_and_want_a_gpu() -> None:
    examples = {
        path.parent.name: load_manifest(path) for path in ROOT.glob(f"services/examples/*/{MANIFEST_FILE}")
    }
    assert {"whisper", "sdxl"} <= set(examples)
    assert examples["whisper"].capabilities == ("audio-to-text",)
    assert examples["sdxl"].capabilities == ("text-to-image",)
    for manifest in examples.values():
        assert manifest.requirements.gpus == 1 and manifest.adapter.kind == "cog"
        assert "@sha256:" in manifest.image  # pinned: the same bytes on every machine
        assert (manifest.directory / "README.md").is_file()
