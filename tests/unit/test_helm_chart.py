"""The Helm chart, rendered offline for the default values and values-production.yaml:
it lints, its objects are valid Kubernetes, and what it wires up matches the application
(queue names from the real topology, probe paths the real BFF serves, settings the real
Settings object reads)."""

import base64
import os
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import helm_python
import httpx
import kubernetes_validate
import pytest
import yaml

from relatoria_bff.app import create_app
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.settings import Settings
from relatoria_worker.admin import build_parser as build_admin_parser
from tests.support.helm_chart import (
    ALERT_RULES,
    CHART_DIR,
    CUSTOM_KINDS,
    FULLNAME,
    Doc,
    Rendered,
    containers,
    env_of,
    hook_weight,
    merge,
    plain_env,
    pod_spec,
    production_values,
    render,
)

pytestmark = pytest.mark.unit

KUBE_VERSION = "1.37.0"
SHUTDOWN_MARGIN_SECONDS = 15
"""terminationGracePeriodSeconds - RELATORIA_SHUTDOWN_GRACE_SECONDS, per values.yaml."""
UVICORN_GRACEFUL_SHUTDOWN_SECONDS = 20
BFF = f"{FULLNAME}-bff"
WORKERS = {Lane.INTERACTIVE: f"{FULLNAME}-worker-interactive", Lane.BULK: f"{FULLNAME}-worker-bulk"}
HOOK_PHASES = "pre-install,pre-upgrade"


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def default_render(chart: helm_python.Chart) -> Rendered:
    return render(chart)


@pytest.fixture(scope="module")
def production_render(chart: helm_python.Chart) -> Rendered:
    return render(chart, production_values())


VALUE_SETS = ["default", "production"]


