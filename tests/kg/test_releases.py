"""KG releases: the README with counts, and `release diff` between two releases."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kg import KnowledgeGraph
from kg.cli import main
from kg.core.releases import diff_releases

TKG = "https://w3id.org/traitkg/schema#"
OWL = "http://www.w3.org/2002/07/owl#"


def _ttl(path, *lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_release_readme_counts_every_graph(tmp_path):
    g = KnowledgeGraph.open("oxigraph:")
    g.load_rdf(_ttl(tmp_path / "a.ttl", f"<http://ex.org/A> a <{TKG}Taxon> .", f"<http://ex.org/B> a <{TKG}Taxon> ."),
               name="taxa", version="1")
    g.export(tmp_path / "rel")
    text = (tmp_path / "rel" / "README.md").read_text()
    assert "| rdf | taxa | 1 | 2 |" in text
    assert "| rdf | 1 | 2 |" in text  # per kind: graphs, triples


def test_diff_reports_updated_graphs_and_members_per_category(tmp_path):
    g = KnowledgeGraph.open("oxigraph:")
    onto = _ttl(tmp_path / "o.ttl", f"<http://ex.org/T1> a <{OWL}Class> .", f"<http://ex.org/T2> a <{OWL}Class> .")
    g.load_rdf(onto, name="onto", version="2020", kind="ontology")
    g.load_rdf(_ttl(tmp_path / "t.ttl", f"<http://ex.org/A> a <{TKG}Taxon> ."), name="taxa", version="1")
    g.export(tmp_path / "r1")
    # a new release of the ontology replaces the old one; a prediction batch arrives
    g.drop("ontology/onto/2020")
    _ttl(onto, f"<http://ex.org/T1> a <{OWL}Class> .", f"<http://ex.org/T3> a <{OWL}Class> .",
         f"<http://ex.org/T4> a <{OWL}Class> .")
    g.load_rdf(onto, name="onto", version="2021", kind="ontology")
    g.load_rdf(_ttl(tmp_path / "p.ttl", f'<http://ex.org/p1> a <{TKG}Prediction> .'), name="run1", version="1",
               kind="predictions")
    g.export(tmp_path / "r2")

    d = diff_releases(tmp_path / "r1", tmp_path / "r2")
    assert d.graphs_updated == [{"kind": "ontology", "name": "onto", "from": "2020", "to": "2021",
                                 "triples_from": 2, "triples_to": 3}]
    assert [(x["kind"], x["name"]) for x in d.graphs_added] == [("predictions", "run1")]
    assert d.graphs_removed == [] and d.graphs_unchanged == 1
    cats = {c.name: c for c in d.categories}
    assert (cats["terms"].added, cats["terms"].removed) == (2, 1)
    assert cats["terms"].sample_added == ["http://ex.org/T3", "http://ex.org/T4"]
    assert cats["terms"].sample_removed == ["http://ex.org/T2"]
    assert (cats["predictions"].added, cats["taxa"].added, cats["taxa"].removed) == (1, 0, 0)

    r = CliRunner().invoke(main, ["release", "diff", str(tmp_path / "r1"), str(tmp_path / "r2")])
    assert r.exit_code == 0, r.output
    assert "ontology/onto: 2020 -> 2021 (2 -> 3 triples)" in r.output
    assert "terms: +2 -1" in r.output and "+ term http://ex.org/T3" in r.output
    r = CliRunner().invoke(main, ["release", "diff", "--json", str(tmp_path / "r1"), str(tmp_path / "r2")])
    assert json.loads(r.output)["graphs_added"][0]["name"] == "run1"


def test_diff_refuses_a_directory_that_is_not_a_release(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "x").mkdir()
    r = CliRunner().invoke(main, ["release", "diff", str(tmp_path / "r"), str(tmp_path / "x")])
    assert r.exit_code == 2
    assert "is not a traitkg release: release.json is missing" in r.output
