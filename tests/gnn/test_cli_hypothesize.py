"""`traitkg hypothesize` as a real subprocess on the bundled sample: a run written into the KG and
listed back, the checkpoint on disk, and the one-line errors (CUDA absent, too few examples)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
EXE = str(Path(sys.executable).parent / "traitkg")
ROOT = Path(__file__).resolve().parents[2]


def run(store: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([EXE, "--store", store, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_hypothesize_writes_lists_and_refuses(tmp_path):
    store = f"oxigraph:{tmp_path / 'kg'}"
    assert run(store, "demo", "--no-serve").returncode == 0
    p = run(store, "hypothesize", "--epochs", "10", "--min-taxa", "3", "--checkpoint", str(tmp_path / "ck"),
            "--format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "loaded" and out["gate"]["chosen"] in ("model", out["gate"]["best_baseline"])
    assert (tmp_path / "ck" / "model.safetensors").is_file() and (tmp_path / "ck" / "config.json").is_file()
    listed = json.loads(run(store, "hypothesize", "--list", "--format", "json").stdout)
    assert len(listed) == out["hypotheses"] and all(h["run"] == out["run"] for h in listed)
    if not torch.cuda.is_available():
        p = run(store, "hypothesize", "--device", "cuda")
        assert p.returncode == 2 and "CUDA is not available" in p.stderr and "Traceback" not in p.stderr
    p = run(store, "hypothesize", "--min-taxa", "1000")
    assert p.returncode == 2 and "too few labelled examples: 32 taxa" in p.stderr
