"""The container images: hadolint finds nothing in either Dockerfile (Docker itself cannot build
here), and each copies every package the project installs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HADOLINT = Path(sys.executable).with_name("hadolint")
DOCKERFILES = ["Dockerfile", "Dockerfile.cuda"]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_finds_nothing(name):
    p = subprocess.run([str(HADOLINT), "--no-color", "--failure-threshold", "info", name], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_copies_every_installed_package_and_serves_with_a_healthcheck(name):
    text = (ROOT / name).read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, re.M))
    assert {p.rstrip("*") for p in packages} <= copied
    assert "HEALTHCHECK" in text and "/health" in text
    assert 'CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]' in text
    assert "VOLUME [\"/data\"]" in text and "TRAITKG_STORE=oxigraph:/data/store" in text
