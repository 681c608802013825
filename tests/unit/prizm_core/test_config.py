"""The router config file: defaults, providers, sidecars, policies and what is rejected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import (
    ConfigError,
    RouterConfig,
    SidecarSpec,
    StaticProvider,
    default_config_path,
    load_config,
    parse_address,
    parse_config,
    parse_policy,
)
from provider_servers.container.contract import EXAMPLE


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_no_path_gives_the_bare_router() -> None:
    config = load_config(None)
    assert config == RouterConfig()
    assert (config.listen, config.providers, config.sidecars) == ("127.0.0.1:50051", (), ())
    assert config.default_policy == router_pb.ROUTING_POLICY_PRIORITY
    assert (config.reflection, config.grace_s, config.max_attempts, config.lease_s) == (True, 10.0, 3, 30.0)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_empty_file_gives_the_defaults(tmp_config: Path, text: str) -> None:
    assert load_config(_write(tmp_config, text)) == RouterConfig()


def test_full_file(tmp_config: Path) -> None:
    _write(
        tmp_config,
        """
listen: 0.0.0.0:6000
default_policy: least-loaded
reflection: false
grace_s: 2.5
max_attempts: 5
lease_s: 12
startup_wait_s: 45
providers:
  - 127.0.0.1:50061
  - address: "[::1]:50062"
    priority: 10
sidecars:
  - piper
  - provider: pocketsphinx
    replicas: 3
    priority: -5
    args: ["--threads", "2"]
