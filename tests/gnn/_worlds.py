"""Small worlds for the gnn tests (and the hypotheses API test): the bundled sample with gaps and a conflict."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def gappy_sample(directory: Path, *, conflict: bool = True, selector: str = "oxigraph:") -> Any:
    """The bundled sample world with the dorsal-fin and barbel cells of rows 3-10 left out (cells
    to hypothesise) and, with ``conflict``, a second matrix saying Danio rerio's adipose fin is the
    other state (a conflict between asserted calls)."""
    from kg import KnowledgeGraph
    from kg.demo import sample_dir

    d = sample_dir()
    directory.mkdir(parents=True, exist_ok=True)
    text = (d / "phenotypes.xml").read_text()
    for r in range(3, 11):
        start = text.index(f'<row id="row{r}" ')
        end = text.index("</row>", start)
        text = text[:start] + re.sub(r'\s*<cell char="char[57]" state="[^"]*"/>', "", text[start:end]) + text[end:]
    (directory / "base.xml").write_text(text)
    paths = [directory / "base.xml"]
    if conflict:
        row = text.index('<row id="row1" otu="otu1">')
        old = '<cell char="char2" state="c2s0"/>'
        cell = text.index(old, row)
        other = text[:cell] + '<cell char="char2" state="c2s1"/>' + text[cell + len(old):]
        (directory / "other.xml").write_text(other.replace("traitkg sample matrix", "a contradicting matrix"))
        paths.append(directory / "other.xml")
    kg = KnowledgeGraph.open(selector)
    kg.load_ontology(d / "fish-anatomy-slim.ttl")
    kg.load_taxonomy(d / "taxonomy.csv")
    kg.load_tree(d / "fish-tree.nwk", name="sample")
    kg.load_phenotypes(paths)
    return kg
