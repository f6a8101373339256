"""Export every trainer's input files from one pinned KG, with a manifest that makes the run
reproducible: the graph versions used (IRI, kind, name, version, sha256), the export parameters,
the input files' sha256 and every written file's sha256.

``manifest.json`` + the same store contents -> the same bytes: :func:`reproduce` checks the store
still holds every graph version named in the manifest (and the input files their checksums),
re-runs the export and compares the files.

Formats (:data:`kg.training.formats.WRITERS`): ``phylonn``, ``phylodiffusion``, ``hcompnet``,
``bioclip``, ``fishvista``, ``csv``; each into its own sub-folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kg.core.errors import IntegrityError, ValidationError
from kg.core.graphs import sha256_file
from kg.core.version import __version__
from kg.training.formats import WRITERS

if TYPE_CHECKING:  # pragma: no cover
    from kg.training import Training

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
#: formats that read the presence/absence calls
NEEDS_TRAITS = ("fishvista", "csv")


@dataclass
class ExportSpec:
    """What to export and how; every field is JSON and recorded in the manifest."""

    formats: list[str]
    tree: str | None = None
    taxa: list[str] | None = None              # default: every tip
    min_fraction: float = 0.5
    images: str | None = None                  # image manifest (CSV/TSV/Parquet)
    images_root: str | None = None
    check_files: bool = True
    cuts: list[float] | None = None            # fixed cuts; default: chosen from the data
    by: str = "auto"                           # age | relative | depth | auto (age on ultrametric trees)
    n_levels: int = 3
    choose: str = "balanced"                   # balanced | signal
    lineage: dict[str, str] = field(default_factory=dict)  # ranks above the taxonomy (BioCLIP)
    split: str = "clade"                       # clade | rank | age | depth | relative | species | random
    rank: str = "genus"                        # rank split: hold out whole groups of this rank
    cut: float | None = None                   # age / depth / relative split: where clades are cut
    strict: bool = False                       # degenerate splits and level sets are errors, not warnings
    id_column: str | None = None               # image manifest columns, when not found by name
    path_column: str | None = None
    taxon_column: str | None = None
    seed: int = 0
    fractions: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    test: float = 0.2
    val: float = 0.1
    min_clade: int = 2
    max_clade: int = 20
    weight: str | None = None                  # quality column -> sample weights
    higher_is_better: bool = True
    min_quality: dict[str, float] = field(default_factory=dict)
    max_quality: dict[str, float] = field(default_factory=dict)
    entities: list[str] | None = None
    predicted: str | None = None               # CSV: taxon, then one column per trait (means)
    distances: bool = False                    # csv: also the distance matrix (float32 .npy)

    def __post_init__(self) -> None:
        bad = [f for f in self.formats if f not in WRITERS]
        if bad or not self.formats:
            raise ValidationError(f"export format(s) {', '.join(map(repr, bad)) or 'none'}: expected some of "
                                  f"{', '.join(WRITERS)}")
        self.formats = list(dict.fromkeys(self.formats))
        for key in ("images", "images_root", "predicted"):  # absolute, so the manifest works from anywhere
            v = getattr(self, key)
            if v:
                setattr(self, key, str(Path(v).resolve()))


class Inputs:
    """Everything the writers read, built once per export (levels, ranks, split, traits lazily)."""

    def __init__(self, training: Training, spec: ExportSpec) -> None:
        self.training = training
        self.spec = spec
        self.tree = training.tree(spec.tree)
        self.index = self.tree.index
        self.taxa = training.taxa(spec.taxa, tree=spec.tree, min_fraction=spec.min_fraction)
        self.taxonomy = training.taxonomy()
        self.ranks = training.rank_labels(self.taxa, prefix=spec.lineage) if self.taxonomy else None
        self.images = None
        if spec.images:
            self.images = training.images(spec.images, tree=spec.tree, root=spec.images_root,
                                          check_files=spec.check_files, weight=spec.weight, warn=False,
                                          id_column=spec.id_column, path_column=spec.path_column,
                                          taxon_column=spec.taxon_column,
                                          higher_is_better=spec.higher_is_better,
                                          min_quality=spec.min_quality or None, max_quality=spec.max_quality or None)
            keep = set(self.taxa.names)
            self.images.drop(~self.images.frame["taxon"].isin(keep).to_numpy(), "taxon not exported",
                             lambda r: f"taxon {r['taxon']!r} is a tip but not among the exported taxa (--taxa)",
                             "taxon")
            line = self.images.summary_line()
            if line:
                log.warning("%s", line)
        self._cache: dict[str, Any] = {}

    @property
    def levels(self) -> Any:
        if "levels" not in self._cache:
            values = self.traits.values if self.spec.choose == "signal" else None
            self._cache["levels"] = self.training.levels(self.taxa, self.spec.cuts, by=self.spec.by,
                                                         choose=self.spec.choose, n_levels=self.spec.n_levels,
                                                         values=values, tree=self.spec.tree, strict=self.spec.strict)
        return self._cache["levels"]

    @property
    def split(self) -> Any:
        if "split" not in self._cache:
            s = self.spec
            self._cache["split"] = self.training.split(self.taxa, method=s.split, seed=s.seed, fractions=s.fractions,
                                                       min_size=s.min_clade, max_size=s.max_clade, test=s.test,
                                                       val=s.val, tree=s.tree, rank=s.rank, cut=s.cut,
                                                       strict=s.strict)
        return self._cache["split"]

    @property
    def species_split(self) -> Any:
        """The split when it leaves whole species out (clade or species), else a species split."""
        if self.spec.split != "random":
            return self.split
        if "species_split" not in self._cache:
            self._cache["species_split"] = self.training.split(self.taxa, method="species", seed=self.spec.seed,
                                                               fractions=self.spec.fractions)
        return self._cache["species_split"]

    @property
    def traits(self) -> Any:
        if "traits" not in self._cache:
            pred = None
            if self.spec.predicted:
                pred = pd.read_csv(self.spec.predicted, index_col=0)
            self._cache["traits"] = self.training.trait_matrix(self.taxa, self.spec.entities, predicted=pred)
        return self._cache["traits"]

    def ancestors(self) -> dict[str, list[Any]]:
        return self.training.ancestor_paths(self.taxa, tree=self.spec.tree)

    def used(self) -> list[str]:
        return sorted(self._cache)


def _record(r: Any) -> dict[str, Any]:
    return {"iri": r.iri, "kind": r.kind, "name": r.name, "version": r.version, "sha256": r.sha256}


def _inputs(spec: ExportSpec) -> list[dict[str, Any]]:
    out = []
    for key in ("images", "predicted"):
        p = getattr(spec, key)
        if p:
            sha, size = sha256_file(Path(p))
            out.append({"role": key, "path": str(p), "sha256": sha, "bytes": size})
    return out


def export(training: Training, directory: Path, spec: ExportSpec) -> dict[str, Any]:
    """Write each format into ``directory/<format>/`` and ``directory/manifest.json``; returns the manifest."""
    t0 = time.perf_counter()
    inp = Inputs(training, spec)
    directory.mkdir(parents=True, exist_ok=True)
    reports: dict[str, Any] = {"taxa": inp.taxa.report()}
    if inp.images is not None:
        reports["images"] = inp.images.report()
    files: list[dict[str, Any]] = []
    stale: list[str] = []
    for fmt in spec.formats:
        d = directory / fmt
        d.mkdir(exist_ok=True)
        tmp = directory / f".{fmt}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            reports[fmt] = WRITERS[fmt](inp, tmp)
            made = sorted(f.name for f in tmp.iterdir() if f.is_file())
            for name in made:  # only what this run wrote is listed; older files are named as stale
                os.replace(tmp / name, d / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        stale += [f"{fmt}/{f.name}" for f in sorted(d.iterdir()) if f.is_file() and f.name not in made]
        for name in made:
            sha, size = sha256_file(d / name)
            files.append({"path": f"{fmt}/{name}", "sha256": sha, "bytes": size})
    if stale:
        reports["stale_files"] = stale
        log.warning("training export: %d older file(s) in %s not written by this run: %s", len(stale),
                    directory, ", ".join(stale[:5]))
    if "levels" in inp.used():
        reports["levels"] = {"by": inp.levels.by, "cuts": inp.levels.cuts, "levels": inp.levels.report}
    if "split" in inp.used() or "species_split" in inp.used():
        reports["split"] = (inp.split if "split" in inp.used() else inp.species_split).report
    if "traits" in inp.used():
        reports["traits"] = inp.traits.report()
    manifest = {
        "manifest_format": MANIFEST_FORMAT,
        "traitkg_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "store": training.store.selector,
        "graphs": [_record(r) for r in training.graph_records(tree=spec.tree, traits="traits" in inp.used())],
        "spec": dataclasses.asdict(spec),
        "inputs": _inputs(spec),
        "files": files,
        "reports": reports,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    log.info("training export: %d files in %s (%.2fs)", len(files), directory, manifest["seconds"])
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        m = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{path}: not a training export manifest ({exc})") from exc
    if m.get("manifest_format") != MANIFEST_FORMAT or "spec" not in m:
        raise ValidationError(f"{path}: not a training export manifest (format {m.get('manifest_format')!r}, "
                              f"expected {MANIFEST_FORMAT})")
    return m


def check_graphs(training: Training, manifest: dict[str, Any]) -> None:
    """Every graph version of the manifest must be in the store with the same sha256."""
    from kg.core.graphs import list_graphs

    have = {r.iri: r for r in list_graphs(training.store)}
    bad = []
    for g in manifest["graphs"]:
        r = have.get(g["iri"])
        if r is None:
            bad.append(f"{g['kind']}/{g['name']}/{g['version']} is not loaded")
        elif r.sha256 != g["sha256"]:
            bad.append(f"{g['kind']}/{g['name']}/{g['version']} has sha256 {r.sha256[:12]}…, "
                       f"the manifest {g['sha256'][:12]}…")
    for i in manifest.get("inputs", []):
        p = Path(i["path"])
        if not p.is_file():
            bad.append(f"input {i['role']} {p} does not exist")
        elif sha256_file(p)[0] != i["sha256"]:
            bad.append(f"input {i['role']} {p} changed (sha256 differs)")
    if bad:
        raise IntegrityError("the store does not hold what the manifest was built from: " + "; ".join(bad))


def reproduce(training: Training, manifest_path: Path, directory: Path) -> dict[str, Any]:
    """Re-run the export of a manifest into ``directory`` and compare every file's sha256."""
    old = read_manifest(manifest_path)
    check_graphs(training, old)
    spec = ExportSpec(**old["spec"])
    new = export(training, directory, spec)
    before = {f["path"]: f["sha256"] for f in old["files"]}
    after = {f["path"]: f["sha256"] for f in new["files"]}
    new["reproduced"] = {p: before.get(p) == after.get(p) for p in sorted(set(before) | set(after))}
    new["reproduced_from"] = str(manifest_path)
    new["manifest_sha256"] = hashlib.sha256(Path(manifest_path).read_bytes()).hexdigest()
    (directory / MANIFEST).write_text(json.dumps(new, indent=1, default=str) + "\n")
    return new
