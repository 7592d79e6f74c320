"""The two container images: what their Dockerfiles install and how the result runs,
the lock that keeps the BFF's and the worker's dependencies apart, the build context."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.support.deploy_files import (
    ROOT,
    DockerIgnore,
    Stage,
    context_files,
    copied_sources,
    dockerfile_stages,
)

pytestmark = pytest.mark.unit

PYTHON_BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")
UV_IMAGE = re.compile(r"^ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+$")
COMPILERS = ("gcc", "g++", "clang", "build-essential", "make", "cc ")


@dataclass(frozen=True)
class Image:
    name: str
    dockerfile: Path
    member: str
    member_dir: str
    entrypoint: str
    # Distributions the image must hold, and ones it must not (another member's).
    needs: tuple[str, ...]
    never: tuple[str, ...]


BFF = Image(
    name="bff",
    dockerfile=ROOT / "services/bff/Dockerfile",
    member="relatoria-bff",
    member_dir="services/bff",
    entrypoint="relatoria-bff",
    needs=("fastapi", "uvicorn", "pyjwt", "alembic"),
    never=("openpyxl", "reportlab", "rl-accel", "lxml", "mangum", "faker"),
)
WORKER = Image(
    name="worker",
    dockerfile=ROOT / "services/worker/Dockerfile",
    member="relatoria-worker",
    member_dir="services/worker",
    entrypoint="relatoria-worker",
    needs=("openpyxl", "reportlab", "rl-accel", "aio-pika"),
    never=("fastapi", "uvicorn", "starlette", "mangum", "pyjwt", "faker"),
)
IMAGES = pytest.mark.parametrize("image", [BFF, WORKER], ids=lambda i: i.name)


def _final(image: Image) -> Stage:
    return dockerfile_stages(image.dockerfile)[-1]


def _builder(image: Image) -> Stage:
    stages = dockerfile_stages(image.dockerfile)
    assert len(stages) >= 2, f"{image.dockerfile} is not multi-stage"
    (builder,) = [s for s in stages if s.name == "builder"]
    return builder


def _uv_syncs(stage: Stage) -> list[list[str]]:
    return [
        words[words.index("uv") :]
        for run in stage.all("RUN")
        if "uv" in (words := run.words()) and "sync" in words
    ]


def _workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[str] = root["tool"]["uv"]["workspace"]["members"]
    return members


def _runs(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _uv() -> list[str]:
    """A command that runs uv: the one running these tests, on PATH, or python3 -m uv."""
    for candidate in (os.environ.get("UV"), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return [candidate]
    for python in (sys.executable, shutil.which("python3")):
        if python and _runs([python, "-m", "uv", "--version"]):
            return [python, "-m", "uv"]
    pytest.fail("uv is not available: run `make install`")


@cache
def _locked_distributions(member: str) -> frozenset[str]:
    """What `uv sync --locked --no-dev --package member` installs, by the lock."""
    exported = subprocess.run(
        [
            *_uv(),
            "export",
            "--locked",
            "--no-dev",
            "--package",
            member,
            "--no-hashes",
            "--no-header",
            "--no-emit-workspace",
            "--color",
            "never",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {
        re.split(r"[=<>;\[ ]", line.strip(), maxsplit=1)[0].lower()
        for line in exported.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    }
    return frozenset(names)


@IMAGES
def test_final_stage_runs_as_a_non_root_user_without_a_login_shell(image: Image) -> None:
    final = _final(image)
    users = final.all("USER")
    assert users, "the final stage sets no USER: it would run as root"
    assert users[-1].args == "10001:10001"
    created = " ".join(i.args for i in final.all("RUN"))
    assert re.search(r"useradd\b.*--uid 10001\b.*--gid 10001\b", created)
    assert re.search(r"--shell /usr/sbin/nologin\b", created)
    # Nothing after USER switches back.
    after = final.instructions[final.instructions.index(users[-1]) + 1 :]
    assert not [i for i in after if i.keyword == "RUN"]


@IMAGES
def test_final_stage_holds_no_uv_no_compilers_and_only_the_venv(image: Image) -> None:
    final = _final(image)
    text = final.text()
    assert not re.search(r"\buvx?\b", text.replace("--from=builder", "")), "uv in the image"
    assert not re.search(r"apt-get|apk add|pip install", text)
    for compiler in COMPILERS:
        assert compiler not in text
    copies = [i.words() for i in final.all("COPY")]
    assert copies == [["--from=builder", "/opt/venv", "/opt/venv"]]
    assert "UV_CACHE_DIR" not in text


@IMAGES
def test_bases_are_pinned_and_the_same_in_both_stages(image: Image) -> None:
    stages = dockerfile_stages(image.dockerfile)
    bases = {s.base for s in stages}
    assert len(bases) == 1, f"builder and runtime bases differ: {bases}"
    assert PYTHON_BASE.match(bases.pop())
    uv_copies = [
        w.removeprefix("--from=")
        for i in _builder(image).all("COPY")
        for w in i.words()
        if w.startswith("--from=")
    ]
    assert len(uv_copies) == 1
    assert UV_IMAGE.match(uv_copies[0]), f"uv image not pinned to a version: {uv_copies[0]}"


@IMAGES
def test_the_builder_installs_only_its_own_member_from_the_lock(image: Image) -> None:
    syncs = _uv_syncs(_builder(image))
    assert len(syncs) == 2
    for sync in syncs:
        for flag in ("--locked", "--no-dev", "--no-editable", "--compile-bytecode"):
            assert flag in sync, f"{flag} missing from {sync}"
        assert sync[sync.index("--package") + 1] == image.member
        assert not {"--all-packages", "--all-extras", "--extra", "--frozen"} & set(sync)
    env = " ".join(i.args for i in _builder(image).all("ENV"))
    for setting in ("UV_PROJECT_ENVIRONMENT=/opt/venv", "UV_LINK_MODE=copy"):
        assert setting in env
    assert "UV_PYTHON_DOWNLOADS=never" in env


@IMAGES
def test_dependencies_are_installed_before_the_sources_are_copied(image: Image) -> None:
    builder = _builder(image)
    order = builder.instructions
    runs = [i for i in order if i.keyword == "RUN" and "sync" in i.words()]
    first, second = runs
    assert "--no-install-workspace" in first.words()
    assert "--no-install-workspace" not in second.words()
    for run in runs:
        assert "--mount=type=cache,target=/root/.cache/uv" in run.words()
    before = [s for i in order[: order.index(first)] if i.keyword == "COPY" for s in i.words()]
    expected = {"uv.lock", "pyproject.toml"} | {f"{m}/pyproject.toml" for m in _workspace_members()}
    assert expected <= set(before), "every member's pyproject comes before the first sync"
    assert not [s for s in before if s.endswith("/src")], "sources before the dependencies"
    between = copied_sources(Stage("", None, order[order.index(first) : order.index(second)]))
    assert f"{image.member_dir}/src" in between
    assert "shared/src" in between


@IMAGES
def test_entrypoint_is_the_members_console_script(image: Image) -> None:
    final = _final(image)
    (entrypoint,) = final.all("ENTRYPOINT")
    assert json.loads(entrypoint.args) == [image.entrypoint]
    project = tomllib.loads((ROOT / image.member_dir / "pyproject.toml").read_text())
    assert image.entrypoint in project["project"]["scripts"]
    env = " ".join(i.args for i in final.all("ENV"))
    assert "PATH=/opt/venv/bin:$PATH" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


@IMAGES
def test_oci_labels_are_set(image: Image) -> None:
    labels = " ".join(i.args for i in _final(image).all("LABEL"))
    for key in ("title", "description", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert f'org.opencontainers.image.title="{image.member}"' in labels
    args = {i.args.split("=")[0] for i in _final(image).all("ARG")}
    assert "VERSION" in args


@IMAGES
def test_healthcheck_is_a_real_probe(image: Image) -> None:
    (healthcheck,) = _final(image).all("HEALTHCHECK")
    command = json.loads(healthcheck.args[healthcheck.args.index("CMD") + 3 :].strip())
    if image is BFF:
        assert command[:2] == ["python", "-c"]
        compile(command[2], "<healthcheck>", "exec")
        assert "/healthz" in command[2]
    else:
        scripts = {entry.name: entry.value for entry in entry_points(group="console_scripts")}
        assert scripts[command[0]] == "relatoria_worker.liveness:main"
        assert "--max-age" in command


def test_bff_listens_on_all_interfaces_at_the_exposed_port() -> None:
    final = _final(BFF)
    env = " ".join(i.args for i in final.all("ENV"))
    assert "RELATORIA_BFF_HOST=0.0.0.0" in env
    assert "RELATORIA_BFF_PORT=8000" in env
    assert [i.args for i in final.all("EXPOSE")] == ["8000"]


def test_worker_writes_only_under_tmp() -> None:
    env = " ".join(i.args for i in _final(WORKER).all("ENV"))
    assert "RELATORIA_TEMP_DIR=/tmp" in env
    assert "RELATORIA_LIVENESS_FILE=/tmp/" in env


@IMAGES
def test_the_lock_keeps_each_image_to_its_own_dependencies(image: Image) -> None:
    installed = _locked_distributions(image.member)
    missing = set(image.needs) - installed
    assert not missing, f"{image.member} lacks {missing}"
    leaked = set(image.never) & installed
    assert not leaked, f"{image.member}'s install would include {leaked}"


def test_worker_fonts_are_package_data() -> None:
    fonts = ROOT / "services/worker/src/relatoria_worker/renderers/fonts"
    assert sorted(p.suffix for p in fonts.iterdir() if p.suffix == ".ttf") == [".ttf", ".ttf"]
    project = tomllib.loads((ROOT / "services/worker/pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel == {"packages": ["src/relatoria_worker"]}, "a wheel filter may drop the fonts"


@IMAGES
def test_the_build_context_holds_every_file_the_dockerfile_copies(image: Image) -> None:
    ignore = DockerIgnore(ROOT / ".dockerignore")
    sources = copied_sources(_builder(image))
    files = [f for s in sources for f in context_files(s)]
    assert any(f.endswith(".ttf") for f in files) or image is BFF
    dropped = [f for f in files if ignore.excludes(f)]
    assert not dropped, f".dockerignore drops files the build copies: {dropped}"


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "tests/unit/test_images.py",
        "tests/bench/results/run.json",
        "helm/relatoria/values.yaml",
        "docs/deploy.md",
        ".env.dev",
        "infra/compose.env",
        ".mypy_cache/3.11/x.json",
        "shared/src/relatoria_shared/__pycache__/settings.cpython-311.pyc",
        "downloads/report.xlsx",
    ],
)
def test_the_build_context_leaves_out(path: str) -> None:
    assert DockerIgnore(ROOT / ".dockerignore").excludes(path)


def test_dockerignore_reader_follows_dockers_rules() -> None:
    ignore = DockerIgnore(ROOT / ".dockerignore")
    assert not ignore.excludes("uv.lock")
    assert not ignore.excludes(".env.prod.example")  # examples are let back in
    assert ignore.excludes("services/bff/src/relatoria_bff/__pycache__/app.cpython-311.pyc")
