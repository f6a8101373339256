"""Prediction batches in a store: provenance, strict/lenient loads, versions and diff, summaries,
accuracy, agreement with curated calls."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kg.core.errors import ValidationError
from kg.core.graphs import PROV, TKG
from loaders.predictions import BatchRejected, Mapping


@pytest.fixture
def pdir(toy):
    return toy / "predictions"


@pytest.fixture
def world(mem_kg, pdir):
    mem_kg.load_taxonomy(pdir / "taxa.csv")
    return mem_kg


def _ask(g, q, **b):
    return g.query(q, b) if b else g.query(q)


def test_batch_graph_with_provenance(kg, pdir):
    kg.load_taxonomy(pdir / "taxa.csv")
    rep = kg.load_predictions(pdir / "v1.csv", batch={"hf_repo": "imageomics/fin-net", "code_commit": "abc123",
                                                     "run_id": "r1", "weights_sha256": "f00d"})
    assert rep.status == "loaded" and rep.graph.endswith("graph/predictions/fin-net/1.0")
    assert rep.counts["predictions"] == 8 and rep.counts["rejected_rows"] == 0
    rows = kg.query(f"""SELECT ?model ?ver ?hf ?sha ?commit WHERE {{ GRAPH ?g {{
        ?b a <{TKG}PredictionBatch> ; <{PROV}wasGeneratedBy> ?run .
        ?run a <{PROV}Activity> ; <{PROV}wasAssociatedWith> ?model ; <{PROV}used> ?in ; <{TKG}codeCommit> ?commit .
        ?model a <{PROV}SoftwareAgent> ; <{TKG}modelVersion> ?ver ; <{TKG}huggingFaceRepo> ?hf .
        ?in <{TKG}sha256> ?sha }} }}""").values()
    rec = kg.graph(rep.graph)
    assert rows == [(rows[0][0], "1.0", "imageomics/fin-net", rec.sha256, "abc123")]
    assert rows[0][0].endswith("model/fin-net/1.0")
    img = kg.predictions.image("ark:/89609/toy/i1")
    assert img["iri"] == "https://n2t.net/ark:/89609/toy/i1"
    assert {(p["trait"], p["value"], p["unit"]) for p in img["predictions"]} == {
        ("PATO:0000122", 3.1, "UO:0000015"), ("UBERON:2000251", "absent", None)}
    assert kg.predictions.image("IMG 5.png")["predictions"][0]["taxon"] == "taxon:Corydoras_aeneus"
    # same bytes, same options: nothing new
    assert kg.load_predictions(pdir / "v1.csv", batch={"hf_repo": "imageomics/fin-net", "code_commit": "abc123",
                                                      "run_id": "r1", "weights_sha256": "f00d"}).status == "unchanged"


def test_strict_load_rejects_the_batch_and_loads_nothing(world, pdir):
    before = world.store.named_graphs()
    with pytest.raises(BatchRejected) as err:
        world.load_predictions(pdir / "bad.csv", model="m", model_version="1")
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 600
    assert msg.startswith(str(pdir / "bad.csv") + ": 6 of 7 rows are bad (2 x unknown taxon in 'taxon', ")
    for text in ("1 x confidence outside [0, 1] in 'confidence'", "1 x not a number in 'value'",
                 "1 x unknown unit in 'unit'", "1 x conflicting value in 'value'",
                 "first: row 2 (line 3), column 'confidence': '1.5' is outside [0, 1]", "--lenient", "-v or --json"):
        assert text in msg, text
    assert {p.row for p in err.value.problems} == {2, 3, 4, 5, 6, 7}
    assert str(err.value.problems[-1]).startswith(
        "row 7 (line 8), column 'taxon': 'Danio \"quoted\" {rerio}' is not a known taxon name")
    assert sorted(world.store.named_graphs()) == sorted(before)
    assert world.predictions.batches() == []


def test_lenient_load_keeps_good_rows_and_stores_the_report(world, pdir):
    rep = world.load_predictions(pdir / "bad.csv", model="m", model_version="1", lenient=True)
    assert rep.counts["predictions"] == 1 and rep.counts["rejected_rows"] == 6
    stored = world.query(f"""SELECT ?row ?reason ?value WHERE {{ GRAPH ?g {{ ?b <{TKG}rejectedRow> ?r .
        ?r <{TKG}row> ?row ; <{TKG}reason> ?reason . OPTIONAL {{ ?r <{TKG}value> ?value }} }} }} ORDER BY ?row""").rows
    got = {(int(r[0].value), r[1].value.split(" (")[0]) for r in stored}
    assert (5, "is not a known taxon name") in got and (2, "is outside [0, 1]") in got
    assert any(r[2] is not None and r[2].value == 'Danio "quoted" {rerio}' for r in stored)
    assert [p["value"] for p in world.predictions.image("ark:/89609/toy/b1")["predictions"]] == [3.0]


def test_new_version_is_new_graph_diff_and_pinning(world, pdir):
    a = world.load_predictions(pdir / "v1.csv")
    b = world.load_predictions(pdir / "v2.csv")
    assert a.graph != b.graph and b.graph.endswith("fin-net/2.0")
    d = world.predictions.diff("fin-net/1.0", "fin-net/2.0")
    assert (d["changed"], d["added"], d["removed"], d["unchanged"]) == (2, 0, 0, 6)
    assert {(c["image"], c["before"], c["after"]) for c in d["sample_changed"]} == {
        ("ark:/89609/toy/i3", "present", "absent"), ("ark:/89609/toy/i4", 2.0, 2.2)}
    latest = world.predictions.summary("Danio kyathit")
    assert [(s["model_version"], s["mean"]) for s in latest] == [("2.0", 2.2)]
    pinned = world.predictions.summary("Danio kyathit", batch="predictions/fin-net/1.0")
    assert [(s["model_version"], s["mean"]) for s in pinned] == [("1.0", 2.0)]
    assert len(world.predictions.batches()) == 2 and len(world.predictions.batches(latest=True)) == 1


def test_graphs_diff_command_reports_changed_predictions(world, pdir, tmp_path):
    from click.testing import CliRunner

    from kg.cli import main

    sel = f"oxigraph:{tmp_path / 'st'}"
    r = CliRunner()
    for args in (["load", "taxonomy", str(pdir / "taxa.csv")], ["load", "predictions", str(pdir / "v1.csv")],
                 ["load", "predictions", str(pdir / "v2.csv")]):
        out = r.invoke(main, ["--store", sel, *args])
        assert out.exit_code == 0, out.output
    out = r.invoke(main, ["--store", sel, "graphs", "diff", "predictions/fin-net/1.0", "predictions/fin-net/2.0"])
    assert out.exit_code == 0, out.output
    assert "changed 2  added 0  removed 0  unchanged 6" in out.output
    assert "~ ark:/89609/toy/i3 UBERON:2000251: present -> absent" in out.output


def test_summaries_normalise_units_and_match_pandas(world, pdir):
    world.load_predictions(pdir / "v1.csv")
    s = {x["trait"]: x for x in world.predictions.summary("Danio rerio")}
    length = s["PATO:0000122"]
    x = np.array([3.1, 2.9, 3.3])  # 29 mm is 2.9 cm; most rows are in cm
    assert length["unit"] == "UO:0000015" and length["n"] == 3
    assert length["mean"] == pytest.approx(x.mean()) and length["sd"] == pytest.approx(x.std(ddof=1))
    assert length["se"] == pytest.approx(x.std(ddof=1) / np.sqrt(3))
    assert (length["min"], length["median"], length["max"]) == pytest.approx((2.9, 3.1, 3.3))
    assert length["mean_confidence"] == pytest.approx(0.85)
    assert s["UBERON:2000251"]["states"] == {"absent": 2, "present": 1} and s["UBERON:2000251"]["mode"] == "absent"
    table = world.predictions.summaries("PATO:0000122")
    assert list(table.columns[:6]) == ["taxon", "n", "mean", "sd", "se", "unit"]
    assert dict(zip(table["taxon"], table["n"])) == {"taxon:Danio_rerio": 3, "taxon:Danio_kyathit": 1}


def test_wide_table_labels_mapped_and_species_accuracy(world, pdir):
    rep = world.load_predictions(pdir / "wide.tsv", mapping=pdir / "wide.yaml")
    assert rep.graph.endswith("predictions/wide-net/0.3")
    s = {x["trait"]: x for x in world.predictions.summary("Danio rerio", batch="wide-net")}
    assert s["PATO:0000122"]["mean"] == pytest.approx(0.33) and s["PATO:0000921"]["mean"] == pytest.approx(0.13)
    world.load_predictions(pdir / "wide.tsv", mapping=pdir / "species.yaml", model="species-net")
    acc = world.predictions.accuracy("species-net")
    assert (acc["n"], acc["correct"]) == (3, 2) and acc["table_accuracy"] == pytest.approx(2 / 3)
    assert world.predictions.confusion("species-net") == {"Danio kyathit": {"Danio kyathit": 1},
                                                          "Danio rerio": {"Danio rerio": 1, "Danio kyathit": 1}}
    fam = world.predictions.accuracy_by("species-net", rank="family")
    assert [(f["clade"], f["n"], f["correct"], f["clade_correct"]) for f in fam] == [("Danionidae", 3, 2, 3)]


def test_unknown_taxa_can_be_minted_on_request(mem_kg, pdir):
    with pytest.raises(ValidationError, match="'Danio rerio' is not a known taxon name"):
        mem_kg.load_predictions(pdir / "v1.csv")
    rep = mem_kg.load_predictions(pdir / "v1.csv", new_taxa=True)
    assert rep.counts["predictions"] == 8
    assert any("minted" in p.message for p in rep.problems)


def test_agreement_with_curated_calls_flags_expectation_vs_observation(mem_kg, tmp_path):
    from kg.demo import load_sample

    load_sample(mem_kg)
    p = tmp_path / "contra.csv"
    # the sample curates the adipose fin as absent in Danio rerio and present in Ictalurus punctatus
    p.write_text("image_id,taxon,trait,value,confidence\n"
                 "ark:/89609/x/1,Danio rerio,UBERON:2000251,present,0.8\n"
                 "ark:/89609/x/2,Danio rerio,UBERON:2000251,present,0.7\n"
                 "ark:/89609/x/3,Danio rerio,UBERON:2000251,absent,0.6\n"
                 "ark:/89609/x/4,Ictalurus punctatus,adipose fin,present,0.9\n")  # a label: mapped, and said so
    rep = mem_kg.load_predictions(p, model="contra", model_version="1")
    assert "trait label 'adipose fin' mapped to UBERON:2000251 (label)" in [x.message for x in rep.problems]
    items = mem_kg.predictions.agreement(batch="contra")
    by = {(i["taxon"], i["status"]) for i in items}
    assert by == {("taxon:Danio_rerio", "disagree"), ("taxon:Ictalurus_punctatus", "agree")}
    d = next(i for i in items if i["status"] == "disagree")
    assert d["kind"] == "expectation-vs-observation"
    assert d["observed"] == {**d["observed"], "value": "present", "n": 3, "tier": "predicted"}
    assert d["observed"]["fraction"] == pytest.approx(2 / 3)
    assert d["expected"]["value"] == "absent" and d["expected"]["tier"] in ("asserted", "inferred")
    assert d["expected"]["evidence"]
    assert json.dumps(items)  # JSON-ready


@pytest.mark.slow
def test_beetleverse_accuracy_recomputed_from_the_store_equals_published_metrics(mem_kg, shared, tmp_path):
    d = shared / "beetleverse"
    names = set()
    for f in ("BeetlePalooza_BioCLIP-species.csv", "BeetlePUUM_BioCLIP-species.csv",
              "BeetlePalooza_ConvNeXt-traits-weather.csv"):
        names |= set(pd.read_csv(d / f, dtype=str, keep_default_na=False)["ScientificName"]) - {""}
    tax = tmp_path / "carabids.csv"
    pd.DataFrame({"family": "Carabidae", "genus": [n.split()[0] for n in sorted(names)],
                  "species": sorted(names)}).to_csv(tax, index=False)
    mem_kg.load_taxonomy(tax)
    checked = []
    for stem in ("BeetlePalooza_BioCLIP-species", "BeetlePUUM_BioCLIP-species", "BeetlePalooza_ConvNeXt-traits-weather"):
        metrics = pd.read_csv(d / f"{stem}-metrics.csv")
        table = pd.read_csv(d / f"{stem}.csv", dtype=str, keep_default_na=False)
        for clf, published in zip(metrics["Model"], metrics["Accuracy"]):
            m = {"image": "ImageFilePath", "image_id": "basename", "taxon": "ScientificName",
                 "truth": "ScientificName", "value": f"Pred_{clf}", "constants": {"trait": "dwc:scientificName"}}
            if "PUUM" not in stem:  # empty labels and predictions there: a strict load refuses the batch
                with pytest.raises(BatchRejected, match="empty in"):
                    mem_kg.load_predictions(d / f"{stem}.csv", mapping=m, model=f"{stem}-{clf}")
            rep = mem_kg.load_predictions(d / f"{stem}.csv", mapping=m, model=f"{stem}-{clf}",
                                          model_version="47cddf434350", lenient=True)
            acc = mem_kg.predictions.accuracy(rep.graph)
            assert acc["table_accuracy"] == pytest.approx(published, abs=1e-12), (stem, clf)
            ok = table[(table["ScientificName"] != "") & (table[f"Pred_{clf}"] != "")]
            assert acc["n"] == len(ok)
            assert acc["accuracy"] == pytest.approx((ok["ScientificName"] == ok[f"Pred_{clf}"]).mean())
            checked.append((stem, clf))
    assert len(checked) == 20
    mlp = mem_kg.predictions.accuracy("BeetlePalooza_ConvNeXt-traits-weather-MLP_Baseline")
    assert round(mlp["table_accuracy"], 6) == 0.964912


@pytest.mark.slow
def test_beetleverse_elytra_measurements_summarised(mem_kg, shared, tmp_path):
    f = shared / "beetleverse" / "BeetlePalooza_ConvNeXt-traits-weather.csv"
    table = pd.read_csv(f, dtype=str, keep_default_na=False)
    m = {"image": "ImageFilePath", "image_id": "basename", "taxon": "ScientificName",
         "traits": [{"column": "Length", "trait": "PATO:0000122", "unit": "cm"},
                    {"column": "Width", "trait": "PATO:0000921", "unit": "cm"}]}
    rep = mem_kg.load_predictions(f, mapping=m, model="elytra-measure", model_version="neon-2018", lenient=True,
                                  new_taxa=True)
    assert rep.counts["rejected_rows"] == 3  # the rows without a species
    df = mem_kg.predictions.summaries("PATO:0000122")
    ok = table[table["ScientificName"] != ""]
    want = ok.assign(x=ok["Length"].astype(float)).groupby("ScientificName")["x"].agg(["size", "mean", "std"])
    got = df.assign(name=df["taxon"].str.replace("taxon:", "").str.replace("_", " ")).set_index("name")
    assert set(got.index) == set(want.index)
    for name, r in want.iterrows():
        assert got.loc[name, "n"] == r["size"] and got.loc[name, "mean"] == pytest.approx(r["mean"])
        assert got.loc[name, "unit"] == "UO:0000015"


def test_image_metadata_joins_predictions(world, pdir):
    world.load_predictions(pdir / "v1.csv")
    rep = world.load(pdir / "images.csv", kind="images")
    assert rep.graph.split("/graph/")[1].startswith("images/images/") and rep.counts["images"] == 3
    out = world.predictions.image("ark:/89609/toy/i1")
    assert out["metadata"] == {"accessURI": "https://example.org/img/i1.jpg", "imageBatch": "toy-batch-1",
                               "created": "2019-06-01", "image_quality": "best", "brightness": 0.81,
                               "uniform_background": True, "contains_ruler": False}
    assert len(out["predictions"]) == 2
    odd = world.predictions.image("IMG 5.png")
    assert "brightness" not in odd["metadata"] and odd["metadata"]["imageBatch"] == "toy-batch-2"
    # a join in SPARQL: predictions on images of one batch
    n = world.query(f"""SELECT (COUNT(*) AS ?n) WHERE {{ ?p <{TKG}image> ?img ; <{TKG}trait> UBERON:2000251 .
        ?img <{TKG}imageBatch> "toy-batch-1" }}""").rows[0][0].value
    assert n == "2"


def test_region_specimen_and_truth_are_kept(world, tmp_path):
    p = tmp_path / "r.csv"
    p.write_text('image,taxon,trait,value,bbox,specimen_id,truth,confidence\n'
                 '"ark:/89609/r/1",Danio rerio,PATO:0000122,3.5,"[10, 20, 110, 60]",MCZ:Ich:1234,3.4,0.5\n')
    world.load_predictions(p, model="r", model_version="1")
    got = world.predictions.image("ark:/89609/r/1")["predictions"][0]
    assert (got["region"], got["specimen"], got["ground_truth"], got["confidence"]) == (
        "[10, 20, 110, 60]", "MCZ:Ich:1234", "3.4", 0.5)


def _wing_means(df, side):
    w = df[df["side"] == side] if side else df
    return w.groupby("species")["Feret"].agg(["size", "mean"])


def test_both_wings_of_each_photograph_are_loaded_and_summarised_per_side_and_pooled(kg, pdir):
    """A Fiji per-wing measurement table (legacy bytes in an unmapped column): the side is part of
    each measurement's identity; summaries come per side, or pooled when asked."""
    rep = kg.load_predictions(pdir / "fiji_wings.csv", mapping=pdir / "fiji_wings.yaml", new_taxa=True)
    assert rep.graph.endswith("predictions/fiji-wing-measure/1.54f")
    assert (rep.counts["rows"], rep.counts["predictions"], rep.counts["images"]) == (8, 16, 4)
    img = kg.predictions.image("MZUSP-0412.jpg")["predictions"]
    assert [(p["trait"], p["region"], p["value"], p["unit"]) for p in img] == [
        ("PATO:0000122", "left", 5.281, "UO:0000016"), ("PATO:0000122", "right", 5.263, "UO:0000016"),
        ("PATO:0001323", "left", 10.412, "UO:0000082"), ("PATO:0001323", "right", 10.388, "UO:0000082")]
    iris = [r[0].value for r in kg.query(f"""SELECT ?p WHERE {{ GRAPH ?g {{ ?p <{TKG}region> "left" ; <{TKG}image> ?i ;
        <{TKG}trait> <http://purl.obolibrary.org/obo/PATO_0000122> }} }} ORDER BY ?p""").rows]
    assert len(iris) == 4 and all(i.endswith("/1/left") for i in iris)
    table = pd.read_csv(pdir / "fiji_wings.csv", encoding="latin-1")
    per_side = kg.predictions.summary("Apis mellifera")
    feret = {s["region"]: s for s in per_side if s["trait"] == "PATO:0000122"}
    assert set(feret) == {"left", "right"} and all(s.get("regions") is None for s in per_side)
    for side in ("left", "right"):
        want = _wing_means(table, side).loc["Apis mellifera"]
        assert (feret[side]["n"], feret[side]["mean"]) == (want["size"], pytest.approx(want["mean"]))
    pooled = [s for s in kg.predictions.summary("Apis mellifera", pooled=True) if s["trait"] == "PATO:0000122"]
    want = _wing_means(table, None).loc["Apis mellifera"]
    assert [(s["n"], s["regions"], s.get("region")) for s in pooled] == [(4, ["left", "right"], None)]
    assert pooled[0]["mean"] == pytest.approx(want["mean"])
    left = kg.predictions.summaries("PATO:0000122", region="left")
    assert list(left["region"]) == ["left", "left"] and list(left["n"]) == [2, 2]
    both = kg.predictions.summaries("PATO:0000122")
    assert sorted(zip(both["taxon"], both["region"])) == [
        ("taxon:Apis_mellifera", "left"), ("taxon:Apis_mellifera", "right"),
        ("taxon:Tetragonisca_angustula", "left"), ("taxon:Tetragonisca_angustula", "right")]
    assert len(kg.predictions.summaries("PATO:0000122", pooled=True)) == 2


