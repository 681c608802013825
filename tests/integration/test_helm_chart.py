"""The Helm chart renders for every example and validates against Kubernetes' strict schemas."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from prizm_core.config import parse_config
from prizm_core.security.certs import make_mesh

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "prizm"
EXAMPLES = ("default", "gpu", "remote-providers")
# The oldest release with preStop `sleep` on by default, and the bundled kubectl's.
KUBE_VERSIONS = ("1.30", "1.35")
RELEASE = "rel"
PRE_STOP_S, KILL_MARGIN_S, ROUTER_GRACE_S, DRAIN_S = 5, 5, 10, 30
PRIZM_CONTAINERS = ("router", "provider")
# What a Pod's server must bind: the kubelet's gRPC probes and the Services reach the Pod IP.
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - asserted on, not bound
TMP = "/tmp"  # noqa: S108 - the emptyDir mount a read-only root filesystem needs

PROBE_TIMING = {"periodSeconds", "timeoutSeconds", "failureThreshold"}

Doc = dict[str, Any]


@dataclass(frozen=True)
class Helm:
    """The `helm` binary from scripts/k8s_tools.sh, with its state kept in a temporary folder."""

    binary: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Runs helm; never raises on a non-zero exit."""
        return subprocess.run(
            [str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    def render(self, *args: str) -> tuple[str, list[Doc]]:
        """`helm template` of the chart: the raw text and its non-empty documents."""
        done = self.run("template", RELEASE, str(CHART), *args)
        assert done.returncode == 0, done.stderr
        return done.stdout, [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    fetched = subprocess.run(
        [str(ROOT / "scripts" / "k8s_tools.sh")], capture_output=True, text=True, timeout=300, check=False
    )
    assert fetched.returncode == 0, f"scripts/k8s_tools.sh failed:\n{fetched.stderr}"
    home = tmp_path_factory.mktemp("helm")
    # Helm writes its cache and config under these; keep it off the user's home.
    env = {
        **os.environ,
        **{f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CACHE", "CONFIG", "DATA")},
    }
    return Helm(Path(fetched.stdout.strip()) / "helm", env)


def example(name: str) -> list[str]:
    return ["-f", str(CHART / "examples" / f"{name}.yaml")]


def kinds(docs: list[Doc]) -> Counter[str]:
    return Counter(d["kind"] for d in docs)


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def deployments(docs: list[Doc]) -> Iterator[Doc]:
    return (d for d in docs if d["kind"] == "Deployment")


def containers(deployment: Doc) -> dict[str, Doc]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


@pytest.mark.parametrize("values", [None, *EXAMPLES])
def test_lint_strict_passes(helm: Helm, values: str | None) -> None:
    done = helm.run("lint", "--strict", str(CHART), *(example(values) if values else []))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


# Providers enabled by each example; every one gets a Deployment, a headless Service, a PDB and a
# NetworkPolicy, besides the router's own.
PROVIDERS = {
    "default": {"espeak", "piper", "pocketsphinx", "ffmpeg"},
    "gpu": {"espeak", "piper", "pocketsphinx", "ffmpeg", "sdxl"},
    "remote-providers": {"openai", "fal", "replicate", "elevenlabs"},
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_manifest_validates_strictly_on_two_kubernetes_versions(helm: Helm, name: str) -> None:
    text, docs = helm.render(*example(name))
    # Every template's document was parsed: none came out empty or got lost.
    assert len(docs) == text.count("\n# Source: prizm/templates/")
    n = len(PROVIDERS[name]) + 1
    expected = {"Deployment": n, "Service": n, "PodDisruptionBudget": n, "NetworkPolicy": n, "ConfigMap": 1}
    if name == "gpu":
        expected["HorizontalPodAutoscaler"] = 1
    assert dict(kinds(docs)) == expected
    for doc in docs:
        for version in KUBE_VERSIONS:
            # Raises ValidationError, or SchemaNotFoundError for a kind it cannot check; it
            # returns the schema version it used, which must be the one asked for.
            assert kubernetes_validate.validate(doc, version, strict=True) == version
    names = {d["metadata"]["labels"].get("prizm.dev/provider") for d in deployments(docs)}
    assert names == PROVIDERS[name] | {None}


def test_the_validator_rejects_a_misspelt_field(helm: Helm) -> None:
    _, docs = helm.render()
    router = copy.deepcopy(named(docs, "Deployment", f"{RELEASE}-prizm-router"))
    security = router["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    security["readOnlyRootFileSystem"] = security.pop("readOnlyRootFilesystem")
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(router, KUBE_VERSIONS[0], strict=True)


def test_the_chart_refuses_a_kubernetes_without_pre_stop_sleep(helm: Helm) -> None:
    done = helm.run("template", RELEASE, str(CHART), "--kube-version", "1.29.0")
    assert done.returncode != 0
    assert ">=1.30.0-0" in done.stderr


@pytest.mark.parametrize(
    ("flags", "named_in_error"),
    [
        (["--set", "replicaCout=3"], "'replicaCout' not allowed"),
        (["--set", "router.autoscalling.enabled=true"], "'autoscalling' not allowed"),
        (["--set", "providers.espeak.prot=50061"], "'prot' not allowed"),
        (["--set-string", "router.replicas=two"], "/router/replicas"),
        (["--set", "router.port=70000"], "/router/port"),
        (["--set", "providers.espeak.replicas=-1"], "/providers/espeak/replicas"),
        (["--set", "router.config.default_policy=fastest"], "/router/config/default_policy"),
        (["--set", "providers.Bad_Name.port=50099"], "Bad_Name"),
        (
            ["--set", "providers.openai.port=50071,providers.openai.secretEnv.OPENAI_API_KEY=sk-x"],
            "secretEnv",
        ),
    ],
)
def test_the_schema_rejects_a_broken_value_and_names_it(
    helm: Helm, flags: list[str], named_in_error: str
) -> None:
    done = helm.run("template", RELEASE, str(CHART), *flags)
    assert done.returncode != 0, f"{flags} was accepted"
    assert "values don't meet the specifications of the schema" in done.stderr
    assert named_in_error in done.stderr


def test_global_values_of_a_parent_chart_are_accepted(helm: Helm) -> None:
    _, docs = helm.render("--set", "global.imageRegistry=example.org")
    assert kinds(docs)["Deployment"] == 5


def test_prizm_containers_have_grpc_probes_and_bind_every_interface(helm: Helm) -> None:
    _, docs = helm.render(*example("gpu"))
    for deployment in deployments(docs):
        for name, container in containers(deployment).items():
            if name not in PRIZM_CONTAINERS:
                continue
            port = container["ports"][0]["containerPort"]
            assert container["ports"][0]["name"] == "grpc"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"]["port"] == port, (deployment["metadata"]["name"], probe)
                assert set(container[probe]) - {"grpc"} <= PROBE_TIMING
            service = "prizm.v1.RouterService" if name == "router" else "prizm.v1.ModelService"
            assert container["readinessProbe"]["grpc"]["service"] == service
            args = container["args"]
            listens = args[args.index("--listen") + 1] if name == "router" else args[args.index("--host") + 1]
            assert listens in {EVERY_INTERFACE, f"{EVERY_INTERFACE}:{port}"}
            # Auth is off in the chart: the router serves its Pod IP only because it is told to.
            assert ("--insecure" in args) == (name == "router")
    sdxl = containers(named(docs, "Deployment", f"{RELEASE}-prizm-sdxl"))["provider"]
    # The GPU model's slow load: 10 s x 90 before the kubelet gives up.
    assert sdxl["startupProbe"] == {"grpc": {"port": 50070}, "periodSeconds": 10, "failureThreshold": 90}


def test_security_contexts_and_a_writable_tmp(helm: Helm) -> None:
    _, docs = helm.render()
    for deployment in deployments(docs):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}} in pod["volumes"]
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["runAsNonRoot"] is True
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert {"name": "tmp", "mountPath": TMP} in container["volumeMounts"]


def test_termination_grace_covers_the_pre_stop_sleep_and_the_drain(helm: Helm) -> None:
    _, docs = helm.render(*example("gpu"))
    graces = {}
    for deployment in deployments(docs):
        pod = deployment["spec"]["template"]["spec"]
        graces[deployment["metadata"]["name"]] = pod["terminationGracePeriodSeconds"]
        for container in pod["containers"]:
            if container["name"] in PRIZM_CONTAINERS:
                assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": PRE_STOP_S}}}
    assert graces[f"{RELEASE}-prizm-router"] == PRE_STOP_S + ROUTER_GRACE_S + KILL_MARGIN_S
    assert graces[f"{RELEASE}-prizm-espeak"] == PRE_STOP_S + DRAIN_S + KILL_MARGIN_S
    # The GPU provider drains for its own graceSeconds, and says so to the adapter.
    assert graces[f"{RELEASE}-prizm-sdxl"] == PRE_STOP_S + 300 + KILL_MARGIN_S
    args = containers(named(docs, "Deployment", f"{RELEASE}-prizm-sdxl"))["provider"]["args"]
    assert args[args.index("--grace") + 1] == "300"
    _, changed = helm.render("--set", "router.config.grace_s=25,router.config.drain_s=60")
    pods = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in deployments(changed)}
    assert pods[f"{RELEASE}-prizm-router"]["terminationGracePeriodSeconds"] == PRE_STOP_S + 25 + KILL_MARGIN_S
    assert pods[f"{RELEASE}-prizm-espeak"]["terminationGracePeriodSeconds"] == PRE_STOP_S + 60 + KILL_MARGIN_S


def test_every_deployment_has_a_pdb_selecting_its_pods(helm: Helm) -> None:
    _, docs = helm.render()
    for deployment in deployments(docs):
        pdb = named(docs, "PodDisruptionBudget", deployment["metadata"]["name"])
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
        assert pdb["spec"]["maxUnavailable"] == 1
    _, without = helm.render("--set", "router.podDisruptionBudget.enabled=false")
    assert kinds(without)["PodDisruptionBudget"] == 4


def test_the_router_config_finds_each_provider_through_its_headless_service(helm: Helm) -> None:
    _, docs = helm.render("--namespace", "media")
    config_map = named(docs, "ConfigMap", f"{RELEASE}-prizm-router")
    config = parse_config(yaml.safe_load(config_map["data"]["config.yaml"]), "configmap")
    assert config.listen == "0.0.0.0:50051"
    assert (config.grace_s, config.drain_s) == (ROUTER_GRACE_S, DRAIN_S)
    targets = {t.name: (t.port, t.priority) for t in config.dns}
    services = [d for d in docs if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
    assert len(services) == 4
    for service in services:
        port = service["spec"]["ports"][0]
        assert port["targetPort"] == "grpc"
        deployment = named(docs, "Deployment", service["metadata"]["name"])
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        fqdn = f"{service['metadata']['name']}.media.svc.cluster.local"
        assert targets.pop(fqdn)[0] == port["port"]
    assert targets == {}
    router = named(docs, "Deployment", f"{RELEASE}-prizm-router")
    volumes = router["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config_map["metadata"]["name"]}} in volumes


def test_remote_provider_keys_come_from_secrets_only(helm: Helm) -> None:
    text, docs = helm.render(*example("remote-providers"))
    wanted = {
        "openai": ("OPENAI_API_KEY", "prizm-openai", "api-key"),
        "fal": ("FAL_KEY", "prizm-fal", "api-key"),
        "replicate": ("REPLICATE_API_TOKEN", "prizm-replicate", "api-token"),
        "elevenlabs": ("ELEVENLABS_API_KEY", "prizm-elevenlabs", "api-key"),
    }
    for provider, (variable, secret, key) in wanted.items():
        env = containers(named(docs, "Deployment", f"{RELEASE}-prizm-{provider}"))["provider"]["env"]
        entry = next(e for e in env if e["name"] == variable)
        assert entry == {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    config_text = named(docs, "ConfigMap", f"{RELEASE}-prizm-router")["data"]["config.yaml"]
    assert not any(variable in config_text for variable, _, _ in wanted.values())
    assert "kind: Secret\n" not in text


def test_the_gpu_sidecar_pod_and_its_network_policy(helm: Helm) -> None:
    _, docs = helm.render(*example("gpu"))
    deployment = named(docs, "Deployment", f"{RELEASE}-prizm-sdxl")
    pod = deployment["spec"]["template"]["spec"]
    both = containers(deployment)
    assert list(both) == ["provider", "model"]
    assert both["model"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in both["provider"]["resources"].get("limits", {})
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    env = {e["name"]: e.get("value") for e in both["provider"]["env"]}
    assert env["PRIZM_COG_URL"] == "http://127.0.0.1:5000"
    assert both["provider"]["command"] == ["prizm", "serve-provider", "cog"]
    policy = named(docs, "NetworkPolicy", f"{RELEASE}-prizm-sdxl")
    assert policy["spec"]["podSelector"] == deployment["spec"]["selector"]
    rule, metrics_rule = policy["spec"]["ingress"]
    router = named(docs, "Deployment", f"{RELEASE}-prizm-router")
    assert rule["from"] == [{"podSelector": router["spec"]["selector"]}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 50070}]
    # Scrapers (any, as metrics.ingressFrom is empty) reach the metrics port alone, not the model's.
    assert metrics_rule == {"ports": [{"protocol": "TCP", "port": 51070}]}
    # With the HPA on, the HPA owns the router's replica count.
    hpa = named(docs, "HorizontalPodAutoscaler", f"{RELEASE}-prizm-router")
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{RELEASE}-prizm-router"}
    assert hpa["spec"]["scaleTargetRef"] == target
    assert "replicas" not in router["spec"]


# Schema definitions documented as one value each (their shape is described once in the README).
LEAF_DEFS = {"resources", "env", "stringArray", "nodeSelector", "tolerations", "annotations", "probeTiming"}


def value_paths(schema: Doc, node: Doc, path: str) -> Iterator[str]:
    """Every value the schema accepts, as README paths (`providers.<name>.port`)."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        yield from [path] if name in LEAF_DEFS else value_paths(schema, schema["$defs"][name], path)
    elif "allOf" in node:
        yield from value_paths(schema, node["allOf"][0], path)
    elif "properties" in node:
        for key, child in node["properties"].items():
            yield from value_paths(schema, child, f"{path}.{key}" if path else key)
    elif isinstance(node.get("additionalProperties"), dict) and set(node["additionalProperties"]) & {
        "$ref",
        "properties",
    }:
        key = "<VAR>" if path.endswith("ecretEnv") else "<name>"
        yield from value_paths(schema, node["additionalProperties"], f"{path}.{key}")
    else:
        yield path


def test_the_readme_lists_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert "global" in schema["properties"]
    readme = (CHART / "README.md").read_text()
    paths = list(value_paths(schema, schema, ""))
    assert len(paths) > 90
    assert [p for p in paths if f"| `{p}` |" not in readme] == []
    # And every top-level key of values.yaml is one the schema knows.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values) <= set(schema["properties"])


def test_metrics_are_on_with_scrape_annotations_and_a_metrics_port(helm: Helm) -> None:
    _, docs = helm.render()
    router = named(docs, "Deployment", f"{RELEASE}-prizm-router")
    espeak = named(docs, "Deployment", f"{RELEASE}-prizm-espeak")
    for deployment, port in ((router, 9464), (espeak, 51061)):
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        (container, *_) = deployment["spec"]["template"]["spec"]["containers"]
        assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
        args = container["args"]
        assert args[args.index("--metrics-port") + 1] == str(port)
        assert args[args.index("--metrics-host") + 1] == "0.0.0.0"  # noqa: S104 - the Pod IP
    policy = named(docs, "NetworkPolicy", f"{RELEASE}-prizm-router")
    assert policy["spec"]["ingress"][-1] == {"ports": [{"protocol": "TCP", "port": 9464}]}
    _, off = helm.render("--set", "metrics.enabled=false")
    router = named(off, "Deployment", f"{RELEASE}-prizm-router")
    assert "prometheus.io/scrape" not in router["spec"]["template"]["metadata"]["annotations"]
    assert "--metrics-port" not in router["spec"]["template"]["spec"]["containers"][0]["args"]
    assert len(named(off, "NetworkPolicy", f"{RELEASE}-prizm-router")["spec"]["ingress"]) == 1


def test_auth_from_a_secret_drops_insecure_and_renders_a_config_the_router_reads(
    helm: Helm, tmp_path: Path
) -> None:
    flags = ["--set", "auth.enabled=true,auth.keysSecret=prizm-keys"]
    flags += ["--set", "auth.callers.alice.max_concurrent_jobs=2,auth.callers.ops.operator=true"]
    _, docs = helm.render(*flags)
    for doc in docs:
        for version in KUBE_VERSIONS:
            assert kubernetes_validate.validate(doc, version, strict=True) == version
    router = named(docs, "Deployment", f"{RELEASE}-prizm-router")
    pod = router["spec"]["template"]["spec"]
    assert "--insecure" not in pod["containers"][0]["args"]
    assert {"name": "auth", "mountPath": "/etc/prizm-auth", "readOnly": True} in pod["containers"][0][
        "volumeMounts"
    ]
    assert {
        "name": "auth",
        "secret": {"secretName": "prizm-keys", "items": [{"key": "keys.yaml", "path": "keys.yaml"}]},
    } in pod["volumes"]
    text = named(docs, "ConfigMap", f"{RELEASE}-prizm-router")["data"]["config.yaml"]
    # The router reads the rendered config, with the Secret's file where the Pod would have it.
    keys = tmp_path / "keys.yaml"
    keys.write_text(json.dumps({"api_keys": [{"caller": "alice", "sha256": "a" * 64}]}), encoding="utf-8")
    config = parse_config(yaml.safe_load(text.replace("/etc/prizm-auth/keys.yaml", str(keys))), "chart")
    assert config.auth.enabled and config.auth.callers["ops"].operator
    assert config.auth.callers["alice"].max_concurrent_jobs == 2
    assert [key.caller for key in config.auth.api_keys] == ["alice"]
    # Off by default: the router keeps --insecure and its config has no auth:.
    _, plain = helm.render()
    assert (
        "--insecure"
        in named(plain, "Deployment", f"{RELEASE}-prizm-router")["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]
    )
    assert "auth:" not in named(plain, "ConfigMap", f"{RELEASE}-prizm-router")["data"]["config.yaml"]
    # On without its Secret or callers: the schema refuses it, naming the value.
    done = helm.run("template", RELEASE, str(CHART), "--set", "auth.enabled=true")
    assert done.returncode != 0 and "keysSecret" in done.stderr


def test_tls_from_a_secret_serves_callers_and_probes_with_health_probe(helm: Helm, tmp_path: Path) -> None:
    flags = ["--set", "tls.enabled=true,tls.secretName=router-tls,tls.serverName=rel-prizm-router.media.svc"]
    _, docs = helm.render(*flags, "--set", "tls.requireClientCerts=true")
    for doc in docs:
        for version in KUBE_VERSIONS:
            assert kubernetes_validate.validate(doc, version, strict=True) == version
    router = named(docs, "Deployment", f"{RELEASE}-prizm-router")
    pod = router["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "tls", "mountPath": "/etc/prizm-tls", "readOnly": True} in container["volumeMounts"]
    assert {"name": "tls", "secret": {"secretName": "router-tls"}} in pod["volumes"]
    tls_flags = ["--ca", "/etc/prizm-tls/ca.crt", "--server-name", "rel-prizm-router.media.svc"]
    tls_flags += ["--cert", "/etc/prizm-tls/tls.crt", "--key", "/etc/prizm-tls/tls.key"]
    assert container["readinessProbe"]["exec"]["command"] == [
        *("prizm", "health-probe", "127.0.0.1:50051", "prizm.v1.RouterService"),
        *tls_flags,
    ]
    assert container["livenessProbe"]["exec"]["command"] == [
        "prizm",
        "health-probe",
        "127.0.0.1:50051",
        *tls_flags,
    ]
    assert "grpc" not in container["startupProbe"]
    # The router reads the rendered config, with the Secret's files where the Pod would have them.
    make_mesh(tmp_path)
    text = named(docs, "ConfigMap", f"{RELEASE}-prizm-router")["data"]["config.yaml"]
    for name, local in (("tls.crt", "router.pem"), ("tls.key", "router.key"), ("ca.crt", "ca.pem")):
        text = text.replace(f"/etc/prizm-tls/{name}", str(tmp_path / local))
    config = parse_config(yaml.safe_load(text), "chart")
    assert config.tls.server is not None and config.tls.server.client_ca == (tmp_path / "ca.pem").resolve()
    assert config.tls.client is None  # providers are still dialled in plaintext
    # Without mTLS the probes show no certificate; without TLS they are the kubelet's gRPC probes.
    _, server_only = helm.render(*flags)
    command = named(server_only, "Deployment", f"{RELEASE}-prizm-router")["spec"]["template"]["spec"][
        "containers"
    ][0]["livenessProbe"]["exec"]["command"]
    assert "--cert" not in command and "--server-name" in command
    _, plain = helm.render()
    probe = named(plain, "Deployment", f"{RELEASE}-prizm-router")["spec"]["template"]["spec"]["containers"][
        0
    ]["readinessProbe"]
    assert probe["grpc"] == {"port": 50051, "service": "prizm.v1.RouterService"}
    done = helm.run("template", RELEASE, str(CHART), "--set", "tls.enabled=true,tls.secretName=x")
    assert done.returncode != 0 and "serverName" in done.stderr
