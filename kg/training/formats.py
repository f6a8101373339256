"""One writer per trainer: the exact input files of Phylo-NN, Phylo-Diffusion, HComP-Net, BioCLIP,
Fish-Vista and a plain CSV bundle. Each takes the built :class:`kg.training.exporters.Inputs` and
a folder, writes its files there and returns a short report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kg.core.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from kg.training.exporters import Inputs

#: the ranks of a BioCLIP taxonomic caption, in order
BIOCLIP_RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")


def _csv(df: pd.DataFrame, path: Path, index: bool = False) -> None:
    df.to_csv(path, index=index, lineterminator="\n")


def _json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False, ensure_ascii=False) + "\n")


def _subtree(inp: Inputs, tip_names: list[str], internal: str = "", ultrametric: bool = False) -> str:
    """Newick of the tree induced by the taxa, tips renamed (in the order of ``inp.taxa.names``);
    with ``ultrametric``, tip branches are stretched so every tip is at the same height (rounding)."""
    from loaders.parsed_tree import write_newick

    ix = inp.index
    nodes, par, blen = ix.induced(inp.taxa.ids)
    size = np.ones(len(par), dtype=np.int64)
    p = par.tolist()
    for i in range(len(p) - 1, 0, -1):
        size[p[i]] += size[i]
    if ultrametric and len(nodes) > 1:
        tip = size == 1
        h = ix.dist[nodes] - ix.dist[nodes[0]]
        blen = blen.copy()
        blen[tip] += h[tip].max() - h[tip]
    rename = dict(zip(inp.taxa.ids.tolist(), tip_names))
    names = []
    for k, v in enumerate(nodes.tolist()):
        if size[k] == 1:
            names.append(rename.get(v, ix.names[v]))
        elif internal == "node":
            names.append(ix.names[v] or f"node_{v}")
        else:
            names.append("")
    return write_newick(par, size, names, blen)


def _level_table(inp: Inputs) -> pd.DataFrame:
    lv = inp.levels
    df = lv.groups.copy()
    for c in lv.names.columns:
        df[f"{c}_node"] = lv.names[c]
    return df


def phylonn(inp: Inputs, d: Path) -> dict[str, Any]:
    """Phylo-NN: an ultrametric Newick with ``ott<ID>`` tips, the name -> id map, level groups at the cuts."""
    from kg.training.levels import ULTRAMETRIC_TOL

    if not inp.index.is_ultrametric(ULTRAMETRIC_TOL):
        raise ValidationError(f"Phylo-NN needs an ultrametric tree; tree {inp.tree.name!r} is not "
                              f"(root-to-tip distances differ by more than {ULTRAMETRIC_TOL:g} of its height)")
    ott = inp.taxonomy.ott
    tips, no_ott = [], 0
    for n in inp.taxa.names:
        if n in ott:
            tips.append(f"ott{ott[n]}")
        else:
            tips.append(n.replace(" ", "_"))
            no_ott += 1
    (d / "phylogeny.tre").write_text(_subtree(inp, tips, ultrametric=True) + "\n")
    _json({n: t for n, t in zip(inp.taxa.names, tips)}, d / "name_to_ott.json")
    lv = _level_table(inp)
    lv.insert(0, "tip", tips)
    _csv(lv.reset_index(), d / "levels.csv")
    _json({"by": inp.levels.by, "cuts": inp.levels.cuts, "levels": inp.levels.report}, d / "cuts.json")
    return {"tips": len(tips), "tips_without_ott_id": no_ott, "levels": len(inp.levels.cuts)}


def phylodiffusion(inp: Inputs, d: Path) -> dict[str, Any]:
    """Phylo-Diffusion: species -> the class index at each level, as strings."""
    g = inp.levels.groups
    per = {t: [str(x) for x in row] for t, row in zip(g.index, g.to_numpy().tolist())}
    _json(per, d / "species_levels.json")
    df = g.copy()
    df["label"] = inp.levels.strings()
    _csv(df.reset_index(), d / "level_classes.csv")
    rows = []
    for c in g.columns:
        sizes = g[c].value_counts()
        first = inp.levels.names[c].groupby(g[c]).first()
        rows += [{"level": c, "class": int(k), "node": first[k], "species": int(sizes[k])} for k in sorted(sizes.index)]
    _csv(pd.DataFrame(rows), d / "level_names.csv")
    _json({"by": inp.levels.by, "cuts": inp.levels.cuts, "levels": inp.levels.report}, d / "cuts.json")
    return {"species": len(per), "classes_per_level": [int(r["groups"]) for r in inp.levels.report]}


def hcompnet(inp: Inputs, d: Path) -> dict[str, Any]:
    """HComP-Net: a tree whose leaves are the class names, and image-count weights per node."""
    classes = [n.replace(" ", "_") for n in inp.taxa.names]
    (d / "phylogeny.tre").write_text(_subtree(inp, classes, internal="node") + "\n")
    ix = inp.index
    nodes, par, _ = ix.induced(inp.taxa.ids)
    images = np.zeros(len(nodes))
    n_cls = np.zeros(len(nodes), dtype=np.int64)
    counts = inp.images.frame["taxon"].value_counts() if inp.images is not None else None
    pos = {v: k for k, v in enumerate(nodes.tolist())}
    for n, v in zip(inp.taxa.names, inp.taxa.ids.tolist()):
        k = pos[v]
        n_cls[k] = 1
        images[k] = float(counts.get(n, 0)) if counts is not None else 1.0
    p = par.tolist()
    for i in range(len(p) - 1, 0, -1):
        images[p[i]] += images[i]
        n_cls[p[i]] += n_cls[i]
    rename = dict(zip(inp.taxa.ids.tolist(), classes))
    names = [rename.get(v) or ix.names[v] or f"node_{v}" for v in nodes.tolist()]
    total = images[0] if images[0] > 0 else 1.0
    df = pd.DataFrame({"node": names, "parent": [names[x] if x >= 0 else "" for x in p], "classes": n_cls,
                       "images": images.astype(np.int64), "weight": images / total})
    _csv(df, d / "node_weights.csv")
    if inp.images is not None:
        _csv(_image_rows(inp, classes=True), d / "images.csv")
    return {"classes": len(classes), "internal_nodes": int((n_cls > 1).sum()),
            "weights_from": "images" if counts is not None else "classes"}


def _image_rows(inp: Inputs, classes: bool = False) -> pd.DataFrame:
    f = inp.images.frame
    out = pd.DataFrame({"image_id": f["image_id"], "path": f["path"], "taxon": f["taxon"]})
    if classes:
        out["class"] = out["taxon"].str.replace(" ", "_")
    out["split"] = inp.split.for_items(f["taxon"].tolist()).to_numpy()
    if "weight" in f.columns:
        out["weight"] = f["weight"].to_numpy()
    return out


def bioclip(inp: Inputs, d: Path) -> dict[str, Any]:
    """BioCLIP: taxonomic caption strings (kingdom ... genus epithet) per species and per image."""
    r = inp.ranks.reindex(columns=list(BIOCLIP_RANKS), fill_value="") if inp.ranks is not None else \
        pd.DataFrame("", index=pd.Index(inp.taxa.names, name="taxon"), columns=list(BIOCLIP_RANKS))
    for k, v in inp.spec.lineage.items():
        if k in r.columns:
            r[k] = r[k].where(r[k] != "", v)
    caps, missing = [], 0
    for t, row in zip(r.index, r.to_dict("records")):
        genus = row["genus"] or t.split(" ", 1)[0]
        epithet = t[len(genus) + 1:] if t.startswith(genus + " ") else t
        parts = [row[k] for k in BIOCLIP_RANKS[:-2] if row[k]] + [genus, epithet]
        missing += sum(1 for k in BIOCLIP_RANKS[:-2] if not row[k])
        caps.append(" ".join(parts))
    out = r.copy()
    out["taxonomic"] = caps
    out["scientific"] = list(r.index)
    out["caption"] = [f"a photo of {c}." for c in caps]
    _csv(out.reset_index(), d / "taxa.csv")
    if inp.images is not None:
        im = _image_rows(inp)
        cap = dict(zip(out.index, caps))
        im["taxonomic"] = im["taxon"].map(cap)
        im["caption"] = "a photo of " + im["taxonomic"] + "."
        _csv(im, d / "images.csv")
    return {"species": len(caps), "missing_rank_names": int(missing)}


def fishvista(inp: Inputs, d: Path) -> dict[str, Any]:
    """Fish-Vista: species-level trait expectation columns, the tier of each, leave-out-species splits."""
    tm = inp.traits
    split = inp.species_split
    v = tm.values.copy()
    v.insert(0, "split", split.assignment.reindex(v.index).to_numpy())
    _csv(v.reset_index(), d / "species_traits.csv")
    _csv(tm.tier.reset_index(), d / "trait_tiers.csv")
    _json({"traits": [{"id": c, "label": tm.labels.get(c, c)} for c in tm.values.columns],
           "report": tm.report(), "split": split.report}, d / "traits.json")
    if inp.images is not None:
        f = inp.images.frame
        im = pd.DataFrame({"image_id": f["image_id"], "path": f["path"], "species": f["taxon"],
                           "split": split.for_items(f["taxon"].tolist()).to_numpy()})
        im = im.join(tm.values, on="species")
        _csv(im, d / "images.csv")
    return {"species": len(v), "traits": int(len(tm.values.columns)), **split.counts()}


def plain_csv(inp: Inputs, d: Path) -> dict[str, Any]:
    """Everything as plain tables: per taxon ranks, level groups, split and traits; ancestors; images."""
    df = pd.DataFrame(index=pd.Index(inp.taxa.names, name="taxon"))
    df["tip"] = [inp.index.names[i] for i in inp.taxa.ids.tolist()]
    if inp.ranks is not None:
        df = df.join(inp.ranks)
    df = df.join(_level_table(inp))
    df["split"] = inp.split.assignment.reindex(df.index).to_numpy()
    df = df.join(inp.traits.values)
    _csv(df.reset_index(), d / "taxa.csv")
    paths = inp.ancestors()
    _csv(pd.DataFrame({"taxon": list(paths), "ancestors": [";".join(p) for p in paths.values()]}),
         d / "ancestors.csv")
    _csv(inp.traits.long(), d / "traits_long.csv")
    if inp.images is not None:
        im = _image_rows(inp)
        im = im.join(inp.levels.groups, on="taxon")
        _csv(im, d / "images.csv")
    out = {"taxa": len(df)}
    if inp.spec.distances:
        from kg.tree_distances import distance_matrix

        np.save(d / "distances.npy", distance_matrix(inp.index, inp.taxa.ids).astype(np.float32))
        (d / "distance_taxa.txt").write_text("\n".join(inp.taxa.names) + "\n")
        out["distance_matrix"] = [len(df), len(df)]
    return out


WRITERS = {"phylonn": phylonn, "phylodiffusion": phylodiffusion, "hcompnet": hcompnet, "bioclip": bioclip,
           "fishvista": fishvista, "csv": plain_csv}
