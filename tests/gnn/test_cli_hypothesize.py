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


@pytest.mark.slow
def test_all_three_tasks_from_the_cli(tmp_path):
    """imputation (with the ablation and GATConv), link prediction and placement as subprocesses;
    the JSON is valid (no NaN) and every method's validation and test figures are in it."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _worlds import gappy_sample

    store = f"oxigraph:{tmp_path / 'kg'}"
    gappy_sample(tmp_path, selector=store).close()
    p = run(store, "hypothesize", "--epochs", "4", "--min-taxa", "3", "--split", "clade", "--ablation",
            "--conv", "gat")
    assert p.returncode == 0, p.stderr
    for text in ("val 95% CI", "label-propagation", "gnn-no-ontology", "ablation gnn-plain", "limit: all",
                 "violations of the written hypotheses"):
        assert text in p.stdout, text
    p = run(store, "hypothesize", "--task", "linkpred", "--epochs", "4", "--min-taxa", "3", "--limit", "5",
            "--format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert set(out["methods"]) == {"marginal", "label-propagation", "phylo-nn", "model"}
    assert {"mrr", "hits@1", "hits@3", "hits@10", "mrr_ci"} <= set(out["methods"]["model"]["test"])
    assert out["gate"]["metric"] == "MRR" and out["hypotheses"] == out["limit"]["kept"] <= 5
    p = run(store, "hypothesize", "--task", "placement", "--min-taxa", "3", "--format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert out["gate"]["model_val"] is None and out["limit"]["left_out"] == 0
    runs = json.loads(run(store, "hypothesize", "--list", "--format", "json").stdout)
    assert {h["predicate"] for h in runs} >= {"tkg:hasPresenceOf"}
