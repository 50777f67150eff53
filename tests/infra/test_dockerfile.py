"""The Dockerfile (static: no Docker engine here): two targets, the gateway without the data
stack, unprivileged, health-checked, pinned."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_STACK = ("polars", "pyarrow", "scipy", "numpy", "pandas", "rapidfuzz", "jellyfish", "flower")


def _stages() -> dict[str, list[str]]:
    """Instructions per stage (line continuations joined), keyed by stage name."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    stages: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(2) or m.group(1)
            stages[current] = [line]
        else:
            stages[current].append(line)
    return stages


def _chain(stages: dict[str, list[str]], name: str) -> list[str]:
    """The stage and every stage it is built FROM (its effective instructions)."""
    out: list[str] = []
    while name in stages:
        out = stages[name] + out
        name = stages[name][0].split()[1]
    return out


def test_targets_exist_and_run_unprivileged_with_a_healthcheck() -> None:
    stages = _stages()
    for target in ("gateway", "worker"):
        assert target in stages
        instructions = _chain(stages, target)
        users = [i.split()[1] for i in instructions if i.upper().startswith("USER ")]
        assert users and users[-1].split(":")[0] not in ("0", "root"), target
        assert any(i.upper().startswith("HEALTHCHECK ") for i in stages[target]), target
        assert any(i.upper().startswith("CMD ") for i in stages[target]), target


def test_gateway_installs_the_base_package_and_worker_the_worker_extra() -> None:
    stages = _stages()
    copies = {
        t: next(i for i in stages[t] if i.startswith("COPY --from=")).split()[1].split("=")[1]
        for t in ("gateway", "worker")
    }
    installs = {
        t: " ".join(i for i in _chain(stages, copies[t]) if "pip install" in i)
        for t in ("gateway", "worker")
    }
    assert "pip install ." in installs["gateway"]
    assert "[worker]" not in installs["gateway"]
    assert ".[worker]" in installs["worker"]


def test_base_image_is_pinned() -> None:
    text = (ROOT / "Dockerfile").read_text()
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert image.startswith("python:3.11")
    assert "@sha256:" in image or re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", image), image
    stages = _stages()
    for source in re.findall(r"^FROM\s+(\S+)", text, re.M):
        assert source == "${PYTHON_IMAGE}" or source in stages, f"unpinned FROM {source}"


def test_copied_paths_exist_and_are_not_ignored() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var"} <= ignored
    for instr in (i for s in _stages().values() for i in s):
        if instr.startswith("COPY ") and "--from=" not in instr:
            for src in instr.split()[1:-1]:
                assert (ROOT / src).exists(), src
                assert src.rstrip("/") not in ignored, src


def test_entry_points_of_the_images_exist() -> None:
    """The migration/CLI and the API run from the gateway image; Flower from the worker's."""
    from gateway.cli import app  # noqa: F401 - the `agensium` console script
    from workers.app import app as celery_app

    assert celery_app.main == "agensium"
    assert (ROOT / "gateway" / "__main__.py").exists()
    assert (ROOT / "alembic.ini").exists() and (ROOT / "migrations" / "env.py").exists()


BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed in the gateway image")
sys.meta_path.insert(0, Block())
import gateway.app, gateway.cli, gateway.cli.infra, workers.app, workers.enqueue, migrations.apply
from gateway.cli import app
print("ok")
"""


@pytest.mark.timeout(120)
def test_the_gateway_runs_without_the_data_stack() -> None:
    """What the gateway image leaves out, the gateway, the CLI and the migrations never import."""
    out = subprocess.run(
        [sys.executable, "-c", BLOCKER, ",".join(DATA_STACK)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "OTEL_ENABLED": "false"},
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