""",
    )
    config = load_config(tmp_config)
    assert config == RouterConfig(
        listen="0.0.0.0:6000",
        providers=(StaticProvider("127.0.0.1:50061", 0), StaticProvider("[::1]:50062", 10)),
        sidecars=(
            SidecarSpec(provider="piper", replicas=1, priority=0, args=()),
            SidecarSpec(provider="pocketsphinx", replicas=3, priority=-5, args=("--threads", "2")),
        ),
        default_policy=router_pb.ROUTING_POLICY_LEAST_LOADED,
        reflection=False,
        grace_s=2.5,
        max_attempts=5,
        lease_s=12.0,
        startup_wait_s=45.0,
    )
    assert isinstance(config.lease_s, float)


def test_the_embedded_default_config_loads() -> None:
    config = load_config(default_config_path())
    assert config.listen == "127.0.0.1:50051"
    assert [s.provider for s in config.sidecars] == [
        "piper",
        "pocketsphinx",
        "espeak",
        "ffmpeg",
        "imaging",
        "ocr",
        "openai",
        "fal",
        "replicate",
        "elevenlabs",
    ]
    assert config.sidecars[0].priority > max(s.priority for s in config.sidecars[1:]), "piper is preferred"
    local = [s for s in config.sidecars if not s.requires_env]
    remote = {s.provider: s for s in config.sidecars if s.requires_env}
    assert {name: s.requires_env for name, s in remote.items()} == {
        "openai": ("OPENAI_API_KEY",),
        "fal": ("FAL_KEY",),
        "replicate": ("REPLICATE_API_TOKEN",),
        "elevenlabs": ("ELEVENLABS_API_KEY",),
    }
    assert max(s.priority for s in remote.values()) < min(s.priority for s in local), "local first"
    # With no key set, `prizm up` starts exactly the local providers, as before remote ones existed.
    assert [s.provider for s in config.sidecars if not s.unset_env({})] == [s.provider for s in local]
    assert config.providers == ()
    assert config.startup_wait_s == 30.0, "a job right after start waits for piper to warm up"


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("priority", router_pb.ROUTING_POLICY_PRIORITY),
        ("cheapest", router_pb.ROUTING_POLICY_CHEAPEST),
        ("least-loaded", router_pb.ROUTING_POLICY_LEAST_LOADED),
        ("LEAST_LOADED", router_pb.ROUTING_POLICY_LEAST_LOADED),
        (" Cheapest ", router_pb.ROUTING_POLICY_CHEAPEST),
    ],
)
def test_policy_by_name(name: str, policy: int) -> None:
    assert parse_policy(name) == policy
    assert parse_config({"default_policy": name}, "test").default_policy == policy


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown routing policy 'fastest'"):
        parse_config({"default_policy": "fastest"}, "test")


def test_unknown_keys_are_rejected_by_name(tmp_config: Path) -> None:
    _write(tmp_config, "listen: 127.0.0.1:1\nprovider: [127.0.0.1:2]\ngrace: 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_config)
    message = str(caught.value)
    assert str(tmp_config) in message
    assert "unknown key(s) grace, provider;" in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"listen": "localhost"}, "not a host:port address: 'localhost'"),
        ({"listen": "127.0.0.1:99999"}, "not a host:port address"),
        ({"providers": ["127.0.0.1"]}, "not a host:port address: '127.0.0.1'"),
        ({"providers": [{"address": "host:port"}]}, "not a host:port address: 'host:port'"),
        ({"providers": [{"priority": 3}]}, "test: providers[0]: needs an address"),
        ({"providers": ["127.0.0.1:1", 7]}, "test: providers[1]: needs an address"),
        ({"providers": [{"address": "h:1", "priority": "high"}]}, "providers[0].priority"),
        ({"providers": "127.0.0.1:1"}, "providers must be a list"),
        ({"sidecars": {"provider": "piper"}}, "sidecars must be a list"),
        ({"sidecars": [{"replicas": 2}]}, "sidecars[0]: needs a provider name"),
        ({"sidecars": [{"provider": "piper", "replicas": 0}]}, "sidecars[0].replicas"),
        ({"sidecars": [{"provider": "piper", "replicas": True}]}, "sidecars[0].replicas"),
        ({"sidecars": [{"provider": "piper", "args": "--fast"}]}, "sidecars[0].args"),
        ({"sidecars": [{"provider": "piper", "args": [1]}]}, "sidecars[0].args"),
        ({"sidecars": [{"provider": "piper", "priority": -1001}]}, "sidecars[0].priority"),
        ({"sidecars": [{"provider": "openai", "requires_env": "OPENAI-KEY"}]}, "sidecars[0].requires_env"),
        ({"sidecars": [{"provider": "openai", "requires_env": [1]}]}, "sidecars[0].requires_env"),
        ({"sidecars": [{"provider": "openai", "env": ["X=1"]}]}, "sidecars[0].env: must map"),
        ({"sidecars": [{"provider": "openai", "env": {"X": 1}}]}, "sidecars[0].env: must map"),
        ({"grace_s": -1}, "grace_s: must be a number ≥ 0"),
        ({"lease_s": 0}, "lease_s: must be a number ≥ 0.1"),
        ({"lease_s": "long"}, "lease_s: must be a number ≥ 0.1"),
        ({"health": {"check_timeout_s": -1}}, "health.check_timeout_s: must be a number ≥ 0"),
        ({"health": {"unhealthy_checks": 0}}, "health.unhealthy_checks: must be a whole number ≥ 1"),
        ({"health": {"check_every": 1}}, "unknown key(s) check_every"),
        ({"dns": [{"name": "providers.local"}]}, "dns[0]: needs a name and a port"),
        ({"dns": [{"name": "p.local", "port": 1, "ttl": 5}]}, "unknown key(s) ttl"),
        ({"forward_metadata": ["X-Tenant"]}, "forward_metadata must be lower-case"),
        ({"max_jobs": 0}, "max_jobs: must be a whole number ≥ 1"),
        ({"max_attempts": 0}, "max_attempts: must be a whole number ≥ 1"),
        ({"startup_wait_s": -1}, "startup_wait_s: must be a number ≥ 0"),
        ({"startup_wait_s": "soon"}, "startup_wait_s: must be a number ≥ 0"),
    ],
)
def test_bad_values_are_rejected(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "test")
    assert fragment in str(caught.value)


def test_bad_yaml_and_non_mapping_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(_write(tmp_path / "bad.yaml", "listen: [unclosed\n"))
    with pytest.raises(ConfigError, match="must be a mapping at the top level"):
        load_config(_write(tmp_path / "list.yaml", "- 127.0.0.1:1\n"))
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:50051", ("127.0.0.1", 50051)),
        ("localhost:0", ("localhost", 0)),
        ("example.com:65535", ("example.com", 65535)),
        ("[::1]:50051", ("::1", 50051)),
        ("unix-host:007", ("unix-host", 7)),
    ],
)
def test_parse_address(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address", ["", "localhost", ":50051", "localhost:", "localhost:65536", "localhost:-1", "localhost:http"]
)
def test_parse_address_rejects(address: str) -> None:
    with pytest.raises(ConfigError, match="not a host:port address"):
        parse_address(address)


def test_parse_address_rejects_superscript_port_with_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_address("localhost:²")


def test_parse_address_rejects_bare_ipv6_without_port() -> None:
    with pytest.raises(ConfigError):
        parse_address("::1")


def test_unknown_keys_inside_a_sidecar_are_rejected() -> None:
    with pytest.raises(ConfigError, match="replica"):
        parse_config({"sidecars": [{"provider": "piper", "replica": 3}]}, "test")


def test_a_sidecar_can_require_environment_variables() -> None:
    config = parse_config(
        {"sidecars": [{"provider": "openai", "requires_env": "OPENAI_API_KEY"}, "piper"]}, "test"
    )
    remote, local = config.sidecars
    assert remote.requires_env == ("OPENAI_API_KEY",) and local.requires_env == ()
    assert remote.unset_env({}) == ["OPENAI_API_KEY"]
    assert remote.unset_env({"OPENAI_API_KEY": "  "}) == ["OPENAI_API_KEY"]
    assert remote.unset_env({"OPENAI_API_KEY": "sk-CANARY-1"}) == []
    assert local.unset_env({}) == []


def test_a_sidecar_env_is_given_to_its_process_and_may_set_what_it_requires() -> None:
    config = parse_config(
        {
            "sidecars": [
                {
                    "provider": "openai",
                    "requires_env": "OPENAI_API_KEY",
                    "env": {"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1", "OPENAI_API_KEY": "sk-CANARY-2"},
                }
            ]
        },
        "test",
    )
    (sidecar,) = config.sidecars
    assert dict(sidecar.env) == {
        "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1",
        "OPENAI_API_KEY": "sk-CANARY-2",
    }
    assert sidecar.unset_env({}) == []


def test_services_become_container_sidecars_named_by_their_manifest(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "services" / "shout")
    (tmp_path / "conf").mkdir()
    config = load_config(
        _write(
            tmp_path / "conf" / "router.yaml",
            "sidecars: [piper]\n"
            "services:\n  - {manifest: ../services/shout/prizm.service.yml, priority: 7}\n",
        )
    )
    piper, shout = config.sidecars
    assert piper.provider == "piper" and piper.shown_name == "piper"
    manifest = (tmp_path / "services" / "shout" / "prizm.service.yml").resolve()
    assert shout == SidecarSpec(
        provider="container", priority=7, env=(("PRIZM_SERVICE_MANIFEST", str(manifest)),), label="shout"
    )
    assert shout.shown_name == "shout" and shout.python == ""


def test_a_service_by_absolute_path_as_a_bare_string() -> None:
    (service,) = parse_config({"services": [str(EXAMPLE / "prizm.service.yml")]}, "test").sidecars
    assert dict(service.env) == {"PRIZM_SERVICE_MANIFEST": str(EXAMPLE / "prizm.service.yml")}
    assert (service.provider, service.priority, service.label) == ("container", 0, "shout")


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"manifest": "nowhere/prizm.service.yml"}, r"services\[0\]\.manifest: no such file: .*nowhere"),
        (
            {"manifest": str(EXAMPLE / "prizm.service.yml"), "replicas": 2},
            r"services\[0\]: unknown key\(s\) replicas",
        ),
        ({"priority": 3}, r"services\[0\]: needs a manifest path"),
        ({"manifest": str(EXAMPLE / "prizm.service.yml"), "priority": "high"}, r"services\[0\]\.priority"),
    ],
)
def test_bad_service_entries_are_rejected_by_name(entry: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_config({"services": [entry]}, "test")


def test_a_service_whose_manifest_is_invalid_is_rejected_with_the_field(tmp_path: Path) -> None:
    manifest = _write(
        tmp_path / "prizm.service.yml",
        "name: Bad Name\nversion: 1.0.0\nimage: x:1\nport: 5000\nhealth: {http: /h}\n"
        "capabilities: [text-to-audio]\nadapter: {kind: cog}\n",
    )
    with pytest.raises(
        ConfigError, match=r"services\[0\]\.manifest: not a valid service manifest:\n.*:1: name: "
    ):
        parse_config({"services": [{"manifest": "prizm.service.yml"}]}, "test", tmp_path)
    assert manifest.is_file()
