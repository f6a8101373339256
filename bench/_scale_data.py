"""Seeded inputs of the scale bench (bench/scale.py): a taxonomy, a tree over it and prediction
tables with the shape of the Imageomics data, sized by one fraction of the full scale.

Full scale (fraction 1.0): a 2.4M-tip tree (Open Tree of Life synthesis: 2.39M tips) whose tips
are the species of a classification table (order, family, genus, species: the 31,517 real fish
species of the shared PFC classification first, then synthetic genera of up to 12 species in
synthetic families and orders); 10M prediction rows (BioCLIP's TreeOfLife-10M: 10.4M images of
454k taxa) over 450k of those species: 5 rows per image (two presence calls, an area, a length
per side: left and right), ARK image ids, a confidence per row, split into 3 model versions.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FULL_TIPS = 2_400_000
FULL_TAXA = 450_000
FULL_ROWS = 10_000_000
ROWS_PER_IMAGE = 5
MODEL_VERSIONS = ("1.0", "1.1", "2.0")


@dataclass
class ScaleInputs:
    taxonomy: Path
    tree: Path
    tables: list[tuple[str, Path, int]]  # (model version, Parquet table, rows)
    tips: int
    taxa: int
    rows: int
    species: list[str]  # every tip's species name (tree order is different)
    predicted: list[str]  # the species that have predictions


def sizes(fraction: float) -> tuple[int, int, int]:
    """(tips, predicted taxa, rows) at ``fraction`` of the full scale."""
    tips = max(100, round(FULL_TIPS * fraction))
    taxa = min(tips, max(20, round(FULL_TAXA * fraction)))
    rows = max(ROWS_PER_IMAGE * 10, round(FULL_ROWS * fraction) // ROWS_PER_IMAGE * ROWS_PER_IMAGE)
    return tips, taxa, rows


def _classification(shared: Path, tips: int, rng: np.random.Generator) -> list[tuple[str, str, str, str]]:
    real: list[tuple[str, str, str, str]] = []
    with open(shared / "fishtree" / "PFC_short_classification.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            real.append((r["order"], r["family"], r["genus"], " ".join(r["genus.species"].split())))
    # half the tips at most are real fish species (the Phenoscape matrices' taxa are among them)
    keep = min(len(real), tips // 2)
    idx = np.sort(rng.choice(len(real), keep, replace=False)) if keep < len(real) else np.arange(len(real))
    out = [real[i] for i in idx.tolist()]
    n_syn = tips - len(out)
    g = 0
    while n_syn > 0:
        k = int(min(n_syn, rng.integers(1, 13)))
        genus = f"Scalegenus{g}"
        fam, order = f"Scalidae{g // 40}", f"Scaliformes{g // 1000}"
        out += [(order, fam, genus, f"{genus} sp{j}") for j in range(k)]
        n_syn -= k
        g += 1
    return out


def write_taxonomy(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order", "family", "genus", "species"])
        w.writerows(rows)


def write_tree(path: Path, species: list[str], rng: np.random.Generator) -> None:
    """A random rooted tree over ``species`` (kept in classification order, so genera and families
    are mostly clades): ranges split at random points, small ranges sometimes left as polytomies;
    branch lengths exponential. Written with an explicit stack (no recursion), gzip Newick."""
    n = len(species)
    labels = [s.replace(" ", "_") for s in species]
    bl = np.round(rng.exponential(0.05, 2 * n + 8), 5).tolist()
    cuts = rng.random(2 * n + 8).tolist()
    poly = (rng.random(2 * n + 8) < 0.15).tolist()
    out: list[str] = []
    k = 0
    stack: list[tuple[int, int] | str] = [(0, n)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        lo, hi = item
        k += 1
        if hi - lo == 1:
            out.append(f"{labels[lo]}:{bl[k]}")
            continue
        if hi - lo <= 6 and poly[k]:
            out.append("(" + ",".join(f"{labels[i]}:{bl[(k + i) % len(bl)]}" for i in range(lo, hi)) + f"):{bl[k]}")
            continue
        m = lo + 1 + int(cuts[k] * (hi - lo - 1))
        out.append("(")
        stack += [f"):{bl[k]}", (m, hi), ",", (lo, m)]
    text = "".join(out)
    text = text[: text.rfind(":")] + ";\n"  # the root has no branch length
    with gzip.open(path, "wt", compresslevel=3) as fh:
        fh.write(text)


def write_predictions(d: Path, predicted: list[str], rows: int, rng: np.random.Generator) -> list[tuple[str, Path, int]]:
    """Long prediction tables (Parquet), one per model version, 5 rows per image."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_img = rows // ROWS_PER_IMAGE
    # images per taxon are skewed (a few taxa have many images): a Zipf-like draw over the taxa
    weights = 1.0 / np.arange(1, len(predicted) + 1) ** 0.6
    weights /= weights.sum()
    img_taxon = rng.choice(len(predicted), n_img, p=weights)
    taxa = np.asarray(predicted, dtype=object)
    version = rng.choice(len(MODEL_VERSIONS), n_img, p=[0.4, 0.35, 0.25])
    out = []
    for vi, ver in enumerate(MODEL_VERSIONS):
        sel = np.flatnonzero(version == vi)
        m = len(sel)
        ids = np.char.add(f"ark:/89609/tol10m{vi}/i", sel.astype(str)).astype(object)
        t = taxa[img_taxon[sel]]
        base = 4.0 + (img_taxon[sel] % 17) * 0.7
        cols = {
            "image_id": np.concatenate([ids] * ROWS_PER_IMAGE),
            "taxon": np.concatenate([t] * ROWS_PER_IMAGE),
            "trait": np.repeat(np.array(["UBERON:2000251", "UBERON:0000152", "PATO:0001323", "PATO:0000122",
                                         "PATO:0000122"], dtype=object), m),
            "region": np.repeat(np.array(["", "", "", "left", "right"], dtype=object), m),
            "value": np.concatenate([
                np.where(rng.random(m) < 0.7, "present", "absent").astype(object),
                np.where(rng.random(m) < 0.9, "present", "absent").astype(object),
                np.round(rng.gamma(4.0, base / 4), 3).astype(str).astype(object),
                np.round(rng.normal(base, 0.4), 3).astype(str).astype(object),
                np.round(rng.normal(base, 0.4), 3).astype(str).astype(object)]),
            "unit": np.repeat(np.array(["", "", "", "cm", "cm"], dtype=object), m),
            "confidence": np.round(rng.random(ROWS_PER_IMAGE * m), 3),
        }
        path = d / f"predictions-v{ver}.parquet"
        pq.write_table(pa.table(cols), path, compression="zstd")
        out.append((ver, path, ROWS_PER_IMAGE * m))
    return out


def make_inputs(d: Path, fraction: float, shared: Path, seed: int = 28,
                prediction_fraction: float | None = None) -> ScaleInputs:
    """The inputs at ``fraction``; ``prediction_fraction`` (default: ``fraction``) sizes the
    predicted taxa and prediction rows alone, over the same taxonomy and tree."""
    rng = np.random.default_rng(seed)
    tips, n_taxa, rows = sizes(fraction)
    if prediction_fraction is not None:
        _, n_taxa, rows = sizes(prediction_fraction)
        n_taxa = min(n_taxa, tips)
    cls = _classification(shared, tips, rng)
    tax = d / "taxonomy.csv"
    write_taxonomy(tax, cls)
    species = [c[3] for c in cls]
    tree = d / "tree.nwk.gz"
    write_tree(tree, species, rng)
    predicted = [species[i] for i in np.sort(rng.choice(len(species), n_taxa, replace=False)).tolist()]
    tables = write_predictions(d, predicted, rows, rng)
    return ScaleInputs(tax, tree, tables, tips, n_taxa, rows, species, predicted)
