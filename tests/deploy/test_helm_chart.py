"""The Helm chart, with no cluster and no helm binary: linted and rendered by the Helm SDK for
every profile and the combinations that matter, every manifest validated against Kubernetes'
schemas, and the semantics an operator relies on asserted."""

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from cantata_client import Client
from runtimes.tensorrt.runtime import F5Options
from server.config import MetricsSettings, Settings, load_settings
from server.observability.metrics import Metrics
from tests.conftest import start_server

CHART = Path("helm/cantata")
ROCM = yaml.safe_load((CHART / "values-rocm.yaml").read_text())
STRIX_HALO = yaml.safe_load((CHART / "values-strix-halo.yaml").read_text())
JETSON = yaml.safe_load((CHART / "values-jetson.yaml").read_text())
KUBERNETES_VERSION = kubernetes_validate.latest_version()
CRDS = {"ServiceMonitor", "PrometheusRule"}

OBSERVABILITY = {
    "metrics": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    }
}
TLS = {"tls": {"enabled": True, "secretName": "cantata-tls", "mutual": True}}
API_KEYS = {"apiKeys": {"enabled": True, "existingSecret": "cantata-keys"}}
EVERYTHING = {
    **OBSERVABILITY,
    **TLS,
    **API_KEYS,
    "autoscaling": {"enabled": True, "inflightRequestsPerPod": 2},
    "podDisruptionBudget": {"enabled": True},
    "networkPolicy": {
        "enabled": True,
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
    },
    "service": {"headless": True},
    "modelStorage": {
        "persistence": {"enabled": True, "storageClass": "fast"},
        "init": {"enabled": True, "command": ["sh", "-c", "ls /models"]},
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "cantata"}},
        }
    ],
}