def test_a_diff_matches_measurements_on_their_region(world, pdir, tmp_path):
    world.load_predictions(pdir / "fiji_wings.csv", mapping=pdir / "fiji_wings.yaml", new_taxa=True)
    v2 = tmp_path / "fiji_wings.csv"
    v2.write_bytes((pdir / "fiji_wings.csv").read_bytes().replace(b"5.263", b"5.3"))
    m = Mapping.read(pdir / "fiji_wings.yaml")
    m.batch["model_version"] = "1.54g"
    world.load_predictions(v2, mapping=m, new_taxa=True)
    d = world.predictions.diff("fiji-wing-measure/1.54f", "fiji-wing-measure/1.54g")
    assert (d["changed"], d["added"], d["removed"], d["unchanged"]) == (1, 0, 0, 15)
    assert d["sample_changed"] == [{"image": "MZUSP-0412.jpg", "trait": "PATO:0000122", "region": "right",
                                    "before": 5.263, "after": 5.3}]


def test_image_table_columns_keep_their_types_and_a_collection_date_is_an_event_date(world, tmp_path):
    p = tmp_path / "imgs.csv"
    p.write_text("ARKID,Date,create_date,width,height,catalog,brightness,has_ruler,note\n"
                 "ark:/89609/t/1,2018-07-04,2019-06-01T10:00:00Z,4000,3000,00123,0.5,true,ok\n"
                 "ark:/89609/t/2,2018-07-05,2019-06-02T10:00:00Z,3999,,00124,1,false,\n")
    world.load(p, kind="images")
    rows = world.query("""SELECT ?p ?o WHERE { GRAPH ?g { <https://n2t.net/ark:/89609/t/1> ?p ?o } }""").rows
    got = {r[0].value.rsplit("/", 1)[-1].rsplit("#", 1)[-1]: (r[1].value, r[1].datatype.value.rsplit("#", 1)[-1]
                                                             if getattr(r[1], "datatype", None) else None)
           for r in rows}
    assert got["eventDate"] == ("2018-07-04", "date") and "created" in got
    assert got["created"] == ("2019-06-01T10:00:00Z", "dateTime")
    assert got["width"] == ("4000", "integer") and got["height"] == ("3000", "integer")
    assert got["catalog"] == ("00123", "string")  # leading zeros: an identifier, not a number
    assert got["brightness"] == ("0.5", "double") and got["has_ruler"] == ("true", "boolean")
    meta = world.predictions.image("ark:/89609/t/2")["metadata"]
    assert meta == {"eventDate": "2018-07-05", "created": "2019-06-02T10:00:00Z", "width": 3999, "catalog": "00124",
                    "brightness": 1.0, "has_ruler": False}
    assert not world.query("ASK { GRAPH ?g { ?i <http://purl.org/dc/terms/created> \"2018-07-04\" } }")


