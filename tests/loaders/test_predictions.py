"""The prediction-table reader (pure: no store): mappings, formats, checks of bad rows."""

from __future__ import annotations

import gzip
import shutil

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    got = {(p.row, p.column, p.kind) for p in t.problems}
    assert got == {(2, "confidence", "confidence outside [0, 1]"), (3, "value", "not a number"),
                   (4, "unit", "unknown unit"), (6, "value", "conflicting value")}
    assert {p.row: p.line for p in t.problems}[6] == 7  # the physical line (header is line 1)
    assert {p.row: p.value for p in t.problems}[2] == "1.5"
    assert str(t.problems[1]) == "row 3 (line 4), column 'value': 'long' is not a number (the trait is continuous)"
    assert str(t.problems[3]).startswith("row 6 (line 7), column 'value': '3.4' conflicts with row 1 ('3.0' there)")


def test_exact_duplicates_are_duplicates_and_other_values_conflicts(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("img,species,trait,len\n"
                 "a.jpg,Danio rerio,PATO:0000122,3.1\n"
                 "\n"  # a blank line is no record
                 "a.jpg,Danio rerio,PATO:0000122,3.1\n"
                 "a.jpg,Danio rerio,PATO:0000122,3.3\n")
    t = parse(p, {"image": "img", "taxon": "species", "value": "len"})
    assert [(x.row, x.line, x.kind, x.column) for x in t.problems] == [(2, 4, "duplicate row", "img"),
                                                                     (3, 5, "conflicting value", "len")]
    assert str(t.problems[0]) == "row 2 (line 4), column 'img': 'a.jpg' repeats row 1 exactly (a duplicate row)"
    assert "conflicts with row 1 ('3.1' there)" in str(t.problems[1])


def test_missing_required_column_rejects_the_table(pdir):
    with pytest.raises(ParseError, match="missing required column.*value") as err:
        parse(pdir / "missing_column.csv")
    assert str(err.value).startswith(f"{pdir / 'missing_column.csv'}:1: missing required column(s) value: the header "
                                     "has image_id, taxon, trait, confidence")
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



def test_a_parquet_table_with_missing_cells_and_typed_columns_reads_as_the_csv(pdir, tmp_path):
    # Arrow strings with nulls, a double confidence and an integer value column: read through
    # the Parquet path's strings as they are (gaps filled) and through the CSV path, the same frame
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pd.read_csv(pdir / "v1.csv", dtype=str, keep_default_na=False)
    rows.loc[1, "unit"] = ""
    rows.loc[2, "confidence"] = ""
    rows.to_csv(tmp_path / "t.csv", index=False)
    cols = {c: pa.array([v or None for v in rows[c]], pa.string()) for c in rows.columns}
    cols["confidence"] = pa.array([float(v) if v else None for v in rows["confidence"]], pa.float64())
    pq.write_table(pa.table(cols), tmp_path / "t.parquet")
    a, b = parse(tmp_path / "t.csv"), parse(tmp_path / "t.parquet")
    fields = ["row", "image", "taxon", "trait", "value", "unit", "region", "truth", "num", "conf"]
    pd.testing.assert_frame_equal(a.frame[fields], b.frame[fields], check_exact=True)
    assert [str(x) for x in a.problems] == [str(x) for x in b.problems] and a.kinds == b.kinds


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


def test_a_measurement_table_with_legacy_bytes_in_an_unmapped_column(pdir):
    """A Fiji per-wing export: both wings of each photograph are loaded (region = side); the
    locality column holds Latin-1 bytes inside a UTF-8 file, and is not mapped."""
    raw = (pdir / "fiji_wings.csv").read_bytes()
    assert b"Ribeir\xe3o" in raw and "Jataí".encode() in raw  # the fixture is what it claims
    t = parse(pdir / "fiji_wings.csv", Mapping.read(pdir / "fiji_wings.yaml"))
    assert t.problems == [] and t.rows == 8 and len(t.frame) == 16  # 8 wings x (Area, Feret)
    assert sorted(set(zip(t.frame["image"], t.frame["region"])))[:2] == [("MZUSP-0412.jpg", "left"),
                                                                        ("MZUSP-0412.jpg", "right")]
    assert set(t.frame["unit"]) == {"UO:0000082", "UO:0000016"}


def test_a_bad_cell_is_named_by_its_column_as_the_user_wrote_it(pdir):
    t = parse(pdir / "fiji_wings_bad.csv", Mapping.read(pdir / "fiji_wings.yaml"))
    assert [str(p) for p in t.problems] == [
        "row 3 (line 4), column 'Feret': 'abc' is not a number (the trait is continuous)"]


def test_undecodable_bytes_in_a_mapped_column_are_one_line_naming_where(pdir, tmp_path):
    m = Mapping.read(pdir / "fiji_wings.yaml")
    m.columns["specimen"] = "locality"  # now the Latin-1 column is used
    with pytest.raises(ParseError) as err:
        parse(pdir / "fiji_wings.csv", m)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(pdir / "fiji_wings.csv") + ":2: row 1 (line 2), column 'locality'")
    assert "b'\\xe3' is not valid utf-8 in 'Ribeir\\\\xe3o Preto' (4 row(s) in this column)" in msg
    assert "--encoding" in msg
    # a whole-file Latin-1 table reads with its encoding named
    latin = tmp_path / "latin.csv"
    latin.write_bytes("image,taxon,trait,value,locality\nx.jpg,Danio rerio,PATO:0000122,1.5,São Carlos\n"
                      .encode("cp1252"))
    with pytest.raises(ParseError, match="column 'locality'"):
        parse(latin, {"specimen": "locality"})
    t = parse(latin, {"specimen": "locality", "encoding": "cp1252"})
    assert list(t.frame["specimen"]) == ["São Carlos"]
    assert list(parse(latin, {"specimen": "locality"}, encoding="latin-1").frame["specimen"]) == ["São Carlos"]
    with pytest.raises(ValidationError, match="unknown text encoding 'klingon'"):
        Mapping.from_dict({"encoding": "klingon"})


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbfimage,taxon,trait,value\nx.jpg,Danio rerio,PATO:0000122,1.5\n")
    assert parse(p).problems == []
    p.write_bytes("image,taxon,trait,value\nx.jpg,Danio rerio,PATO:0000122,1.5\n".encode("utf-16"))
    assert list(parse(p, encoding="utf-16").frame["value"]) == ["1.5"]


