"""Classification tables: column roles, the --column mapping, vernacular names in parentheses,
unused columns, ids that would name several taxa, cut rows; the documented example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg import KnowledgeGraph
from kg.core.errors import ParseError, ValidationError
from kg.core.names import DWC, SKOS_EXACT, taxon_iri
from kg.core.store import NamedNode
from loaders import taxonomy
from ontologies.prefixes import expand

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "formats" / "taxonomy.md"
BIRD_MAPPING = {"order": "ORDER1", "species": "SCI_NAME"}


@pytest.fixture
def birds(toy) -> Path:
    return toy / "taxonomy" / "bird_checklist.csv"


def cli(*args: str) -> tuple[int, str, str]:
    from kg.cli import main

    r = CliRunner().invoke(main, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("traitkg: error: "), err
    return lines[0]


def objects(kg: KnowledgeGraph, name: str, prop: str) -> list[str]:
    return sorted(q.object.value for q in kg.store.quads(NamedNode(taxon_iri(name)), NamedNode(prop)))


def test_recognised_columns_and_variants():
    assert [taxonomy.role_of(h) for h in ("Order", "FAMILY", "genus.species", "Genus_Name", "OTT_ID",
                                          "English_Name", "ORDER1", "SCI_NAME")] == \
        ["order", "family", "species", "genus", "ott", "vernacular", None, None]


def test_bird_checklist_without_mapping_is_refused_not_misread(birds, tmp_path):
    """The published failure: OTT ids of species landed on their family. Now refused, saying why."""
    code, _, err = cli("--store", f"oxigraph:{tmp_path / 's'}", "load", "taxonomy", str(birds))
    line = one_error_line(err)
    assert code == 2
    assert line.startswith(f"traitkg: error: {birds}:3: column 'OTT_ID': 'Accipitridae' (family) would get a "
                           "second OTT id")
    assert "unused columns: sort_v2024, ORDER1, SCI_NAME, CATEGORY" in line
    assert KnowledgeGraph.open(f"oxigraph:{tmp_path / 's'}").graphs() == []


def test_bird_checklist_with_mapping(birds, tmp_path):
    code, out, err = cli("--store", f"oxigraph:{tmp_path / 's'}", "load", "taxonomy", str(birds),
                         "--column", "order=ORDER1", "--column", "species=SCI_NAME")
    assert code == 0, err
    assert "rows=7, taxa=18, order=2, family=3, genus=6, species=7" in out and "external_ids=7" in out
    warnings = [ln.strip() for ln in err.splitlines()]
    assert warnings == [
        "warning: line 1: column 'sort_v2024' is not used (not a rank, id, synonym or vernacular column); "
        "give it a role with --column ROLE=sort_v2024",
        "warning: line 1: column 'CATEGORY' is not used (not a rank, id, synonym or vernacular column); "
        "give it a role with --column ROLE=CATEGORY",
        "warning: taxa of ranks without a column, taken from the names of the species (genus) or subspecies "
        "(species): genus 6",
        "warning: 3 name(s) carried a vernacular name in parentheses (e.g. 'Tyrannidae (Tyrant Flycatchers)'): "
        "taken out of the scientific name and kept as dwc:vernacularName"]
    kg = KnowledgeGraph.open(f"oxigraph:{tmp_path / 's'}")
    assert objects(kg, "Tyrannidae", DWC + "scientificName") == ["Tyrannidae"]
    assert objects(kg, "Tyrannidae", DWC + "vernacularName") == ["Tyrant Flycatchers"]
    assert objects(kg, "Accipitridae", DWC + "vernacularName") == ["Hawks, Eagles, and Kites"]
    assert objects(kg, "Tyrannidae", SKOS_EXACT) == []  # the family gets no species' id
    assert objects(kg, "Tyrannus tyrannus", SKOS_EXACT) == [expand("OTT:811003")]
    assert objects(kg, "Tyrannus tyrannus", DWC + "vernacularName") == ["Eastern Kingbird"]
    parent = "https://w3id.org/traitkg/schema#parentTaxon"
    assert objects(kg, "Tyrannus tyrannus", parent) == [taxon_iri("Tyrannus")]  # the genus, from the binomial
    assert objects(kg, "Tyrannus", DWC + "taxonRank") == ["genus"]
    assert objects(kg, "Tyrannus", parent) == [taxon_iri("Tyrannidae")]
    assert objects(kg, "Tyrannidae", parent) == [taxon_iri("Passeriformes")]
    names = {q.object.value for q in kg.store.quads(None, NamedNode(DWC + "scientificName"))}
    assert not any("(" in n for n in names)  # no taxon keeps the English name in its scientific name


def test_python_api_takes_the_same_mapping(birds, mem_kg):
    rep = mem_kg.load_taxonomy(birds, columns=BIRD_MAPPING)
    assert rep.counts["species"] == 7 and rep.counts["genus"] == 6 and rep.counts["vernacular_names"] == 10
    assert [p.message for p in rep.problems][:2] == [
        "column 'sort_v2024' is not used (not a rank, id, synonym or vernacular column); give it a role with "
        "--column ROLE=sort_v2024",
        "column 'CATEGORY' is not used (not a rank, id, synonym or vernacular column); give it a role with "
        "--column ROLE=CATEGORY"]
    assert mem_kg.graph(rep.graph).parameters["columns"] == BIRD_MAPPING


def test_missing_mapped_column_names_the_file(birds, tmp_path):
    code, _, err = cli("--store", "oxigraph:", "load", "taxonomy", str(birds), "--column", "species=genus.sp")
    assert code == 2
    assert one_error_line(err).startswith(
        f"traitkg: error: {birds}:1: column 'genus.sp' (mapped to species) is not in the header; the header has: ")


def test_unknown_role_lists_the_roles(birds):
    with pytest.raises(ValidationError, match="unknown column role 'famly'.*expected one of: domain, kingdom"):
        taxonomy.parse(birds, columns={"famly": "FAMILY"})


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.csv"
    p.write_text(text)
    return p


def test_one_id_on_several_taxa_is_refused_or_reported(tmp_path, mem_kg):
    p = _write(tmp_path, "family,species,ott\nTyrannidae,Tyrannus tyrannus,5\nTyrannidae,Tyrannus verticalis,5\n")
    with pytest.raises(ParseError, match=r"t.csv:3: column 'ott': id '5' would be an exact match of "
                                         r"'Tyrannus tyrannus' \(line 2\) and of 'Tyrannus verticalis'"):
        taxonomy.parse(p)
    rep = mem_kg.load_taxonomy(p, lenient=True)
    assert rep.counts["external_ids"] == 1 and any("id '5' would be an exact match" in str(x) for x in rep.problems)


def test_cut_row_is_refused_in_strict_mode(tmp_path, mem_kg):
    p = _write(tmp_path, "order,family,genus,species\nCypriniformes,Danionidae,Danio,rerio\nCypriniformes,Dan")
    with pytest.raises(ParseError, match="t.csv:3: row has 2 field.*the header 4; the file looks cut short"):
        taxonomy.parse(p)
    rep = mem_kg.load_taxonomy(p, lenient=True)
    assert rep.counts["skipped_rows"] == 1 and rep.counts["species"] == 1


def test_parentheses_authorship_and_subgenus():
    assert taxonomy.split_name("Danio rerio (Hamilton, 1822)", "species") == ("Danio rerio", None, "Hamilton, 1822")
    assert taxonomy.split_name("Danio (Brachydanio)", "genus") == ("Danio (Brachydanio)", None, None)
    assert taxonomy.split_name("Turdus migratorius (American Robin)", "species") == \
        ("Turdus migratorius", "American Robin", None)
    assert taxonomy.split_name("Cypriniformes (Carps)", "order") == ("Cypriniformes", "Carps", None)


def test_a_huge_name_is_refused(tmp_path):
    p = _write(tmp_path, "order,family\nCypriniformes," + "D" * 5000 + "\n")
    with pytest.raises(ParseError, match="t.csv:2: column 'family': a name of 5,000 characters"):
        taxonomy.parse(p)


def _documented(section: str) -> tuple[list[str], str]:
    """The command and output of a ```console block under ``section`` in the format doc."""
    text = DOC.read_text()
    body = text.split(f"## {section}", 1)[1]
    block = re.search(r"```console\n(.*?)```", body, re.S).group(1)
    lines = block.splitlines()
    cmd = lines[0].removeprefix("$ ")
    return shlex.split(cmd)[1:], "\n".join(lines[1:]) + "\n"


def _stable(text: str) -> str:
    return re.sub(r"in \d+\.\d+s", "in Xs", text)


def test_documented_example_on_the_real_table(shared, tmp_path, monkeypatch):
    """docs/formats/taxonomy.md's worked example runs as written, with the output shown there."""
    args, shown = _documented("Worked example")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "PFC_short_classification.csv").symlink_to(shared / "fishtree" / "PFC_short_classification.csv")
    code, out, err = cli(*args)
    assert code == 0, err
    assert _stable(out + err) == _stable(shown)


def test_documented_bird_example(toy, tmp_path, monkeypatch):
    args, shown = _documented("Naming columns")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bird_checklist.csv").symlink_to(toy / "taxonomy" / "bird_checklist.csv")
    code, out, err = cli(*args)
    assert code == 0, err
    assert _stable(out + err) == _stable(shown)


def test_species_from_a_trinomial_without_a_species_column(tmp_path):
    p = _write(tmp_path, "family,subspecies\nTurdidae,Turdus migratorius achrusterus\n")
    cls = taxonomy.parse(p)
    assert [(t.name, t.rank, t.parent) for t in cls.taxa.values()] == [
        ("Turdidae", "family", None), ("Turdus", "genus", "Turdidae"),
        ("Turdus migratorius", "species", "Turdus"), ("Turdus migratorius achrusterus", "subspecies", "Turdus migratorius")]
    assert cls.derived == {"genus": 1, "species": 1}


def test_streamed_table_reads_like_the_whole_text(tmp_path):
    """The table is read as a stream: a gzip file, a byte-order mark, CRLF line ends and a header
    longer than one read give the taxa and lines of the text."""
    import gzip

    long_col = "x" * 70_000
    text = f"\ufefforder,family,genus,species,{long_col}\r\nCypriniformes,Danionidae,Danio,rerio,1\r\n" \
           "Cypriniformes,Danionidae,Danio,kyathit,2\r\n"
    p = tmp_path / "t.csv.gz"
    with gzip.open(p, "wt", newline="") as fh:
        fh.write(text)
    cls = taxonomy.parse(p)
    assert [(t.name, t.rank, t.parent, t.line) for t in cls.taxa.values()] == [
        ("Cypriniformes", "order", None, 2), ("Danionidae", "family", "Cypriniformes", 2),
        ("Danio", "genus", "Danionidae", 2), ("Danio rerio", "species", "Danio", 2),
        ("Danio kyathit", "species", "Danio", 3)]
    assert cls.unused == [long_col] and cls.rows == 2


def test_bad_bytes_far_into_the_table_name_their_line(tmp_path, mem_kg):
    rows = "".join(f"Cypriniformes,Danionidae,Danio,sp{i}\n" for i in range(20_000))
    p = tmp_path / "t.csv"
    p.write_bytes(b"order,family,genus,species\n" + rows.encode() + b"Cypriniformes,Danionidae,Danio,r\xe9rio\n")
    with pytest.raises(ParseError, match=r"t.csv:20002: not valid utf-8 text"):
        taxonomy.parse(p)
    with pytest.raises(ParseError, match=r"t.csv:20002: not valid utf-8 text"):
        mem_kg.load_taxonomy(p)
    assert mem_kg.graphs() == []


def test_written_triples_match_the_records(tmp_path, mem_kg):
    """What the chunks write is what the records say, ids, synonyms, vernacular names and
    authorship included, and the report's triple count is the graph's size."""
    p = _write(tmp_path, 'family,species,ott,synonyms,vernacular\n'
                         'Danionidae,"Danio rerio (Hamilton, 1822)",1,Brachydanio rerio;Cyprinus rerio,Zebra "fish"\n'
                         'Danionidae (Danios),Danio kyathit,2,,\n')
    cls = taxonomy.parse(p)
    rep = mem_kg.load_taxonomy(p)
    assert rep.triples == mem_kg.store.count(rep.graph) == cls.table.triple_count() == len(taxonomy.triples(cls))
    assert objects(mem_kg, "Danio rerio", DWC + "scientificNameAuthorship") == ["Hamilton, 1822"]
    assert objects(mem_kg, "Danio rerio", DWC + "vernacularName") == ['Zebra "fish"']
    assert objects(mem_kg, "Danio rerio", SKOS_EXACT) == [expand("OTT:1")]
    assert objects(mem_kg, "Danio rerio", "https://w3id.org/traitkg/schema#synonym") == [
        "Brachydanio rerio", "Cyprinus rerio"]
    assert objects(mem_kg, "Danionidae", DWC + "vernacularName") == ["Danios"]
    assert objects(mem_kg, "Danio kyathit", "https://w3id.org/traitkg/schema#parentTaxon") == [taxon_iri("Danio")]


def test_an_id_that_is_no_iri_is_reported_not_written(tmp_path, mem_kg):
    p = _write(tmp_path, "family,species,ncbitaxon\nDanionidae,Danio rerio,79 55\n")
    rep = mem_kg.load_taxonomy(p)
    assert rep.counts["external_ids"] == 0
    assert any("bad NCBITaxon id '79 55'" in str(x) for x in rep.problems)
