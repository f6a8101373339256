"""``traitkg export-training``: every trainer's input files from the KG, with a reproducible manifest."""

from __future__ import annotations

from pathlib import Path

import click

from kg.cli._app import emit_json, get_kg, main

FORMATS = ["phylonn", "phylodiffusion", "hcompnet", "bioclip", "fishvista", "csv"]


def _pairs(values: tuple[str, ...], what: str, cast: type = str) -> dict:
    out = {}
    for v in values:
        for part in v.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise click.BadParameter(f"{part!r}: expected NAME=VALUE", param_hint=what)
            k, x = part.split("=", 1)
            try:
                out[k.strip()] = cast(x.strip())
            except ValueError as exc:
                raise click.BadParameter(f"{part!r}: {exc}", param_hint=what) from exc
    return out


def _taxa(value: str | None) -> list[str] | None:
    if not value:
        return None
    if value.startswith("@"):
        return [x.strip() for x in Path(value[1:]).read_text().splitlines() if x.strip()]
    return [x.strip() for x in value.split(",") if x.strip()]


@main.command("export-training")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS + ["all"]), default=("all",),
              show_default=True, help="Trainer format(s); repeat the option for several.")
@click.option("--tree", "tree_name", help="Tree graph name (default: the only tree loaded).")
@click.option("--taxa", help="Taxa: comma-separated names or @FILE (one per line); default every tip.")
@click.option("--min-fraction", type=float, default=0.5, show_default=True,
              help="Refuse when fewer of the taxa are tips of the tree.")
@click.option("--images", type=click.Path(dir_okay=False), help="Image manifest (CSV/TSV/Parquet): image id, "
              "file path, taxon, optional quality columns.")
@click.option("--images-root", type=click.Path(file_okay=False), help="Folder of relative image paths.")
@click.option("--id-column", help="Image id column of the manifest (default: the first of image_id, ark_id, ark, "
              "id, image, uuid, camid; any case), e.g. X for a table written by R.")
@click.option("--path-column", help="File path column (default: path, file_path, filepath, file, image_path, "
              "filename or file_name).")
@click.option("--taxon-column", help="Taxon column (default: taxon, species, scientific_name, genus.species or label).")
@click.option("--no-file-check", is_flag=True, help="Don't check that image files exist.")
@click.option("--cuts", help="Fixed level cuts, comma-separated (ages, relative heights or depths; see --by).")
@click.option("--by", type=click.Choice(["auto", "age", "relative", "depth"]), default="auto", show_default=True,
              help="What the cuts measure (auto: age on an ultrametric tree, else depth).")
@click.option("--levels", "n_levels", type=int, default=3, show_default=True, help="Levels to choose without --cuts.")
@click.option("--choose", type=click.Choice(["balanced", "signal"]), default="balanced", show_default=True,
              help="Choose cuts for balanced groups or maximal phylogenetic signal of the traits.")
@click.option("--lineage", multiple=True, help="Ranks above the taxonomy, e.g. kingdom=Animalia,phylum=Chordata.")
@click.option("--split", type=click.Choice(["clade", "rank", "age", "depth", "relative", "species", "random"]),
              default="clade", show_default=True,
              help="Hold out whole clades by size (clade), whole groups of a taxonomic --rank, or whole clades below "
                   "a --cut by age, depth or relative height; validation is drawn by the same rule. Or leave "
                   "species out / deal at random (--fractions).")
@click.option("--rank", default="genus", show_default=True, help="Rank split: genus, family, order...")
@click.option("--cut", type=float, help="Age/depth/relative split: where the tree is cut into clades.")
@click.option("--strict", is_flag=True, help="Refuse degenerate splits (an empty set) and level sets (fewer "
              "levels than asked, one group) instead of warning.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--test", type=float, default=0.2, show_default=True, help="Hold-out splits: share of taxa held out.")
