"""The Compose stack (infra/compose.yaml): health, start order, scale, pinned images, named
volumes, and an env file whose dev-only values agree with the services they point at."""

import re
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.deploy_files import ROOT, dockerfile_stages, env_file

pytestmark = pytest.mark.unit

COMPOSE_DIR = ROOT / "infra"
ENV_EXAMPLE = COMPOSE_DIR / "compose.env.example"
APP_SERVICES = ("bff", "worker")
ONE_SHOTS = ("migrate", "create-bucket")
DEFAULT_SHUTDOWN_GRACE_SECONDS = 30.0


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _env() -> dict[str, str]:
    return env_file(ENV_EXAMPLE)


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, f"unexpected duration {duration!r}"
    return int(match[1]) * (60 if match[2] == "m" else 1)


def _published(service: dict[str, Any]) -> dict[int, str]:
    """Container port -> the host address:port it is published at."""
    published: dict[int, str] = {}
    for entry in service.get("ports", []):
        host_ip, host_port, container_port = str(entry).split(":")
        published[int(container_port)] = f"{host_ip}:{host_port}"
    return published


def _image_healthcheck(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if not build:
        return False
    final = dockerfile_stages(COMPOSE_DIR / build["context"] / build["dockerfile"])[-1]
    return bool(final.all("HEALTHCHECK"))


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in _services().items():
        if name in ONE_SHOTS:
            assert service.get("restart") == "no", f"{name} is a one-shot"
            continue
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), name
        test = healthcheck.get("test")
        if test is None:
            assert _image_healthcheck(service), f"{name}: no test here nor in its image"
        else:
            assert test[0] in ("CMD", "CMD-SHELL"), name
            assert test[1:] not in (["true"], ["exit 0"], ["/bin/true"]), f"{name}: a no-op"


def test_app_services_wait_for_healthy_backends_migrations_and_the_bucket() -> None:
    for name in APP_SERVICES:
        depends = _services()[name]["depends_on"]
        for backend in ("postgres", "rabbitmq", "redis"):
            assert depends[backend] == {"condition": "service_healthy"}, (name, backend)
        for one_shot in ONE_SHOTS:
            assert depends[one_shot] == {"condition": "service_completed_successfully"}


def test_migrations_run_from_the_bff_image_once_postgres_is_healthy() -> None:
    services = _services()
    migrate = services["migrate"]
    assert migrate["build"] == services["bff"]["build"]
    assert migrate["build"]["dockerfile"] == "services/bff/Dockerfile"
    command = [*migrate.get("entrypoint", []), *migrate.get("command", [])]
    assert command == ["relatoria-migrate", "--create-database"]
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_images_build_from_the_repository_root() -> None:
    for name, dockerfile in (("bff", "bff"), ("worker", "worker")):
        build = _services()[name]["build"]
        assert (COMPOSE_DIR / build["context"]).resolve() == ROOT
        assert build["dockerfile"] == f"services/{dockerfile}/Dockerfile"


def test_two_workers_that_outlive_their_shutdown_grace() -> None:
    worker = _services()["worker"]
    assert worker.get("deploy", {}).get("replicas", worker.get("scale")) == 2
    assert "container_name" not in worker, "a fixed name allows one replica only"
    grace = float(_env().get("RELATORIA_SHUTDOWN_GRACE_SECONDS", DEFAULT_SHUTDOWN_GRACE_SECONDS))
    assert _seconds(worker["stop_grace_period"]) > grace


def test_app_services_run_with_a_read_only_root_and_a_writable_tmp() -> None:
    for name in (*APP_SERVICES, "migrate"):
        service = _services()[name]
        assert service.get("read_only") is True, name
        assert "/tmp" in service.get("tmpfs", []), name


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in _services().items():
        image = service.get("image")
        if image is None:
            assert "build" in service, name
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image} is not pinned"
    majors = {"postgres": "15.", "rabbitmq": "3.13.", "redis": "7."}
    for name, prefix in majors.items():
        assert _services()[name]["image"].split(":")[1].startswith(prefix), name


def test_data_lives_in_named_volumes() -> None:
    declared = set(_compose()["volumes"])
    data = {
        "postgres": "/var/lib/postgresql/data",
        "rabbitmq": "/var/lib/rabbitmq",
        "redis": "/data",
        "minio": "/data",
    }
    for name, target in data.items():
        mounts = [str(v).split(":") for v in _services()[name]["volumes"]]
        (source,) = [m[0] for m in mounts if m[1] == target]
        assert source in declared, f"{name}'s data is not in a named volume"
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source, _, rest = str(volume).partition(":")
            if source.startswith((".", "/")):
                assert rest.endswith(":ro"), f"{name}: bind mount {volume} is writable"
                assert (COMPOSE_DIR / source).is_file(), volume