def test_categorical_traits_per_region_and_pooled(world, tmp_path):
    p = tmp_path / "fins.csv"
    p.write_text("image,taxon,trait,value,side\n"
                 "a.jpg,Danio rerio,UBERON:2000251,present,left\na.jpg,Danio rerio,UBERON:2000251,absent,right\n"
                 "b.jpg,Danio rerio,UBERON:2000251,present,left\nb.jpg,Danio rerio,UBERON:2000251,present,right\n")
    world.load_predictions(p, model="fins", model_version="1")
    per = world.predictions.summary("Danio rerio", batch="fins")
    assert [(s["region"], s["states"], s["mode"]) for s in per] == [("left", {"present": 2}, "present"),
                                                                   ("right", {"absent": 1, "present": 1}, "absent")]
    pooled = world.predictions.summary("Danio rerio", batch="fins", pooled=True)
    assert [(s.get("region"), s["regions"], s["states"], s["n"]) for s in pooled] == [
        (None, ["left", "right"], {"present": 3, "absent": 1}, 4)]
    agreement = world.predictions.agreement(batch="fins", taxon="Danio rerio")
    assert [a["observed"]["n"] for a in agreement] == [4]  # pooled: each image side counted once


def test_the_batch_write_reports_its_progress_in_predictions(world, pdir):
    seen: list[tuple[int, int | None]] = []
    rep = world.load_predictions(pdir / "v1.csv", progress=lambda done, total: seen.append((done, total)))
    n = rep.counts["predictions"]
    assert seen[0] == (0, n) and seen[-1] == (n, n)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_every_summary_read_whole_equals_the_bound_queries(kg, pdir):
    """all_summaries (each summary graph read quad by quad) gives what the queries give, row for
    row and in the same order: per region and pooled, two models' batches, each taxon's own."""
    from kg.core.store import NamedNode
    from kg.predictions.queries import all_summaries, summaries_where

    kg.load_taxonomy(pdir / "taxa.csv")
    kg.load_predictions(pdir / "fiji_wings.csv", mapping=pdir / "fiji_wings.yaml", new_taxa=True)
    kg.load_predictions(pdir / "v1.csv")
    _, graphs = kg.predictions.chosen()
    assert len(graphs) == 2
    every = all_summaries(kg.store, graphs)
    assert every == summaries_where(kg.store, {}, [], graphs)
    assert [list(d) for d in every] == [list(d) for d in summaries_where(kg.store, {}, [], graphs)]  # field order
    assert any(d.get("regions") for d in every) and any(d.get("region") for d in every)
    for taxon in {d["taxon_iri"] for d in every}:
        assert [d for d in every if d["taxon_iri"] == taxon] == summaries_where(
            kg.store, {"taxon": NamedNode(taxon)}, [], graphs)