def test_mapping_units_are_checked_up_front():
    with pytest.raises(ValidationError, match="traits: column 'L': unit 'furlong' is not a known unit"):
        Mapping.from_dict({"traits": [{"column": "L", "trait": "PATO:0000122", "unit": "furlong"}]})


def test_a_truncated_table_is_refused_not_loaded_short(pdir, tmp_path):
    data = (pdir / "fiji_wings.csv").read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data[:data.index(b"0.899")])  # ends inside row 2, after its 9th field
    with pytest.raises(ParseError, match=r"cut.csv:3: the file ends in the middle of row 2 \(line 3\): 9 of the "
                                         r"header's 12 fields and no line break; is it truncated\?"):
        parse(cut, Mapping.read(pdir / "fiji_wings.yaml"))
    whole = tmp_path / "no-final-newline.csv"
    whole.write_bytes(data.rstrip(b"\n"))  # a complete last row without a line break is fine
    assert parse(whole, Mapping.read(pdir / "fiji_wings.yaml")).rows == 8


def test_a_ragged_or_binary_table_is_one_line(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("image,taxon,trait,value\na,b,c,d\nd,e,f,g,h,i\n")
    with pytest.raises(ParseError) as err:
        parse(p)
    assert str(err.value) == (f"{p}:3: malformed CSV: line 3 has 6 fields, not 4 as the header (a ',' inside an "
                              "unquoted cell, or not a CSV file?)")
    b = tmp_path / "binary.parquet"
    b.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ParseError, match="not a readable Parquet file") as err:
        parse(b)
    assert "\n" not in str(err.value)


def test_ids_that_cannot_name_an_image_are_bad_rows_shown_short(tmp_path):
    p = tmp_path / "ids.csv"
    p.write_text("image,taxon,trait,value\n" + "x" * 5000 + ",Danio rerio,PATO:0000122,3\n"
                 "a\x00b,Danio rerio,PATO:0000122,3\nok.jpg,Danio rerio,PATO:0000122,3\n")
    t = parse(p)
    assert [(x.row, x.kind) for x in t.problems] == [(1, "not an image id"), (2, "not an image id")]
    assert str(t.problems[0]) == ("row 1 (line 2), column 'image': '" + "x" * 80 + "... (5000 characters)' is 5000 "
                                  "characters long; an image id has at most 2048")
    assert str(t.problems[1]) == r"row 2 (line 3), column 'image': 'a\x00b' holds a control character (not an image id)"