def merge(base: dict[str, Any], *overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for override in overrides:
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


CASES: dict[str, dict[str, Any]] = {
    "cpu": {},
    "rocm": ROCM,
    "observability": OBSERVABILITY,
    "tls": TLS,
    "api-keys": API_KEYS,
    "hpa-cpu": {"autoscaling": {"enabled": True}},
    "existing-claim": {
        "modelStorage": {"persistence": {"enabled": True, "existingClaim": "my-models"}}
    },
    "host-path": {"modelStorage": {"hostPath": "/srv/cantata/models"}},
    "everything": EVERYTHING,
    "rocm-everything": merge(ROCM, EVERYTHING),
    "strix-halo": STRIX_HALO,
    "strix-halo-everything": merge(STRIX_HALO, EVERYTHING),
    "jetson": JETSON,
    "jetson-everything": merge(JETSON, EVERYTHING),
    "cache-existing-claim": {"cacheStorage": {"enabled": True, "existingClaim": "my-cache"}},
}
AMD_GPU_CASES = ["rocm", "rocm-everything", "strix-halo", "strix-halo-everything"]


def test_every_profile_is_rendered() -> None:
    profiles = {path.stem.removeprefix("values-") for path in CHART.glob("values-*.yaml")}
    assert profiles <= CASES.keys()


@cache
def render(case: str) -> list[dict[str, Any]]:
    chart = helm.Chart.load(str(CHART))
    manifests = chart.render(CASES[case], name="cantata", namespace="tts", is_install=True)
    return [
        doc
        for path, text in sorted(manifests.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def of_kind(case: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in render(case) if doc["kind"] == kind]


def the(case: str, kind: str) -> dict[str, Any]:
    (doc,) = of_kind(case, kind)
    return doc


def server_config(case: str) -> str:
    """The server's config file, as the ConfigMap renders it."""
    (text,) = [
        c["data"]["cantata.yaml"] for c in of_kind(case, "ConfigMap") if "cantata.yaml" in c["data"]
    ]
    return str(text)


def container(case: str) -> dict[str, Any]:
    (main,) = the(case, "Deployment")["spec"]["template"]["spec"]["containers"]
    return main  # type: ignore[no-any-return]


def environment(case: str) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(case).get("env", [])}


def cpus(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity ("10", "500m", 2) in cores."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


@pytest.mark.parametrize("case", CASES)
def test_lints_clean(case: str) -> None:
    report = helm.lint(str(CHART), CASES[case], strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("case", CASES)
def test_every_manifest_is_valid_kubernetes(case: str) -> None:
    documents = render(case)
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount"} <= {
        d["kind"] for d in documents
    }
    for doc in documents:
        if doc["kind"] in CRDS:
            continue  # no schema ships for CRDs; test_observability checks them
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("case", CASES)
def test_probes_use_grpc_health_on_the_servers_port(case: str) -> None:
    main = container(case)
    values = merge(yaml.safe_load((CHART / "values.yaml").read_text()), CASES[case])
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports["grpc"] == values["ports"]["grpc"]
    probe_port = values["ports"]["health"] if values["tls"]["enabled"] else values["ports"]["grpc"]
    for probe, service in (
        ("startupProbe", ""),
        ("readinessProbe", ""),
        ("livenessProbe", "liveness"),
    ):
        assert main[probe]["grpc"] == {"port": probe_port, "service": service}
    config = yaml.safe_load(server_config(case))
    assert config["port"] == values["ports"]["grpc"]
    assert config.get("health_port") == (
        values["ports"]["health"] if values["tls"]["enabled"] else None
    )
    grace = the(case, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace == config["drain_grace_seconds"] + 5


@pytest.mark.parametrize("case", CASES)
def test_runs_locked_down(case: str) -> None:
    pod = the(case, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for each in pod["containers"] + pod.get("initContainers", []):
        security = each["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container(case)["volumeMounts"]:
        volume = volumes[mount["name"]]
        writable = not mount.get("readOnly", False)
        if writable:
            assert {"emptyDir", "persistentVolumeClaim", "hostPath"} & volume.keys(), mount


@pytest.mark.parametrize("case", AMD_GPU_CASES)
def test_amd_profiles_ask_for_an_amd_gpu_and_can_open_it(case: str) -> None:
    main = container(case)
    assert main["resources"]["limits"]["amd.com/gpu"] == 1
    assert main["resources"]["requests"]["amd.com/gpu"] == 1
    pod = the(case, "Deployment")["spec"]["template"]["spec"]
    assert {44, 109} <= set(pod["securityContext"]["supplementalGroups"])  # video, render
    env = environment(case)
    # libhsakmt fails HSA's start-up on a set but empty override: no GPU.
    assert env.get("HSA_OVERRIDE_GFX_VERSION") != ""
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    assert env["MIOPEN_USER_DB_PATH"] in mounts
    assert env["MIOPEN_CUSTOM_CACHE_DIR"] in mounts
    assert any(t["key"] == "amd.com/gpu" for t in pod["tolerations"])


@pytest.mark.parametrize("case", ["rocm", "rocm-everything"])
def test_rocm_profile_runs_the_rx_6700_xt_as_gfx1030(case: str) -> None:
    assert environment(case)["HSA_OVERRIDE_GFX_VERSION"] == "10.3.0"


@pytest.mark.parametrize("case", ["strix-halo", "strix-halo-everything"])
def test_strix_halo_profile_decodes_on_the_cpu_cores_it_reserves(case: str) -> None:
    config = yaml.safe_load(server_config(case))
    (model,) = [m for m in config["models"] if m["runtime"] == "qwen3-split"]
    assert config["default_model"] == model["name"]
    options = model["options"]
    assert options["decoder_device"] == "cpu"
    assert options["lm_device"] == "cuda:0"
    assert options["dtype"] == "bfloat16"
    assert model["concurrency"] >= options["max_batch"]
    values = merge(yaml.safe_load((CHART / "values.yaml").read_text()), CASES[case])
    assert options["model_dir"].startswith(values["modelStorage"]["mountPath"] + "/")

    resources = container(case)["resources"]
    assert cpus(resources["requests"]["cpu"]) >= options["decoder_threads"]
    # Guaranteed QoS: the static CPU manager can then give the decoder whole cores.
    for resource in ("cpu", "memory"):
        assert resources["requests"][resource] == resources["limits"][resource]

    pod = the(case, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"amd.com/gpu.device-id": "1586"}  # Radeon 8060S/8050S
    env = environment(case)
    assert "HSA_OVERRIDE_GFX_VERSION" not in env  # the image has gfx1151 kernels
    assert env["MIOPEN_FIND_MODE"] == "FAST"


@pytest.mark.parametrize("case", ["jetson", "jetson-everything"])
def test_jetson_profile_runs_on_an_orin_with_its_gpu_and_keeps_its_engines(case: str) -> None:
    pod = the(case, "Deployment")["spec"]["template"]["spec"]
    # arm64, and compute capability 8.7, which only the Orin has (GPU feature discovery's labels).
    assert pod["nodeSelector"] == {
        "kubernetes.io/arch": "arm64",
        "nvidia.com/gpu.compute.major": "8",
        "nvidia.com/gpu.compute.minor": "7",
    }
    assert pod["runtimeClassName"] == "nvidia"
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert 44 in pod["securityContext"]["supplementalGroups"]  # video: /dev/nvhost-*, /dev/nvmap

    main = container(case)
    for part in ("requests", "limits"):
        assert main["resources"][part]["nvidia.com/gpu"] == 1
    assert not any("amd.com" in name for part in main["resources"].values() for name in part)

    config = yaml.safe_load(server_config(case))
    (model,) = [m for m in config["models"] if m["runtime"] == "tensorrt"]
    assert config["default_model"] == model["name"]
    options = model["options"]
    assert options["backend"] in {"auto", "tensorrt"}
    assert options["precision"] == "fp16"
    assert options["steps"] == 8
    assert model["concurrency"] >= options["max_batch"]
    values = merge(yaml.safe_load((CHART / "values.yaml").read_text()), CASES[case])
    models = values["modelStorage"]["mountPath"] + "/"
    for path in [options["model_dir"], options["vocoder_dir"]] + [
        v["audio"] for v in options["voices"]
    ]:
        assert path.startswith(models), path
    assert all(v["text"].strip() for v in options["voices"])

    # The engines go to a writable mount of a persistent claim that the chart keeps on uninstall,
    # never to the read-only root file system.
    engine_dir = Path(options["engine_dir"])
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    (mount_path,) = [m for m in mounts if engine_dir.is_relative_to(m)]
    assert not mounts[mount_path].get("readOnly", False)
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes[mounts[mount_path]["name"]]["persistentVolumeClaim"]["claimName"]
    (pvc,) = [c for c in of_kind(case, "PersistentVolumeClaim") if c["metadata"]["name"] == claim]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "ReadWriteOnce" in pvc["spec"]["accessModes"]
    assert engine_dir.is_relative_to("/var/cache/cantata/engines")  # the image's volume

    # The first load builds the engines before the server is SERVING.
    startup = main["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800


def test_jetson_profile_options_are_the_tensorrt_runtimes_own() -> None:
    """The runtime refuses unknown or ill-typed options at load, which would leave the pod
    unready after its startup budget; the profile is checked against the same model."""
    config = yaml.safe_load(server_config("jetson"))
    (model,) = [m for m in config["models"] if m["runtime"] == "tensorrt"]
    options = F5Options.model_validate(model["options"])
    assert options.precision == "fp16"
    assert options.engine_dir.is_absolute()  # not the default under the read-only home


def test_the_cache_volume_can_be_an_existing_claim() -> None:
    pod = the("cache-existing-claim", "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["cache"]["persistentVolumeClaim"] == {"claimName": "my-cache"}
    assert {"name": "cache", "mountPath": "/var/cache/cantata"} in container(
        "cache-existing-claim"
    )["volumeMounts"]
    assert of_kind("cache-existing-claim", "PersistentVolumeClaim") == []


@pytest.mark.parametrize("case", ["cpu", "everything"])
def test_cpu_profile_asks_for_no_accelerator(case: str) -> None:
    resources = container(case)["resources"]
    assert not any("gpu" in name for part in resources.values() for name in part)
    pod = the(case, "Deployment")["spec"]["template"]["spec"]
    assert "runtimeClassName" not in pod
    assert "cache" not in {v["name"] for v in pod["volumes"]}


@pytest.mark.parametrize("case", CASES)
def test_the_rendered_config_is_the_servers_own(case: str, tmp_path: Path) -> None:
    config_file = tmp_path / "cantata.yaml"
    config_file.write_text(server_config(case))
    settings = load_settings(config_file)
    values = merge(yaml.safe_load((CHART / "values.yaml").read_text()), CASES[case])
    assert settings.default_model == values["config"]["default_model"]
    assert [m.name for m in settings.models] == [m["name"] for m in values["config"]["models"]]
    mounts = {m["mountPath"] for m in container(case)["volumeMounts"]}
    secret_files = [
        settings.tls.cert_file,
        settings.tls.key_file,
        settings.tls.client_ca_file,
        settings.auth.api_keys_file,
    ]
    for path in filter(None, secret_files):
        assert str(path.parent) in mounts, f"{path} is not mounted"


def test_the_cpu_profile_config_serves_its_model(tmp_path: Path) -> None:
    config_file = tmp_path / "cantata.yaml"
    config_file.write_text(server_config("cpu"))
    settings: Settings = load_settings(config_file, {"host": "127.0.0.1", "port": 0})
    running = start_server(settings.model_copy(update={"metrics": MetricsSettings(port=0)}))
    try:
        with Client(running.target, timeout=30) as client:
            voices = client.voices()
            assert {v.model for v in voices} == {"piper"}
            assert client.synthesize("Hello from the chart.").stats.audio_seconds > 0.5
    finally:
        running.stop()


def exported_metric_names() -> set[str]:
    names = set()
    suffixes = {
        "histogram": ("_bucket", "_sum", "_count"),
        "counter": ("_total",),
        "info": ("_info",),
    }
    for family in Metrics().registry.collect():
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    return names | {
        "cantata_inflight_requests",
        "cantata_queue_depth",
        "cantata_model_loaded",
        "cantata_model_load_seconds",
        "cantata_model_memory_bytes",
        "cantata_device_memory_used_bytes",
        "cantata_device_memory_total_bytes",
    }


def test_observability(tmp_path: Path) -> None:
    service = next(
        s for s in of_kind("observability", "Service") if s["spec"].get("clusterIP") != "None"
    )
    monitor = the("observability", "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}

    known = exported_metric_names()
    rules = the("observability", "PrometheusRule")["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "CantataSlowerThanRealTime",
        "CantataErrorRate",
        "CantataModelNotReady",
    }
    dashboards = [c for c in of_kind("observability", "ConfigMap") if "cantata.json" in c["data"]]
    (board,) = [json.loads(c["data"]["cantata.json"]) for c in dashboards]
    expressions = [r["expr"] for r in rules] + [
        t["expr"] for panel in board["panels"] for t in panel["targets"]
    ]
    titles = " ".join(p["title"] for p in board["panels"]).lower()
    for topic in ("real-time factor", "first audio", "memory", "throughput", "status"):
        assert topic in titles
    for expression in expressions:
        used = set(re.findall(r"cantata_[a-z_]+", expression))
        assert used, expression
        assert used <= known, used - known


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replicaCount": "two"}, "replicaCount"),
        ({"gpus": 1}, "gpus"),
        ({"tls": {"enabled": True, "cert": "x"}}, "cert"),
        ({"ports": {"grpc": 70000}}, "grpc"),
        ({"config": {"models": []}}, "models"),
        ({"config": {"max_text_char": 10}}, "max_text_char"),
        ({"config": {"models": [{"name": "a"}]}}, "runtime"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"autoscaling": {"enabled": "yes"}}, "enabled"),
        ({"runtimeClassName": "NVIDIA"}, "runtimeClassName"),
        ({"cacheStorage": {"path": "/var/cache"}}, "path"),
        ({"cacheStorage": {"mountPath": "cache"}}, "mountPath"),
    ],
)
def test_the_schema_rejects_bad_values(values: dict[str, Any], complaint: str) -> None:
    chart = helm.Chart.load(str(CHART))
    with pytest.raises(helm.HelmError, match=complaint):
        chart.validate_schema(chart.merge_values(values))


def test_the_schemas_config_keys_are_server_settings() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    config_keys = set(schema["properties"]["config"]["properties"])
    assert config_keys <= set(Settings.model_fields)
    model_keys = set(schema["properties"]["config"]["properties"]["models"]["items"]["properties"])
    from server.config import ModelSettings

    assert model_keys <= set(ModelSettings.model_fields)


def test_every_values_key_is_documented_in_the_chart_readme() -> None:
    readme = (CHART / "README.md").read_text()

    # Free-form maps are documented as a whole, not key by key.
    free_form = {
        "config.",
        "resources.requests.",
        "resources.limits.",
        "podSecurityContext.",
        "securityContext.",
        "metrics.dashboard.labels.",
    }

    def keys(node: Any, prefix: str = "") -> list[str]:
        if not isinstance(node, dict) or not node or prefix in free_form:
            return [prefix.rstrip(".")] if prefix else []
        return [k for name, child in node.items() for k in keys(child, f"{prefix}{name}.")]

    for key in keys(yaml.safe_load((CHART / "values.yaml").read_text())):
        assert f"`{key}`" in readme, f"{key} is not in the chart README"
