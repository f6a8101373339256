"""The prediction commands end to end (CliRunner over an on-disk store)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kg.cli import main


@pytest.fixture
def run(tmp_path, toy):
    sel = f"oxigraph:{tmp_path / 'store'}"
    r = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        out = r.invoke(main, ["--store", sel, *args])
        assert out.exit_code == code, out.output
        return out.output

    invoke("load", "taxonomy", str(toy / "predictions" / "taxa.csv"))
    return invoke


def test_load_with_mapping_model_and_version(run, toy):
    d = toy / "predictions"
    out = run("load", "predictions", str(d / "wide.tsv"), "--mapping", str(d / "species.yaml"),
              "--model", "species-net", "--model-version", "2.1", "--hf-repo", "org/species-net", "--param", "k=5")
    assert "loaded: predictions/species-net/2.1" in out and "predictions=3" in out
    out = run("predictions", "accuracy", "species-net", "--format", "json")
    assert json.loads(out)["correct"] == 2
    out = run("predictions", "accuracy", "species-net", "--by", "genus")
    assert "Danio" in out and "0.6667" in out
    out = run("predictions", "batches")
    assert "predictions/species-net/2.1" in out


def test_columns_and_constants_on_the_command_line(run, toy):
    out = run("load", "predictions", str(toy / "predictions" / "wide.tsv"), "--column", "image=file",
              "--column", "taxon=species", "--column", "value=Length", "--constant", "trait=PATO:0000122",
              "--constant", "unit=cm", "--image-id", "basename", "--model", "len")
    assert "predictions=3" in out
    out = run("predictions", "summary", "Danio rerio")
    assert "PATO:0000122" in out and "0.33" in out and "UO:0000015" in out
    out = run("predictions", "--image", "a1.png", "--format", "json")
    assert json.loads(out)["predictions"][0]["value"] == 0.31


def test_strict_rejection_is_one_line_with_rows_and_lenient_loads(run, toy):
    bad = str(toy / "predictions" / "bad.csv")
    out = run("load", "predictions", bad, "--model", "m", code=2)
    assert out.count("\n") == 1 and "Traceback" not in out
    assert out.startswith("traitkg: error: ") and "6 of 7 rows are bad" in out and "first: row 2 (line 3)" in out
    assert "--lenient" in out
    verbose = run("-v", "load", "predictions", bad, "--model", "m", code=2)
    assert verbose.splitlines()[0] == out.strip() and len(verbose.splitlines()) == 7
    assert "  row 5 (line 6), column 'taxon': 'Homo sapiens' is not a known taxon name" in verbose
    as_json = run("load", "predictions", bad, "--model", "m", "--json", code=2)
    body = json.loads(as_json[:as_json.rindex("}") + 1])
    assert (body["status"], body["rows"], body["bad_rows"]) == ("refused", 7, 6)
    assert [p["row"] for p in body["problems"]] == [2, 3, 4, 5, 6, 7]
    assert body["problems"][3] == {**body["problems"][3], "column": "taxon", "value": "Homo sapiens", "line": 6}
    out = run("load", "predictions", bad, "--model", "m", "--lenient")
    assert "rejected_rows=6" in out and "row 5, column 'taxon': 'Homo sapiens' is not a known taxon name" in out


def test_images_and_taxon_listing(run, toy):
    d = toy / "predictions"
    run("load", "predictions", str(d / "v1.csv"))
    out = run("load", "images", str(d / "images.csv"))
    assert "images=3" in out
    out = run("predictions", "--image", "ark:/89609/toy/i2")
    assert "# imageBatch: toy-batch-1" in out and "UBERON:2000251" in out and "absent" in out
    out = run("predictions", "--taxon", "Danio kyathit", "--format", "json")
    assert [r["value"] for r in json.loads(out)] == [2.0]
    out = run("predictions", "summaries", "PATO:0000122", "--format", "csv")
    assert out.splitlines()[0] == "taxon,n,mean,sd,se,unit,model"


def test_a_measurement_table_per_wing_loads_and_a_bad_cell_is_one_line(run, toy):
    d = toy / "predictions"
    out = run("load", "predictions", str(d / "fiji_wings_bad.csv"), "--mapping", str(d / "fiji_wings.yaml"),
              "--new-taxa", code=2)
    assert "Traceback" not in out and out.count("\n") == 1
    assert (f"traitkg: error: {d / 'fiji_wings_bad.csv'}: 1 of 8 rows are bad (1 x not a number in 'Feret'); "
            "first: row 3 (line 4), column 'Feret': 'abc' is not a number") in out
    assert run("graphs", "--format", "json").count("fiji") == 0  # nothing loaded
    out = run("load", "predictions", str(d / "fiji_wings.csv"), "--mapping", str(d / "fiji_wings.yaml"),
              "--new-taxa")
    assert "loaded: predictions/fiji-wing-measure/1.54f" in out and "predictions=16" in out
    out = run("predictions", "summary", "Apis mellifera", "--format", "csv")
    assert out.splitlines()[0].startswith("trait,region,model") and out.count(",left,") == 2
    out = run("predictions", "summary", "Apis mellifera", "--pooled", "--format", "csv")
    assert out.count(",left+right,") == 2 and ",left," not in out
    out = run("predictions", "summaries", "PATO:0000122", "--region", "right", "--format", "csv")
    assert out.splitlines()[0] == "taxon,n,mean,sd,se,unit,region,model" and len(out.splitlines()) == 3


def test_encoding_option_and_an_undecodable_mapped_column(run, tmp_path):
    p = tmp_path / "cp1252.csv"
    p.write_bytes("image,taxon,trait,value,specimen\nx.jpg,Danio rerio,PATO:0000122,1.5,São Carlos – 1\n"
                  .encode("cp1252"))
    out = run("load", "predictions", str(p), "--model", "m", code=2)
    assert out.count("\n") == 1 and "row 1 (line 2), column 'specimen': byte b'\\xe3' is not valid utf-8" in out
    assert "--encoding" in out
    out = run("load", "predictions", str(p), "--model", "m", "--encoding", "cp1252")
    assert "predictions=1" in out
    out = run("predictions", "--image", "x.jpg", "--format", "json")
    assert json.loads(out)["predictions"][0]["specimen"] == "São Carlos – 1"
    out = run("load", "predictions", str(p), "--model", "m2", "--encoding", "klingon", code=2)
    assert "unknown text encoding 'klingon'" in out


def test_the_format_documentation_is_reachable_from_help(run):
    out = run("load", "predictions", "--help")
    assert "docs/formats/predictions.md" in out and "--help-mapping" in out and "--encoding" in out
    doc = run("load", "predictions", "--help-mapping")
    assert doc.startswith("# Prediction and measurement tables") and "--column" in doc and "encoding" in doc
    out = run("load", "images", "--help")
    assert "docs/formats/images.md" in out
    assert run("load", "images", "--help-format").startswith("# Image tables")