def test_mapping_values_of_the_wrong_shape_are_named(tmp_path):
    for d, msg in (({"columns": ["a"]}, "'columns' holds key: value pairs"), ({"traits": 5}, "'traits' holds a list"),
                   ({"traits": [{"column": "L", "trait": "T:1", "colour": "red"}]}, r"unknown key\(s\) \['colour'\]"),
                   ({"delimiter": ";;"}, "one character")):
        with pytest.raises(ValidationError, match=msg):
            Mapping.from_dict(d)
    y = tmp_path / "m.yaml"
    y.write_text("traits: 5\n")
    with pytest.raises(ValidationError, match=f"^{y}: mapping key 'traits'"):
        Mapping.read(y)


def test_a_table_read_with_the_wrong_delimiter_says_so(pdir, tmp_path):
    p = tmp_path / "v1.tsv"
    p.write_bytes((pdir / "v1.csv").read_bytes())
    with pytest.raises(ParseError, match=r"one column: are the columns separated by ','\?"):
        parse(p)


def test_image_tables_refuse_bad_ids_and_bytes_in_one_line(pdir, tmp_path):
    from loaders.images import parse as parse_images

    p = tmp_path / "imgs.csv"
    p.write_text("ARKID,batch\nark:/89609/a,b1\n\nark:/89609/b,b1\nark:/89609/a,b2\n")
    with pytest.raises(ParseError) as err:
        parse_images(p)
    assert str(err.value) == f"{p}:5: row 3 (line 5), column 'ARKID': 'ark:/89609/a' repeats the image of row 1 (one " \
                             "row per image)"
    p.write_text("ARKID,batch\nark:/89609/a,b1\n,b2\n")
    with pytest.raises(ParseError, match=r":3: row 2 \(line 3\), column 'ARKID': empty"):
        parse_images(p)
    p.write_bytes(b"filename,locality\nx.jpg,Ribeir\xe3o Preto\n")
    with pytest.raises(ParseError, match=r"row 1 \(line 2\), column 'locality': byte b'\\xe3' is not valid utf-8"):
        parse_images(p)
    assert parse_images(p, encoding="latin-1").frame["locality"].tolist() == ["Ribeirão Preto"]
    with pytest.raises(ParseError, match="column 'X' is not in the header: name it with --image COLUMN"):
        parse_images(p, image="X")


def test_an_empty_cell_of_a_wide_table_is_a_measurement_not_taken(pdir, tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes((pdir / "fiji_wings.csv").read_bytes().replace(b",10.145,", b",,"))  # row 3's Area not measured
    t = parse(p, Mapping.read(pdir / "fiji_wings.yaml"))
    assert t.problems == [] and t.empty_cells == 1 and len(t.frame) == 15
    assert t.frame[t.frame["row"] == 3][["trait", "k"]].values.tolist() == [["PATO:0000122", 1]]
    long = tmp_path / "long.csv"
    long.write_text("image,taxon,trait,value\na.jpg,Danio rerio,PATO:0000122,\n")
    assert [str(x) for x in parse(long).problems] == ["row 1 (line 2), column 'value': empty (every row needs a value)"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["Danio rerio", "Danio kyathit", "D. rerio", "", "Zebra fish", "é x"]) | st.none(),
                max_size=40),
       st.dictionaries(st.sampled_from(["Danio rerio", "Danio kyathit", "D. rerio", "é x"]),
                       st.sampled_from(["https://w3id.org/traitkg/taxon/Danio_rerio",
                                        "https://w3id.org/traitkg/taxon/Danio_kyathit", ""]) | st.none()))
def test_names_linked_once_each_give_the_per_row_mapping(names, iris):
    from loaders.predictions import _mapped

    s = pd.Series(names, dtype=object)
    want = pd.Categorical(s.map({k: v or "" for k, v in iris.items()}).astype(object).fillna(""))
    got = _mapped(s, iris)
    pd.testing.assert_series_equal(pd.Series(got), pd.Series(want), check_exact=True, check_categorical=True)
