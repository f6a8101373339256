"""The Snakemake workflow (workflow/Snakefile): the bundled sample end to end, reruns of only what
changed, and the real data in the shared data directory."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def run(config: Path, results: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run([str(SNAKEMAKE), "--cores", "1", "-s", "workflow/Snakefile", "--configfile", str(config),
                        "--config", f"results={results}", *extra], cwd=ROOT, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def jobs(p: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> jobs run, from Snakemake's 'Job stats' table."""
    text = p.stdout + p.stderr
    if "Job stats:" not in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def sample_config(tmp_path: Path) -> tuple[Path, Path]:
    """The sample config with absolute sources and the tree copied, so the test can change it."""
    tree = tmp_path / "fish-tree.nwk"
    shutil.copyfile(ROOT / "kg/sample/fish-tree.nwk", tree)
    cfg = tmp_path / "config.yaml"
    cfg.write_text((ROOT / "workflow/config/sample.yaml").read_text()
                   .replace("source: kg/sample/fish-tree.nwk", f"source: {tree}")
                   .replace("source: kg/", f"source: {ROOT}/kg/"))
    return cfg, tree


def test_sample_workflow_builds_a_release_and_reruns_only_what_changed(tmp_path):
    cfg, tree = sample_config(tmp_path)
    results = tmp_path / "results"
    first = run(cfg, results)
    assert jobs(first) == {"fetch": 6, "load_ontology": 1, "load_taxonomy": 1, "load_tree": 1, "load_phenotypes": 1,
                           "load_predictions": 1, "load_key": 1, "reason": 1, "infer": 1, "comparative": 1,
                           "hypothesize": 1, "export": 1, "index": 1, "all": 1}
    release = json.loads((results / "release/release.json").read_text())
    kinds = sorted(e["graph"].split("/graph/")[1].split("/")[0] for e in release["graphs"])
    assert kinds == ["closure", "closure", "comparative", "hypotheses", "inference", "key", "manifest", "ontology",
                     "phenotypes", "prediction-summary", "predictions", "taxonomy", "tree"]
    assert "| tree | sample |" in (results / "release/README.md").read_text()
    assert json.loads((results / "reports/inference.json").read_text())["kind"] == "inference"
    index = json.loads((results / "reports/index.json").read_text())  # the last step: what a server start reads
    kinds = {f.split("/")[0] for part in index["parts"] for f in part["written"]}
    assert {"terms", "termlabels", "stateinfo", "traitpages", "summarypages"} <= kinds
    assert {p.parent.name for p in (results / "store.cache").glob("*/*.npz")} >= kinds | {"trees", "phenoindex"}

    again = run(cfg, results)
    assert jobs(again) == {} and "Nothing to be done" in again.stdout + again.stderr

    tree.write_text(tree.read_text().replace("Cobitis_taenia:100.0", "Cobitis_taenia:100.5"))  # a new tree release
    changed = run(cfg, results)
    # the tree and what depends on it (OTU and prediction taxon names resolve against trees; the
    # ancestral states are on it); ontologies, closure and key stay
    assert jobs(changed) == {"fetch": 1, "load_tree": 1, "load_phenotypes": 1, "load_predictions": 1, "infer": 1,
                             "comparative": 1, "hypothesize": 1, "export": 1, "index": 1, "all": 1}
    trees = [e for e in json.loads((results / "release/release.json").read_text())["graphs"] if "/graph/tree/" in e["graph"]]
    assert len(trees) == 2  # the new version beside the old one: every intermediate result versioned


def test_workflow_refuses_a_source_whose_checksum_is_wrong(tmp_path):
    cfg, _ = sample_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("source: " + str(tmp_path / "fish-tree.nwk"),
                                           "source: " + str(tmp_path / "fish-tree.nwk") + "\n    sha256: '" + "0" * 64 + "'"))
    p = subprocess.run([str(SNAKEMAKE), "--cores", "1", "-s", "workflow/Snakefile", "--configfile", str(cfg),
                        "--config", f"results={tmp_path / 'r'}"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode != 0
    assert "does not match the expected " + "0" * 64 in p.stdout + p.stderr


@pytest.mark.slow
def test_shared_data_workflow(shared, tmp_path):
    import os

    env = {**os.environ, "TRAITKG_SHARED_DATA": str(shared)}
    results = tmp_path / "results"
    p = run(ROOT / "workflow/config/shared.yaml", results, env=env)
    assert jobs(p)["load_ontology"] == 3
    release = json.loads((results / "release/release.json").read_text())
    names = {e["graph"].split("/graph/")[1].rsplit("/", 1)[0] for e in release["graphs"]}
    assert {"ontology/uberon", "ontology/pato", "ontology/bspo", "tree/fishtree", "key/flora-of-victoria",
            "predictions/beetlepalooza-elytra",
            "taxonomy/fishtree-classification", "inference/presence-absence"} <= names
    assert any(n.startswith("comparative/") for n in names) and any(n.startswith("hypotheses/") for n in names)
    assert sum(1 for n in names if n.startswith("phenotypes/")) == 47


def test_slurm_profile_dry_run_spreads_rules_with_one_store_writer(tmp_path):
    """The cluster profile (workflow/profiles/slurm, SLURM executor plugin) plans the sample
    workflow: every rule a SLURM job with its resources, and every rule that writes the store holds
    the one `store` unit, so there is a single writer however many nodes run jobs."""
    cfg, _ = sample_config(tmp_path)
    p = subprocess.run([str(SNAKEMAKE), "-n", "-s", "workflow/Snakefile", "--configfile", str(cfg),
                        "--config", f"results={tmp_path / 'results'}", "--profile", "workflow/profiles/slurm"],
                       cwd=ROOT, capture_output=True, text=True)
    text = p.stdout + p.stderr
    assert p.returncode == 0, text[-3000:]
    assert "Using profiles workflow/profiles/slurm" in text
    assert jobs(p)["load_predictions"] == 1 and jobs(p)["fetch"] == 6
    blocks = {m.group(1): m.group(2) for m in re.finditer(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", text, re.M | re.S)}
    res = {rule: dict(kv.split("=", 1) for kv in re.search(r"resources: (.*)", body).group(1).split(", "))
           for rule, body in blocks.items() if "resources:" in body}
    writers = {"load_ontology", "reason", "load_taxonomy", "load_tree", "load_phenotypes", "infer",
               "load_predictions", "load_key", "comparative", "hypothesize", "export", "index"}
    assert {r for r, kv in res.items() if kv.get("store") == "1"} == writers
    assert "store" not in res["fetch"]  # fetching spreads over the nodes
    assert res["load_predictions"]["mem_mb"] == "16000" and res["load_predictions"]["cpus_per_task"] == "4"
    assert res["hypothesize"]["slurm_partition"] == "gpu"
    assert all(kv["slurm_partition"] for kv in res.values())