def test_rabbitmq_enables_management_and_prometheus() -> None:
    mounts = {}
    for volume in _services()["rabbitmq"]["volumes"]:
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    plugins = (COMPOSE_DIR / mounts["/etc/rabbitmq/enabled_plugins"]).read_text()
    assert plugins.strip() == "[rabbitmq_management,rabbitmq_prometheus]."


def test_app_services_read_the_committed_env_file() -> None:
    for name in (*APP_SERVICES, "migrate"):
        (entry,) = _services()[name]["env_file"]
        default = re.fullmatch(r"\$\{RELATORIA_COMPOSE_ENV_FILE:-([^}]+)\}", entry)
        assert default, f"{name}: {entry}"
        assert COMPOSE_DIR / default[1] == ENV_EXAMPLE
    assert ENV_EXAMPLE.is_file()


def test_the_real_env_file_is_ignored_by_git() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        [git, "check-ignore", "-q", "infra/compose.env"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
    example = subprocess.run(
        [git, "check-ignore", "-q", "infra/compose.env.example"], cwd=ROOT, check=False
    )
    assert example.returncode == 1


def test_the_env_file_example_holds_only_dev_placeholders() -> None:
    text = ENV_EXAMPLE.read_text()
    assert "DEV-ONLY" in text
    assert not re.search(r"AKIA[0-9A-Z]{16}|-----BEGIN|ghp_|xox[bp]-", text)
    for key, value in _env().items():
        if value in {"true", "false"}:  # a switch, whatever its name says
            continue
        secret = urlsplit(value).password if "://" in value else value
        if re.search(r"SECRET|PASSWORD|PASS\b|_KEY", key) or "://" in value:
            assert not secret or "dev" in secret, f"{key} looks like a real secret"


def test_env_file_points_at_the_stacks_services_with_their_credentials() -> None:
    env, services = _env(), _services()
    database = urlsplit(env["RELATORIA_DATABASE_URL"])
    postgres = services["postgres"]["environment"]
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]

    broker = urlsplit(env["RELATORIA_AMQP_URL"])
    conf = (COMPOSE_DIR / "rabbitmq/20-relatoria.conf").read_text()
    assert (broker.hostname, broker.port) == ("rabbitmq", 5672)
    assert re.search(rf"^default_user = {broker.username}$", conf, re.M)
    assert re.search(rf"^default_pass = {broker.password}$", conf, re.M)

    assert urlsplit(env["RELATORIA_REDIS_URL"]).hostname == "redis"

    minio = services["minio"]
    assert env["RELATORIA_S3_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
    assert env["RELATORIA_S3_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]
    assert urlsplit(env["RELATORIA_S3_ENDPOINT_URL"]).netloc == "minio:9000"
    public = urlsplit(env["RELATORIA_S3_PUBLIC_ENDPOINT_URL"]).netloc
    assert _published(minio)[9000] == public, "browsers could not fetch presigned URLs"


def test_the_bucket_job_creates_the_configured_bucket() -> None:
    job = _services()["create-bucket"]
    assert job["image"].startswith(("minio/mc:", "quay.io/minio/mc:"))
    assert job["depends_on"]["minio"] == {"condition": "service_healthy"}
    alias_url = urlsplit(job["environment"]["MC_HOST_relatoria"])
    minio = _services()["minio"]["environment"]
    assert (alias_url.username, alias_url.password) == (
        minio["MINIO_ROOT_USER"],
        minio["MINIO_ROOT_PASSWORD"],
    )
    assert job["command"][-1] == f"relatoria/{_env()['RELATORIA_S3_BUCKET']}"


def test_published_ports_stay_on_loopback() -> None:
    for name, service in _services().items():
        for address in _published(service).values():
            assert address.startswith("127.0.0.1:"), f"{name} publishes {address}"
    assert _published(_services()["bff"])[8000] == "127.0.0.1:8000"


def test_healthcheck_of_the_bff_asks_for_readiness() -> None:
    test = _services()["bff"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "/readyz" in test[3]
    compile(test[3], "<healthcheck>", "exec")