def test_every_summary_read_whole_reads_any_literal_as_the_bound_queries_do(world, pdir):
    """all_summaries reads each summary graph as the engine's SPARQL TSV: summaries whose literals
    have quotes, tabs, newlines, backslashes and other scripts, numbers of every numeric type
    (written bare or quoted: NaN, INF, a decimal, an integer past 64 bits, a double with an
    exponent), a boolean, and a blank-node subject give what the bound queries give, field for field."""
    from kg.core.graphs import TKG
    from kg.core.store import BlankNode, Literal, NamedNode, Quad
    from kg.predictions.queries import all_summaries, summaries_where

    world.load_predictions(pdir / "v1.csv")
    _, graphs = world.predictions.chosen()
    g = NamedNode(next(iter(graphs)))
    xsd = "http://www.w3.org/2001/XMLSchema#"
    odd = 'a "q"\tb\\c\nd é 鰭 \u2028\x01'

    def lit(v: str, dt: str | None = None) -> Literal:
        return Literal(v, datatype=NamedNode(xsd + dt)) if dt else Literal(v)

    for k, node in enumerate([NamedNode("https://w3id.org/traitkg/prediction/odd/1"), BlankNode("odd2")]):
        fields = {"taxon": NamedNode("https://w3id.org/traitkg/taxon/Odd_" + "ab"[k]),
                  "trait": NamedNode("http://purl.obolibrary.org/obo/UBERON_0000151"),
                  "traitKind": lit("categorical"), "stateCounts": lit('{"x \\"y\\"": 2, "\\u00e9\\n": 1}'),
                  "mostFrequentState": lit(odd), "region": lit(odd + str(k)),
                  "n": lit("12345678901234567890", "integer"), "mean": lit("NaN", "double"),
                  "sd": lit("INF", "double"), "se": lit("1.50", "decimal"), "median": lit("1e3", "double"),
                  "meanConfidence": lit("0.25", "float"), "min": lit("-0", "integer"),
                  "q25": lit("true", "boolean"), "q75": lit("3", "int"),
                  "unit": NamedNode("http://purl.obolibrary.org/obo/UO_0000016")}
        world.store.add_quads([Quad(node, NamedNode(TKG + p), o, g) for p, o in fields.items()]
                              + [Quad(node, NamedNode(TKG + "pooledRegion"), lit(r), g) for r in (odd, "left")])
    every = all_summaries(world.store, graphs)
    bound = summaries_where(world.store, {}, [], graphs)
    assert repr([list(d.items()) for d in every]) == repr([list(d.items()) for d in bound])  # NaN == NaN here
    odd_rows = [d for d in every if d["taxon"].endswith(("Odd_a", "Odd_b"))]
    assert len(odd_rows) == 2 and odd_rows[0]["mode"] == odd and odd_rows[0]["n"] == 12345678901234567890
    assert odd_rows[0]["states"] == {'x "y"': 2, "é\n": 1} and odd_rows[0]["regions"] == sorted([odd, "left"])
    assert odd_rows[0]["median"] == 1000.0 and odd_rows[0]["q25"] is True and odd_rows[0]["se"] == 1.5