@pytest.fixture(params=VALUE_SETS)
def value_set(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def rendered(value_set: str, request: pytest.FixtureRequest) -> Rendered:
    fixture: Rendered = request.getfixturevalue(f"{value_set}_render")
    return fixture


def values_of(value_set: str) -> dict[str, Any] | None:
    return production_values() if value_set == "production" else None


def the_container(owner: Doc) -> Doc:
    (container,) = pod_spec(owner)["containers"]
    return container


def worker_lane(rendered: Rendered, deployment: Doc) -> Lane:
    (lane,) = env_of(rendered, the_container(deployment))["RELATORIA_WORKER_LANES"].split(",")
    return Lane(lane)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without any RELATORIA_* variable of the test run's own."""
    for name in list(os.environ):
        if name.startswith("RELATORIA_"):
            monkeypatch.delenv(name)
    return monkeypatch


# Lint and validity


@pytest.mark.parametrize("value_set_name", VALUE_SETS)
def test_lint_reports_no_errors(value_set_name: str) -> None:
    report = helm_python.lint(CHART_DIR, values=values_of(value_set_name), kube_version="v1.34.0")
    errors = [message for message in report["messages"] if message["severity"] >= 3]
    assert errors == []
    assert report["errors"] == []


def test_core_objects_are_valid_kubernetes(rendered: Rendered) -> None:
    core = [doc for doc in rendered.docs if doc["kind"] not in CUSTOM_KINDS]
    assert core
    for doc in core:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


OTHER_SWITCHES: dict[str, Any] = {
    "image": {"registry": "registry.example.com/acme/", "pullSecrets": ["registry"]},
    "serviceAccount": {"create": False, "name": "relatoria-app"},
    "keda": {"enabled": False},
    "bff": {
        "autoscaling": {"enabled": False},
        "podDisruptionBudget": {"maxUnavailable": "50%"},
        "ingress": {"enabled": True},
        "tolerations": [{"key": "pool", "operator": "Equal", "value": "api"}],
    },
    "worker": {"bulk": {"podDisruptionBudget": {"enabled": False}}},
    "networkPolicy": {
        "enabled": True,
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
    },
    "migrations": {"enabled": False},
    "serviceMonitor": {"enabled": True},
}
"""Values that flip the switches the two value sets leave alone."""


def test_other_switches_render_valid_objects(chart: helm_python.Chart) -> None:
    chart.validate_schema(OTHER_SWITCHES)
    rendered = render(chart, OTHER_SWITCHES)
    assert rendered.of_kind("ServiceAccount") == []
    for doc in rendered.docs:
        if doc["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    bff = rendered.named("Deployment", BFF)
    assert bff["spec"]["replicas"] == 2
    assert pod_spec(bff)["imagePullSecrets"] == [{"name": "registry"}]
    assert pod_spec(bff)["serviceAccountName"] == "relatoria-app"
    assert the_container(bff)["image"] == "registry.example.com/acme/relatoria-bff:0.1.0"
    assert len(rendered.of_kind("PodDisruptionBudget")) == 2
    for policy in rendered.of_kind("NetworkPolicy"):
        assert policy["spec"]["policyTypes"][-1] == "Egress"
        dns, *custom = policy["spec"]["egress"]
        assert {"port": 53, "protocol": "UDP"} in dns["ports"]  # names still resolve
        assert "to" not in dns
        assert custom == OTHER_SWITCHES["networkPolicy"]["egress"]


def test_custom_resources_carry_their_required_fields(rendered: Rendered) -> None:
    for scaled in rendered.of_kind("ScaledObject"):
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        assert scaled["spec"]["scaleTargetRef"]["name"]
        assert scaled["spec"]["triggers"]
    for auth in rendered.of_kind("TriggerAuthentication"):
        assert auth["apiVersion"] == "keda.sh/v1alpha1"
        assert auth["spec"]["secretTargetRef"]
    for monitor in rendered.of_kind("ServiceMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"]["selector"]["matchLabels"]
        assert monitor["spec"]["endpoints"]
    for monitor in rendered.of_kind("PodMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"]["selector"]["matchLabels"]
        assert monitor["spec"]["podMetricsEndpoints"]
    for rule in rendered.of_kind("PrometheusRule"):
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        assert rule["spec"]["groups"]


def test_default_values_render_the_expected_objects(default_render: Rendered) -> None:
    assert default_render.kinds() == sorted(
        ["ConfigMap", "Secret", "Secret", "ServiceAccount", "Service", "Job", "CronJob"]
        + ["Deployment"] * 3
        + ["PodDisruptionBudget"] * 3
        + ["HorizontalPodAutoscaler"]
        + ["ScaledObject"] * 2
        + ["TriggerAuthentication"]
    )


def test_production_values_render_the_expected_objects(production_render: Rendered) -> None:
    assert production_render.kinds() == sorted(
        ["ConfigMap", "ServiceAccount", "Service", "Ingress", "Job", "CronJob"]
        + ["Deployment"] * 3
        + ["PodDisruptionBudget"] * 3
        + ["NetworkPolicy"] * 3
        + ["HorizontalPodAutoscaler"]
        + ["ScaledObject"] * 2
        + ["TriggerAuthentication"]
        + ["ServiceMonitor", "PodMonitor", "PrometheusRule"]
    )


def test_every_object_carries_the_standard_labels(rendered: Rendered) -> None:
    for doc in rendered.docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "relatoria"
        assert labels["app.kubernetes.io/instance"] == "rel"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["helm.sh/chart"] == "relatoria-0.1.0"
        assert labels["app.kubernetes.io/component"]


# Workers: lanes, KEDA, shutdown


@pytest.mark.parametrize("values", [None, production_values()], ids=["default", "production"])
def test_each_scaled_object_counts_the_demand_of_its_deployments_lane(
    chart: helm_python.Chart, values: dict[str, Any] | None
) -> None:
    rendered = render(chart, values)
    scaled_objects = rendered.of_kind("ScaledObject")
    assert {scaled["spec"]["scaleTargetRef"]["name"] for scaled in scaled_objects} == set(
        WORKERS.values()
    )
    for scaled in scaled_objects:
        target = rendered.named("Deployment", scaled["spec"]["scaleTargetRef"]["name"])
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "postgresql"
        assert isinstance(trigger["metadata"]["targetQueryValue"], str)
        assert int(trigger["metadata"]["targetQueryValue"]) >= 1
        # What the query counts is tested against PostgreSQL in tests/integration.
        assert f"lane = '{worker_lane(rendered, target).value}'" in trigger["metadata"]["query"]


def test_each_worker_deployment_consumes_one_lane_with_its_concurrency(
    rendered: Rendered, value_set: str, app_env: pytest.MonkeyPatch
) -> None:
    values = merge(
        {"worker": {"interactive": {"concurrency": 4}, "bulk": {"concurrency": 1}}},
        values_of(value_set) or {},
    )
    for lane, name in WORKERS.items():
        env = env_of(rendered, the_container(rendered.named("Deployment", name)))
        for key, value in env.items():
            app_env.setenv(key, value)
        settings = Settings()
        assert settings.worker_lanes == [lane]
        assert settings.lane_concurrency(lane) == values["worker"][lane.value]["concurrency"]
        for key in env:
            app_env.delenv(key)


def test_trigger_authentication_reads_the_database_url_of_the_chart_secret(
    default_render: Rendered,
) -> None:
    (auth,) = default_render.of_kind("TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "connection", "name": FULLNAME, "key": "RELATORIA_AUTOSCALER_DATABASE_URL"}
    ]
    default_render.named("Secret", FULLNAME)
    for scaled in default_render.of_kind("ScaledObject"):
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]


def test_trigger_authentication_reads_the_existing_secret_when_set(
    production_render: Rendered,
) -> None:
    (auth,) = production_render.of_kind("TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"] == [
        {
            "parameter": "connection",
            "name": "relatoria-secrets",
            "key": "RELATORIA_AUTOSCALER_DATABASE_URL",
        }
    ]


@pytest.mark.parametrize(
    ("database_url", "libpq_url"),
    [
        ("postgresql+asyncpg://u:p@db:5432/relatoria", "postgresql://u:p@db:5432/relatoria"),
        (
            "postgresql+asyncpg://u:p@db:5432/relatoria?ssl=require",
            "postgresql://u:p@db:5432/relatoria?sslmode=require",
        ),
        (
            "postgresql+asyncpg://u:p@db/r?application_name=x&ssl=verify-full",
            "postgresql://u:p@db/r?application_name=x&sslmode=verify-full",
        ),
        ("postgresql://u:p@db/r?sslmode=require", "postgresql://u:p@db/r?sslmode=require"),
    ],
)
def test_the_chart_secret_holds_the_database_url_keda_reads(
    chart: helm_python.Chart, database_url: str, libpq_url: str
) -> None:
    rendered = render(chart, {"secrets": {"databaseUrl": database_url}})
    data = rendered.named("Secret", FULLNAME)["data"]
    assert base64.b64decode(data["RELATORIA_DATABASE_URL"]).decode() == database_url
    # libpq's form (KEDA's PostgreSQL trigger speaks libpq's URLs): no driver in the
    # scheme, TLS as `sslmode` (libpq sends unknown parameters to the server, which
    # refuses them).
    assert base64.b64decode(data["RELATORIA_AUTOSCALER_DATABASE_URL"]).decode() == libpq_url


def test_without_keda_each_worker_gets_a_cpu_hpa_instead(chart: helm_python.Chart) -> None:
    rendered = render(chart, {"keda": {"enabled": False}})
    assert rendered.of_kind("ScaledObject") == []
    assert rendered.of_kind("TriggerAuthentication") == []
    hpas = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa
        for hpa in rendered.of_kind("HorizontalPodAutoscaler")
    }
    assert set(hpas) == {BFF, *WORKERS.values()}
    for name in WORKERS.values():
        (metric,) = hpas[name]["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert "replicas" not in rendered.named("Deployment", name)["spec"]


def test_with_keda_no_hpa_scales_a_worker(rendered: Rendered) -> None:
    targets = {
        hpa["spec"]["scaleTargetRef"]["name"] for hpa in rendered.of_kind("HorizontalPodAutoscaler")
    }
    assert targets.isdisjoint(WORKERS.values())


def test_worker_deployments_leave_replicas_to_the_scaler(rendered: Rendered) -> None:
    for name in WORKERS.values():
        assert "replicas" not in rendered.named("Deployment", name)["spec"]


def test_interactive_lane_keeps_a_warm_worker_and_bulk_may_scale_to_zero(
    default_render: Rendered,
) -> None:
    replicas = {
        scaled["spec"]["scaleTargetRef"]["name"]: scaled["spec"]["minReplicaCount"]
        for scaled in default_render.of_kind("ScaledObject")
    }
    assert replicas[WORKERS[Lane.INTERACTIVE]] >= 1
    assert replicas[WORKERS[Lane.BULK]] == 0


def scale_down_window(rendered: Rendered, deployment: str) -> int:
    """How long the lane's autoscaler waits on lower demand before removing pods."""
    for kind in ("ScaledObject", "HorizontalPodAutoscaler"):
        for doc in rendered.of_kind(kind):
            if doc["spec"]["scaleTargetRef"]["name"] != deployment:
                continue
            spec = doc["spec"]
            behavior = (
                spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
                if kind == "ScaledObject"
                else spec["behavior"]
            )
            window: int = behavior["scaleDown"]["stabilizationWindowSeconds"]
            return window
    raise AssertionError(f"nothing scales {deployment}")


@pytest.mark.parametrize("keda", [True, False], ids=["keda", "cpu-hpa"])
@pytest.mark.parametrize("value_set_name", VALUE_SETS)
def test_a_running_export_is_not_scaled_away_before_its_time_limit(
    chart: helm_python.Chart, keda: bool, value_set_name: str, app_env: pytest.MonkeyPatch
) -> None:
    # Scaling down removes any pod, a busy one included (a CPU HPA does not even see the
    # export): only the autoscaler's patience keeps a busy bulk pod until its job's time
    # limit is reached.
    values = merge(values_of(value_set_name) or {}, {"keda": {"enabled": keda}})
    rendered = render(chart, values)
    deployment = rendered.named("Deployment", WORKERS[Lane.BULK])
    for key, value in env_of(rendered, the_container(deployment)).items():
        app_env.setenv(key, value)
    time_limit = Settings().job_timeout_seconds
    assert scale_down_window(rendered, WORKERS[Lane.BULK]) >= time_limit
    if keda:
        (scaled,) = [
            doc
            for doc in rendered.of_kind("ScaledObject")
            if doc["spec"]["scaleTargetRef"]["name"] == WORKERS[Lane.BULK]
        ]
        if scaled["spec"]["minReplicaCount"] == 0:
            assert scaled["spec"]["cooldownPeriod"] >= time_limit
    # Nor is its node consolidated away under it.
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert annotations["karpenter.sh/do-not-disrupt"] == "true"


@pytest.mark.parametrize(
    "values",
    [None, production_values(), {"worker": {"interactive": {"shutdownGraceSeconds": 7}}}],
    ids=["default", "production", "override"],
)
def test_worker_pods_outlive_their_shutdown_grace_by_the_margin(
    chart: helm_python.Chart, values: dict[str, Any] | None
) -> None:
    rendered = render(chart, values)
    graces = set()
    for name in WORKERS.values():
        deployment = rendered.named("Deployment", name)
        grace = float(plain_env(the_container(deployment))["RELATORIA_SHUTDOWN_GRACE_SECONDS"])
        graces.add(grace)
        termination = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert termination == grace + SHUTDOWN_MARGIN_SECONDS
    if values and "shutdownGraceSeconds" in values["worker"]["interactive"]:
        assert values["worker"]["interactive"]["shutdownGraceSeconds"] in graces


def test_default_bulk_grace_is_long_enough_for_exports(default_render: Rendered) -> None:
    bulk = the_container(default_render.named("Deployment", WORKERS[Lane.BULK]))
    interactive = the_container(default_render.named("Deployment", WORKERS[Lane.INTERACTIVE]))
    assert float(plain_env(bulk)["RELATORIA_SHUTDOWN_GRACE_SECONDS"]) >= 300
    assert float(plain_env(interactive)["RELATORIA_SHUTDOWN_GRACE_SECONDS"]) == 30


def test_worker_scratch_dir_is_a_size_limited_empty_dir(rendered: Rendered) -> None:
    limits = {}
    for lane, name in WORKERS.items():
        deployment = rendered.named("Deployment", name)
        container = the_container(deployment)
        temp_dir = plain_env(container)["RELATORIA_TEMP_DIR"]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == temp_dir]
        (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"]]
        limits[lane] = volume["emptyDir"]["sizeLimit"]
    assert limits[Lane.INTERACTIVE]
    assert limits[Lane.BULK]


def test_worker_liveness_probe_runs_the_workers_own_check_on_a_writable_file(
    rendered: Rendered, app_env: pytest.MonkeyPatch
) -> None:
    scripts = {entry.name: entry.value for entry in entry_points(group="console_scripts")}
    for name in WORKERS.values():
        deployment = rendered.named("Deployment", name)
        container = the_container(deployment)
        command = container["livenessProbe"]["exec"]["command"]
        assert scripts[command[0]] == "relatoria_worker.liveness:main"
        app_env.setenv("RELATORIA_LIVENESS_FILE", plain_env(container)["RELATORIA_LIVENESS_FILE"])
        liveness_file = Settings().liveness_file
        assert liveness_file
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert str(Path(liveness_file).parent) in mounts  # the root filesystem is read-only
        max_age = float(command[command.index("--max-age") + 1])
        assert max_age > float(plain_env(container).get("RELATORIA_HEARTBEAT_SECONDS", "5"))


# BFF


def test_bff_probes_hit_paths_the_app_serves_on_its_port(
    rendered: Rendered, app_env: pytest.MonkeyPatch
) -> None:
    container = the_container(rendered.named("Deployment", BFF))
    env = env_of(rendered, container)
    for key, value in env.items():
        app_env.setenv(key, value)
    settings = Settings()
    assert settings.bff_host == "0.0.0.0"
    # FastAPI (0.165) no longer flattens included routers into `app.routes`; the OpenAPI
    # document lists every path the app serves, and with which methods.
    served = create_app(settings).openapi()["paths"]
    routes = {path for path, operations in served.items() if "get" in operations}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["http"] == settings.bff_port
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in [*probes.values(), container["startupProbe"]["httpGet"]]:
        assert probe["path"] in routes
        assert ports.get(probe["port"], probe["port"]) == settings.bff_port


def test_config_map_is_read_by_the_real_settings(
    rendered: Rendered, value_set: str, app_env: pytest.MonkeyPatch
) -> None:
    for key, value in rendered.config_map().items():
        app_env.setenv(key, value)
    settings = Settings()
    config = merge(
        {"config": {"jwtAlgorithms": ["HS256"], "amqpNamespace": "relatoria"}},
        values_of(value_set) or {},
    )["config"]
    assert settings.jwt_algorithms == config["jwtAlgorithms"]
    assert settings.amqp_namespace == config["amqpNamespace"]
    assert settings.log_format == "json"
    assert settings.otlp_endpoint == (config.get("otlpEndpoint") or None)


def test_a_jwt_rotation_passes_both_secrets_to_the_settings(
    chart: helm_python.Chart, app_env: pytest.MonkeyPatch
) -> None:
    rendered = render(
        chart, {"secrets": {"jwtSecret": "new-secret", "jwtPreviousSecret": "old-secret"}}
    )
    secret = rendered.named("Secret", FULLNAME)["data"]
    for key, value in secret.items():
        app_env.setenv(key, base64.b64decode(value).decode())
    settings = Settings()
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == "new-secret"
    assert settings.jwt_previous_secret is not None
    assert settings.jwt_previous_secret.get_secret_value() == "old-secret"


def test_bff_outlasts_uvicorn_graceful_shutdown(rendered: Rendered) -> None:
    deployment = rendered.named("Deployment", BFF)
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
    # The pod keeps serving while endpoints and load balancers forget it, then drains.
    sleep, seconds = the_container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep == "sleep"
    assert int(seconds) >= 5
    assert grace > int(seconds) + UVICORN_GRACEFUL_SHUTDOWN_SECONDS


def test_bff_service_and_ingress_reach_the_container_port(production_render: Rendered) -> None:
    deployment = production_render.named("Deployment", BFF)
    service = production_render.named("Service", BFF)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    ingress = production_render.named("Ingress", BFF)
    assert ingress["spec"]["tls"][0]["secretName"] == "relatoria-tls"
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"] == {"name": BFF, "port": {"name": "http"}}


def ingress_routes(ingress: Doc, path: str) -> bool:
    """Whether `ingress` sends `path` to a backend (Exact, or Prefix by path element)."""
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            prefix = entry["path"].rstrip("/")
            if entry["pathType"] == "Exact" and path == entry["path"]:
                return True
            if entry["pathType"] == "Prefix" and (path == prefix or path.startswith(prefix + "/")):
                return True
    return False


def test_the_ingress_exposes_the_api_and_keeps_metrics_and_probes_inside(
    production_render: Rendered,
) -> None:
    ingress = production_render.named("Ingress", BFF)
    for path in ("/v1/reports", "/v1/reports/abc/download", "/generate", "/status/abc", "/docs"):
        assert ingress_routes(ingress, path), path
    for path in ("/metrics", "/healthz", "/readyz"):
        assert not ingress_routes(ingress, path), path


async def test_service_monitor_scrapes_the_bff_metrics(
    production_render: Rendered, app_env: pytest.MonkeyPatch
) -> None:
    (monitor,) = production_render.of_kind("ServiceMonitor")
    service = production_render.named("Service", BFF)
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # The app really serves that path, before (and without) any backing service.
    container = the_container(production_render.named("Deployment", BFF))
    for key, value in env_of(production_render, container).items():
        app_env.setenv(key, value)
    app = create_app(Settings(jwt_jwks_url="https://login.example.com/jwks.json"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bff") as client:
        response = await client.get(endpoint["path"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE relatoria_http_requests_total counter" in response.text


def test_pod_monitor_scrapes_each_workers_metrics_port(
    production_render: Rendered, app_env: pytest.MonkeyPatch
) -> None:
    (monitor,) = production_render.of_kind("PodMonitor")
    selector = monitor["spec"]["selector"]
    (expression,) = selector["matchExpressions"]
    assert expression["key"] == "app.kubernetes.io/component"
    assert expression["operator"] == "In"
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["reports"]}
    for name in WORKERS.values():
        deployment = production_render.named("Deployment", name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector["matchLabels"].items() <= labels.items()
        assert labels[expression["key"]] in expression["values"]
        container = the_container(deployment)
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        for key, value in env_of(production_render, container).items():
            app_env.setenv(key, value)
        assert ports[endpoint["port"]] == Settings().metrics_port == 9100
    assert endpoint["path"] == "/metrics"


def test_prometheus_rule_carries_the_alert_rule_file(
    production_render: Rendered, default_render: Rendered
) -> None:
    assert default_render.of_kind("PrometheusRule") == []
    (rule,) = production_render.of_kind("PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(ALERT_RULES.read_text())["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # infra/prometheus holds the same file, for a Prometheus without the operator.
    infra_copy = CHART_DIR.parents[1] / "infra" / "prometheus" / "relatoria-alerts.yaml"
    assert infra_copy.is_symlink()
    assert infra_copy.resolve() == ALERT_RULES.resolve()


def test_network_policies_open_only_the_bff_and_metrics_ports(
    production_render: Rendered,
) -> None:
    policies = {doc["metadata"]["name"]: doc for doc in production_render.of_kind("NetworkPolicy")}
    (rule,) = policies[BFF]["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert rule["from"]
    metrics_from = production_values()["networkPolicy"]["metricsFrom"]
    for name in WORKERS.values():
        assert policies[name]["spec"]["policyTypes"] == ["Ingress"]
        (rule,) = policies[name]["spec"]["ingress"]
        assert rule == {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": metrics_from}
        selector = policies[name]["spec"]["podSelector"]["matchLabels"]
        assert (
            selector
            == production_render.named("Deployment", name)["spec"]["selector"]["matchLabels"]
        )


# Pods: security, resources, disruption, spreading, rollouts


def test_no_container_runs_as_root_or_can_gain_privileges(rendered: Rendered) -> None:
    owners = rendered.pod_owners()
    assert len(owners) == 5  # 3 Deployments, the migrations Job, the cleanup CronJob
    for owner in owners:
        pod = pod_spec(owner)
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["securityContext"]["runAsUser"] != 0
        for container in containers(owner):
            security = container["securityContext"]
            run_as_non_root = security.get(
                "runAsNonRoot", pod["securityContext"].get("runAsNonRoot")
            )
            assert run_as_non_root is True
            assert security.get("runAsUser", pod["securityContext"]["runAsUser"]) != 0
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]


def test_every_container_has_requests_limits_and_a_writable_tmp(rendered: Rendered) -> None:
    for owner in rendered.pod_owners():
        volumes = {volume["name"]: volume for volume in pod_spec(owner)["volumes"]}
        for container in containers(owner):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys()
            assert "memory" in resources["limits"]
            (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert volumes[tmp["name"]]["emptyDir"]["sizeLimit"]


def test_every_deployment_has_a_disruption_budget_valid_at_zero_replicas(
    rendered: Rendered,
) -> None:
    budgets = rendered.of_kind("PodDisruptionBudget")
    for deployment in rendered.of_kind("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        (budget,) = [b for b in budgets if b["spec"]["selector"]["matchLabels"] == selector]
        assert "maxUnavailable" in budget["spec"]
        assert "minAvailable" not in budget["spec"]


def test_pods_spread_across_nodes_by_their_own_selector(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        (spread,) = pod_spec(deployment)["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
        assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
        assert (
            spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        )


def test_pods_read_the_config_map_and_secret_and_run_as_the_service_account(
    rendered: Rendered, value_set: str
) -> None:
    secret = "relatoria-secrets" if value_set == "production" else FULLNAME
    for deployment in rendered.of_kind("Deployment"):
        assert pod_spec(deployment)["serviceAccountName"] == FULLNAME
        env_from = the_container(deployment)["envFrom"]
        assert {"configMapRef": {"name": FULLNAME}} in env_from
        assert {"secretRef": {"name": secret}} in env_from


def test_a_config_change_rolls_every_deployment(
    chart: helm_python.Chart, default_render: Rendered
) -> None:
    changed = render(chart, {"config": {"logLevel": "DEBUG"}})
    for deployment in default_render.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        before = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        after = changed.named("Deployment", name)["spec"]["template"]["metadata"]["annotations"]
        assert after["checksum/config"] != before


def test_service_account_takes_the_irsa_role(production_render: Rendered) -> None:
    account = production_render.named("ServiceAccount", FULLNAME)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )


# Secrets


def test_existing_secret_replaces_the_chart_secret(production_render: Rendered) -> None:
    assert production_render.of_kind("Secret") == []
    refs = [
        source["secretRef"]["name"]
        for owner in production_render.pod_owners()
        for container in containers(owner)
        for source in container.get("envFrom", [])
        if "secretRef" in source
    ]
    assert refs
    assert set(refs) == {"relatoria-secrets"}


def test_the_chart_secret_leaves_out_empty_values(chart: helm_python.Chart) -> None:
    values = {"secrets": {"databaseUrl": "postgresql+asyncpg://u:p@db/r"}}
    rendered = render(chart, values)
    assert set(rendered.named("Secret", FULLNAME)["data"]) == {
        "RELATORIA_DATABASE_URL",
        "RELATORIA_AUTOSCALER_DATABASE_URL",  # KEDA's, on by default
    }
    rendered = render(chart, merge(values, {"keda": {"enabled": False}}))
    assert set(rendered.named("Secret", FULLNAME)["data"]) == {"RELATORIA_DATABASE_URL"}


# Migrations


def migration_job(rendered: Rendered) -> Doc:
    (job,) = rendered.of_kind("Job")
    return job


def test_migrations_run_before_install_and_upgrade_from_a_hook_secret(
    chart: helm_python.Chart,
) -> None:
    url = "postgresql+asyncpg://u:p@db:5432/relatoria"
    rendered = render(chart, {"secrets": {"databaseUrl": url}})
    job = migration_job(rendered)
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == HOOK_PHASES
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    assert job["spec"]["backoffLimit"] >= 0
    assert job["spec"]["activeDeadlineSeconds"] > 0
    container = the_container(job)
    assert container["command"] == ["relatoria-migrate"]
    assert "envFrom" not in container
    sources = [
        item["valueFrom"]["secretKeyRef"] for item in container["env"] if "valueFrom" in item
    ]
    assert sources == [{"name": f"{FULLNAME}-migrations", "key": "RELATORIA_DATABASE_URL"}]
    hook_secret = rendered.named("Secret", f"{FULLNAME}-migrations")
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == HOOK_PHASES
    assert hook_weight(hook_secret) < hook_weight(job)
    assert set(hook_secret["data"]) == {"RELATORIA_DATABASE_URL"}
    assert "helm.sh/hook" not in rendered.named("Secret", FULLNAME)["metadata"].get(
        "annotations", {}
    )


def test_migrations_read_the_existing_secret_when_set(production_render: Rendered) -> None:
    container = the_container(migration_job(production_render))
    (source,) = [item["valueFrom"]["secretKeyRef"] for item in container["env"]]
    assert source == {"name": "relatoria-secrets", "key": "RELATORIA_DATABASE_URL"}


def test_migrations_need_no_service_account_token(rendered: Rendered) -> None:
    pod = pod_spec(migration_job(rendered))
    assert pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod
    assert pod["restartPolicy"] == "Never"


def test_migrations_create_the_database_only_when_asked(
    default_render: Rendered, chart: helm_python.Chart
) -> None:
    assert "args" not in the_container(migration_job(default_render))
    asked = render(chart, {"migrations": {"createDatabase": True}})
    assert the_container(migration_job(asked))["args"] == ["--create-database"]


def test_migrations_can_be_turned_off(chart: helm_python.Chart) -> None:
    rendered = render(chart, {"migrations": {"enabled": False}})
    assert rendered.of_kind("Job") == []
    assert [s["metadata"]["name"] for s in rendered.of_kind("Secret")] == [FULLNAME]


# Artifact retention


def cleanup_job(rendered: Rendered) -> Doc:
    return rendered.named("CronJob", f"{FULLNAME}-cleanup")


def test_cleanup_runs_the_worker_images_admin_cleanup_every_hour(
    rendered: Rendered, value_set: str
) -> None:
    cron = cleanup_job(rendered)
    assert cron["apiVersion"] == "batch/v1"
    spec = cron["spec"]
    assert spec["schedule"] == "17 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1
    assert spec["failedJobsHistoryLimit"] >= 1
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0
    container = the_container(cron)
    worker = the_container(rendered.named("Deployment", WORKERS[Lane.INTERACTIVE]))
    assert container["image"] == worker["image"]
    # The command is the worker's real console script, and its parser knows `cleanup`.
    program, *args = container["command"]
    scripts = {entry.name: entry.value for entry in entry_points(group="console_scripts")}
    assert scripts[program] == "relatoria_worker.admin:main"
    assert build_admin_parser().parse_args(args).command == "cleanup"
    pod = pod_spec(cron)
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == FULLNAME  # S3 deletes through its IRSA role
    assert pod["automountServiceAccountToken"] is False
    secret = "relatoria-secrets" if value_set == "production" else FULLNAME
    assert {"configMapRef": {"name": FULLNAME}} in container["envFrom"]
    assert {"secretRef": {"name": secret}} in container["envFrom"]


def test_the_retention_reaches_the_settings_through_the_config_map(
    chart: helm_python.Chart, app_env: pytest.MonkeyPatch
) -> None:
    rendered = render(chart, {"config": {"artifactRetentionSeconds": 86_400}})
    env = env_of(rendered, the_container(cleanup_job(rendered)))
    assert env["RELATORIA_ARTIFACT_RETENTION_SECONDS"] == "86400"
    for key, value in env.items():
        app_env.setenv(key, value)
    assert Settings().artifact_retention_seconds == 86_400
    default = render(chart).config_map()["RELATORIA_ARTIFACT_RETENTION_SECONDS"]
    assert int(default) == Settings.model_fields["artifact_retention_seconds"].default


def test_cleanup_can_be_turned_off(chart: helm_python.Chart) -> None:
    rendered = render(chart, {"cleanup": {"enabled": False}})
    assert rendered.of_kind("CronJob") == []


# Values schema


@pytest.mark.parametrize(
    "values",
    [
        {"bff": {"replicaCount": "three"}},
        {"worker": {"interactive": {"keda": {"maxReplicaCount": 0}}}},
        {"worker": {"bulk": {"shutdownGraceSeconds": -1}}},
        {"worker": {"bulk": {"keda": {"targetRequestsPerReplica": "lots"}}}},
        {"bff": {"terminationGracePeriodSeconds": 10}},
        {"config": {"logFormat": "xml"}},
        {"config": {"amqpNamespace": "no spaces"}},
        {"config": {"jwtAlgorithms": ["none"]}},
        {"config": {"extra": {"LOG_LEVEL": "DEBUG"}}},
        {"podSecurityContext": {"runAsNonRoot": False, "runAsUser": 0}},
        {"worker": {"bulk": {"resources": {"limits": None}}}},
        {"replicas": 3},
        {"worker": {"lanes": ["bulk"]}},
        {"worker": {"metricsPort": 0}},
        {"prometheusRule": {"enabled": "yes"}},
        {"config": {"artifactRetentionSeconds": 59}},
        {"config": {"artifactRetentionSeconds": "7d"}},
        {"cleanup": {"schedule": ""}},
        {"cleanup": {"concurrencyPolicy": "Allow"}},
    ],
    ids=[
        "replicas-not-integer",
        "keda-max-zero",
        "negative-grace",
        "keda-target-not-integer",
        "bff-grace-below-uvicorn",
        "unknown-log-format",
        "bad-amqp-namespace",
        "unknown-jwt-algorithm",
        "extra-without-prefix",
        "root",
        "resources-without-limits",
        "unknown-top-level-key",
        "unknown-worker-key",
        "metrics-port-zero",
        "prometheus-rule-not-boolean",
        "retention-below-a-minute",
        "retention-not-integer",
        "cleanup-without-schedule",
        "unknown-cleanup-key",
    ],
)
def test_schema_refuses_bad_values(chart: helm_python.Chart, values: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        chart.render(values=values, name="rel", namespace="reports", is_install=True)


def test_schema_accepts_the_defaults_and_the_production_example(chart: helm_python.Chart) -> None:
    chart.validate_schema(None)
    chart.validate_schema(production_values())


def test_production_example_holds_no_secrets() -> None:
    values = production_values()
    assert values["existingSecret"]
    assert not any(values.get("secrets", {}).values())


def test_notes_say_how_to_reach_scale_and_debug(rendered: Rendered) -> None:
    assert "/readyz" in rendered.notes
    assert "logs job/rel-relatoria-migrations" in rendered.notes
    assert "relatoria.bulk" in rendered.notes
