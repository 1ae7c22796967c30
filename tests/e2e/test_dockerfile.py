"""The repository's Dockerfile builds an image that runs fcaudit as a non-root user.

Where docker (or podman) and its daemon are available, the image is built from this checkout and run:
``--version``, then the demo with the network off (it needs nothing but loopback). Elsewhere the test
skips and says why. The base image is ``python:3.12-slim`` unless ``FCAUDIT_DOCKER_BASE`` names another
one with Python >= 3.11 (a mirror, or a local image on a machine without a registry); a base that cannot
be had is a skip, not a failure: it says nothing about the Dockerfile. The build installs fcaudit's
dependencies from PyPI (network), so it takes a minute or more: marked ``docker``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import crawler

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE = "python:3.12-slim"

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1500)]


def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def _tool() -> str:
    """docker or podman, with a daemon that answers; else the test skips naming what is missing."""
    reasons = []
    for name in ("docker", "podman"):
        path = shutil.which(name)
        if path is None:
            reasons.append(f"no {name} on PATH")
            continue
        try:
            info = _run([path, "info"], timeout=30)
        except subprocess.TimeoutExpired:
            reasons.append(f"'{name} info' did not answer in 30 s")
            continue
        if info.returncode == 0:
            return path
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        reasons.append(f"'{name} info' failed: {last[:160]}")
    pytest.skip("no container engine to build the Dockerfile with: " + "; ".join(reasons))


def _base(tool: str) -> str:
    base = os.environ.get("FCAUDIT_DOCKER_BASE", DEFAULT_BASE)
    if _run([tool, "image", "inspect", base], timeout=30).returncode == 0:
        return base
    pulled = _run([tool, "pull", base], timeout=300)
    if pulled.returncode != 0:
        last = (pulled.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(
            f"the base image {base} cannot be had ({last[:160]}); set FCAUDIT_DOCKER_BASE to a local image "
            "with Python >= 3.11"
        )
    return base


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[str, str]]:
    tool = _tool()
    base = _base(tool)
    tag = f"fcaudit-test:{uuid.uuid4().hex[:12]}"
    # --network host: the build's pip reaches PyPI even on a daemon started without a bridge network
    built = _run(
        [tool, "build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={base}", "-t", tag, str(ROOT)],
        timeout=1200,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    try:
        yield tool, tag
    finally:
        _run([tool, "rmi", "-f", tag], timeout=120)


def test_the_image_runs_fcaudit_as_a_non_root_user(image: tuple[str, str]) -> None:
    tool, tag = image
    config = _run([tool, "image", "inspect", "-f", "{{json .Config.Entrypoint}} {{.Config.User}}", tag], 60)
    assert config.stdout.split() == ['["fcaudit"]', "10001:10001"]
    version = _run([tool, "run", "--rm", "--network", "none", tag, "--version"], timeout=120)
    assert version.returncode == 0, version.stderr
    lines = version.stdout.splitlines()
    assert lines[0] == f"fcaudit {crawler.__version__}"
    assert any(line.startswith("uvloop ") for line in lines)  # the image installs the uvloop extra


def test_the_demo_runs_in_the_image_without_a_network(image: tuple[str, str]) -> None:
    tool, tag = image
    argv = [tool, "run", "--rm", "--network", "none", tag, "demo", "--functions", "120", "--role"]
    demo = _run(argv, timeout=300)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "crawled 120 functions" in demo.stdout
    assert "STS answered 1 AssumeRole" in demo.stdout  # through the role, STS on the container's loopback
    assert "report.html in fcaudit-demo" in demo.stdout  # written into the non-root user's home


def test_the_build_context_holds_only_what_the_image_is_built_from() -> None:
    """The .dockerignore lets in the package and its metadata, nothing else (no .git, .venv, tests)."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "LICENSE", "crawler"}
    copied = {
        part
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for part in line.split()[1:-1]
    }
    assert copied <= allowed
