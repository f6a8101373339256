"""The prediction-table reader (pure: no store): mappings, formats, checks of bad rows."""

from __future__ import annotations

import gzip
import shutil

import pandas as pd
import pytest

from kg.core.errors import ParseError, ValidationError
from kg.core.ids import image_id, image_iri
from loaders.predictions import Mapping, parse

pytestmark = []


@pytest.fixture
def pdir(toy):
    return toy / "predictions"


def test_recognised_columns_and_kinds(pdir):
    t = parse(pdir / "v1.csv")
    assert t.rows == 8 and len(t.frame) == 8 and t.problems == []
    assert t.batch == {"model": "fin-net", "model_version": "1.0"}
    assert t.kinds == {"PATO:0000122": "continuous", "UBERON:2000251": "categorical"}
    assert set(t.frame["unit"]) == {"UO:0000015", "UO:0000016", ""}
    assert t.frame["conf"].isna().sum() == 1


def test_every_kind_of_bad_row_is_reported_with_its_row(pdir):
    t = parse(pdir / "bad.csv")
    got = {(p.row, p.reason.split(" (a UO")[0]) for p in t.problems}
    assert got == {(2, "confidence outside [0, 1]"), (3, "value of a continuous trait is not a number"),
                   (4, "unknown unit"), (6, "duplicate (image, trait, model) row; first at row 1")}
    assert {p.row: p.line for p in t.problems}[6] == 7  # the physical line (header is line 1)
    assert {p.row: p.value for p in t.problems}[2] == "1.5"


def test_missing_required_column_rejects_the_table(pdir):
    with pytest.raises(ParseError, match="missing required column.*value"):
        parse(pdir / "missing_column.csv")
    with pytest.raises(ParseError, match="'nope'.*not in the header"):
        parse(pdir / "v1.csv", {"value": "nope"})


def test_wide_table_with_yaml_mapping(pdir):
    m = Mapping.read(pdir / "wide.yaml")
    t = parse(pdir / "wide.tsv", m)
    assert len(t.frame) == 6 and t.problems == []
    assert sorted(set(t.frame["image"])) == ["a1.png", "a2.png", "a3.png"]
    assert set(t.frame["trait"]) == {"elytra length", "PATO:0000921"}
    assert t.kinds["elytra length"] == "continuous"
    assert m.batch["hf_repo"] == "imageomics/wide-net"


def test_constants_and_truth(pdir):
    t = parse(pdir / "wide.tsv", Mapping.read(pdir / "species.yaml"))
    assert list(t.frame["trait"].unique()) == ["dwc:scientificName"]
    assert list(t.frame["truth"]) == ["Danio rerio", "Danio rerio", "Danio kyathit"]
    assert t.kinds == {"dwc:scientificName": "categorical"}


def test_parquet_and_gzip_read_the_same(pdir, tmp_path):
    pd.read_csv(pdir / "v1.csv", dtype=str, keep_default_na=False).to_parquet(tmp_path / "v1.parquet")
    with open(pdir / "v1.csv", "rb") as a, gzip.open(tmp_path / "v1.csv.gz", "wb") as b:
        shutil.copyfileobj(a, b)
    base = parse(pdir / "v1.csv").frame
    for p in (tmp_path / "v1.parquet", tmp_path / "v1.csv.gz"):
        f = parse(p).frame
        assert f[["image", "taxon", "trait", "value", "unit"]].equals(base[["image", "taxon", "trait", "value", "unit"]])


def test_bad_mappings_name_the_problem(pdir, tmp_path):
    with pytest.raises(ValidationError, match="unknown mapping key"):
        Mapping.from_dict({"colums": {}})
    with pytest.raises(ValidationError, match="image_id rule"):
        Mapping.from_dict({"image_id": "hash"})
    bad = tmp_path / "m.yaml"
    bad.write_text("image: [unclosed\n")
    with pytest.raises(ParseError, match="YAML"):
        Mapping.read(bad)


def test_a_model_column_with_two_values_is_refused(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text("image,taxon,trait,value,model\na,Danio rerio,T:1,x,m1\nb,Danio rerio,T:1,y,m2\n")
    with pytest.raises(ParseError, match="several values"):
        parse(p)


def test_image_iris():
    assert image_iri("ark:/89609/abc/def") == "https://n2t.net/ark:/89609/abc/def"
    assert image_iri("https://n2t.net/ark:/89609/abc") == "https://n2t.net/ark:/89609/abc"
    for x in ("plain.png", "IMG 5.png", 'we"ird{id}', "ark:/89609/a b"):
        assert image_id(image_iri(x)) == x
        assert not set(image_iri(x)) & set(' "{}<>|^`\\')