@click.option("--val", type=float, default=0.1, show_default=True, help="Hold-out splits: share for validation.")
@click.option("--fractions", default="0.8,0.1,0.1", show_default=True, help="Species/random split: train,val,test.")
@click.option("--min-clade", type=int, default=2, show_default=True)
@click.option("--max-clade", type=int, default=20, show_default=True)
@click.option("--weight", help="Quality column of the image manifest that becomes the sample weight.")
@click.option("--lower-is-better", is_flag=True, help="The weight column is better when lower (e.g. blur).")
@click.option("--min-quality", multiple=True, help="Keep images with COLUMN >= VALUE (repeatable).")
@click.option("--max-quality", multiple=True, help="Keep images with COLUMN <= VALUE (repeatable).")
@click.option("--entities", help="Trait entities (CURIEs, comma-separated); default every one with a call.")
@click.option("--predicted", type=click.Path(dir_okay=False), help="CSV of predicted trait means: taxon, traits...")
@click.option("--distances", is_flag=True, help="csv format: also write the distance matrix (float32 .npy).")
@click.option("--from-manifest", type=click.Path(dir_okay=False),
              help="Re-run the export recorded in a manifest.json (graph versions checked first).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def export_training(directory: str, formats: tuple[str, ...], tree_name: str | None, taxa: str | None,
                    min_fraction: float, images: str | None, images_root: str | None, id_column: str | None,
                    path_column: str | None, taxon_column: str | None, no_file_check: bool,
                    cuts: str | None, by: str, n_levels: int, choose: str, lineage: tuple[str, ...], split: str,
                    rank: str, cut: float | None, strict: bool, seed: int, test: float, val: float, fractions: str, min_clade: int, max_clade: int,
                    weight: str | None, lower_is_better: bool, min_quality: tuple[str, ...],
                    max_quality: tuple[str, ...], entities: str | None, predicted: str | None, distances: bool,
                    from_manifest: str | None, as_json: bool) -> None:
    """Write trainers' input files (Phylo-NN, Phylo-Diffusion, HComP-Net, BioCLIP, Fish-Vista, CSV) into
    DIRECTORY/<format>/, with DIRECTORY/manifest.json recording the graph versions they came from."""
    tr = get_kg().training
    if from_manifest:
        m = tr.reproduce(from_manifest, directory)
    else:
        fmts = FORMATS if "all" in formats else list(formats)
        try:
            cut_list = [float(x) for x in cuts.split(",")] if cuts else None
            frac = [float(x) for x in fractions.split(",")]
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
        m = tr.export(directory, fmts, tree=tree_name, taxa=_taxa(taxa), min_fraction=min_fraction,
                      images=images, images_root=images_root, id_column=id_column, path_column=path_column,
                      taxon_column=taxon_column, check_files=not no_file_check, cuts=cut_list, by=by, rank=rank,
                      cut=cut, strict=strict,
                      n_levels=n_levels, choose=choose, lineage=_pairs(lineage, "--lineage"), split=split, seed=seed,
                      fractions=frac, test=test, val=val, min_clade=min_clade, max_clade=max_clade, weight=weight,
                      higher_is_better=not lower_is_better, min_quality=_pairs(min_quality, "--min-quality", float),
                      max_quality=_pairs(max_quality, "--max-quality", float),
                      entities=[e.strip() for e in entities.split(",")] if entities else None,
                      predicted=predicted, distances=distances)
    if as_json:
        emit_json(m)
        return
    rep = m["reports"]
    t = rep["taxa"]
    missing = t["missing_names"]
    click.echo(f"taxa: {t['matched']} of {t['asked']} matched ({100 * t['matched_fraction']:.1f}%)"
               + (f"; not tips of the tree: {', '.join(missing[:5])}"
                  f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''}" if missing else ""))
    if "images" in rep:
        i = rep["images"]
        why = ", ".join(f"{r} {n}" for r, n in i.get("reasons", {}).items())
        click.echo(f"images: {i['kept']} of {i['rows']} kept" + (f"; {i['dropped']} left out ({why})" if why else ""))
        for p in i["problems"][:20]:
            click.echo(f"  line {p['line']} ({p['image_id']}): {p['message']}", err=True)
        if i["problem_count"] > 20:
            click.echo(f"  … and {i['problem_count'] - 20} more (every one in manifest.json's reports.images)", err=True)
    if "levels" in rep:
        for lv in rep["levels"]["levels"]:
            click.echo(f"{lv['level']}: cut {lv['cut']!r} ({lv['by']}), {lv['groups']} groups, "
                       f"sizes {lv['min_size']}..{lv['max_size']}, evenness {lv['evenness']!r}")
        for w in (rep["levels"]["levels"] or [{}])[0].get("warnings", []):
            click.echo(f"warning: levels: {w}", err=True)
    if "split" in rep:
        s = rep["split"]
        extra = {"clade": lambda: f", {s['held_out_clades']} held-out clades",
                 "rank": lambda: f", {len(s['test_groups'])} test and {len(s['val_groups'])} val {s['rank']} groups",
                 }.get(s.get("method"), lambda: f", {len(s['test_groups'])} test and {len(s['val_groups'])} val "
                                                 f"clades below {s['by']} {s['cut']!r}" if "cut" in s else "")()
        click.echo(f"split ({s['method']}, seed {s['seed']}): train {s['train']}, val {s['val']}, "
                   f"test {s['test']}{extra}")
        for w in s.get("warnings", []):
            click.echo(f"warning: {w}", err=True)
    for g in m["graphs"]:
        click.echo(f"graph {g['kind']}/{g['name']}/{g['version']}")
    click.echo(f"{len(m['files'])} files in {directory} ({m['seconds']}s); manifest: {Path(directory) / 'manifest.json'}")
    if "reproduced" in m:
        same = sum(m["reproduced"].values())
        click.echo(f"reproduced: {same} of {len(m['reproduced'])} files identical")
