"""The `traitkg` command line, run as a real subprocess (as Snakemake rules would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "traitkg")


def run(*args: str, store: str | None = None, env: dict | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    cmd = [EXE] + (["--store", store] if store else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def assert_user_error(p: subprocess.CompletedProcess, *fragments: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("traitkg: error: "), p.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_help_lists_commands():
    out = run("--help").stdout
    for cmd in ("load", "graphs", "drop", "export", "import", "query", "demo"):
        assert f"  {cmd}" in out


def test_load_list_query_drop_export_import(tmp_path, toy):
    store = f"oxigraph:{tmp_path / 'kg'}"
    out = run("load", "rdf", str(toy / "rdf" / "toy.ttl"), "--name", "toy", "--version", "1", store=store).stdout
    assert out.startswith("loaded: rdf/toy/1")
    again = run("load", "rdf", str(toy / "rdf" / "toy.ttl"), "--name", "toy", "--version", "1", store=store).stdout
    assert again.startswith("unchanged: rdf/toy/1")
    graphs = json.loads(run("graphs", "--format", "json", store=store).stdout)
    assert [(g["kind"], g["name"], g["version"]) for g in graphs] == [("rdf", "toy", "1")]
    q = 'SELECT ?l WHERE { UBERON:0000151 rdfs:label ?l }'
    assert run("query", q, "--format", "csv", store=store).stdout == "l\npectoral fin\n"
    assert json.loads(run("query", q, "--format", "json", store=store).stdout) == [{"l": "pectoral fin"}]
    table = run("query", "SELECT ?c WHERE { ?c rdfs:subClassOf UBERON:0008897 }", store=store).stdout
    assert "UBERON:0000151" in table  # CURIEs in tables
    assert run("query", "ASK { ?s ?p ?o }", store=store).stdout.strip() == "true"
    run("export", str(tmp_path / "rel"), store=store)
    run("drop", "rdf/toy/1", store=store)
    assert json.loads(run("graphs", "--format", "json", store=store).stdout) == []
    run("import", str(tmp_path / "rel"), store=store)
    assert run("query", q, "--format", "tsv", store=store).stdout == "l\npectoral fin\n"


def test_store_from_environment(tmp_path, toy):
    env = {"TRAITKG_STORE": f"oxigraph:{tmp_path / 'envstore'}"}
    run("load", "rdf", str(toy / "rdf" / "toy.nt"), env=env)
    assert (tmp_path / "envstore").is_dir()


def test_graphs_diff(tmp_path, toy):
    store = f"oxigraph:{tmp_path / 'kg'}"
    run("load", "rdf", str(toy / "rdf" / "toy.nt"), "--name", "t", "--version", "a", store=store)
    run("load", "rdf", str(toy / "rdf" / "toy.rdf"), "--name", "t", "--version", "b", store=store)
    d = json.loads(run("graphs", "diff", "rdf/t/a", "rdf/t/b", "--json", store=store).stdout)
    assert d["removed"] == 1 and d["added"] == 1  # fin's label out, rdf:type owl:Class in


@pytest.mark.parametrize("args,fragments", [
    (["load", "rdf", "/nonexistent/x.ttl"], ["/nonexistent/x.ttl", "no such file"]),
    (["load", "rdf", "{toy}/rdf/toy.jsonld", "--format", "excel"], ["excel"]),
    (["drop", "nothing"], ["no graph 'nothing'"]),
    (["query", "SELECT ?s WHERE { ?s ?p }"], ["malformed SPARQL"]),
    (["import", "{tmp}"], ["release.json is missing"]),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path, toy, args, fragments):
    args = [a.replace("{toy}", str(toy)).replace("{tmp}", str(tmp_path)) for a in args]
    assert_user_error(run(*args, store=f"oxigraph:{tmp_path / 'kg'}", ok=False), *fragments)


def test_malformed_turtle_reports_file_and_line(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text('<http://e.org/a> <http://e.org/b> <http://e.org/c> .\n<http://e.org/a> <http://e.org/b> "x .\n')
    assert_user_error(run("load", "rdf", str(bad), store=f"oxigraph:{tmp_path / 'kg'}", ok=False), "bad.ttl:2")


def test_unknown_store_scheme(tmp_path):
    assert_user_error(run("graphs", store="postgres:db", ok=False), "unknown store scheme 'postgres'", "oxigraph:")


def test_unreachable_endpoint(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert_user_error(run("graphs", store=f"sparql:http://127.0.0.1:{port}/query", ok=False), f"127.0.0.1:{port}")


def test_demo_loads_the_bundled_sample_without_serving(tmp_path):
    store = f"oxigraph:{tmp_path / 'demo'}"
    out = run("demo", "--no-serve", store=store).stdout
    assert "ontology/fish-anatomy-slim" in out
    again = run("demo", "--no-serve", store=store).stdout
    assert "loaded:" not in again  # idempotent: the second run finds everything unchanged
