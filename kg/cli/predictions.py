"""Prediction commands: load predictions, predictions (--image / --taxon), predictions summary,
summaries, batches, accuracy, diff, disagreements."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from kg.cli._app import FORMAT_OPTION, emit, emit_json, get_kg, json_refusals, load_group, main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats"


def _show_doc(name: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    """An eager flag's callback: print the user documentation of a table format and exit."""
    def show(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if not value or ctx.resilient_parsing:
            return
        path = DOCS / name
        if path.is_file():
            click.echo(path.read_text(encoding="utf-8"), nl=False)
        else:
            click.echo(f"the format documentation is docs/formats/{name} in the traitkg source tree "
                       "(this installation does not include it)")
        ctx.exit(0)
    return show


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not sep or not k.strip():
            raise click.BadParameter(f"{v!r}: expected {what}")
        out[k.strip()] = val.strip()
    return out


@load_group.command("predictions", epilog="Mapping fields, YAML and --column/--constant forms, units, kinds, wide "
                    "tables, regions, encodings and a worked example: docs/formats/predictions.md "
                    "(printed by --help-mapping).")
@click.argument("source")
@click.option("--help-mapping", is_flag=True, expose_value=False, is_eager=True, callback=_show_doc("predictions.md"),
              help="Print the prediction table and mapping documentation (docs/formats/predictions.md) and exit.")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False),
              help="YAML file naming the columns (image, taxon, trait, value, confidence, unit, region, ...; "
                   "see --help-mapping).")
@click.option("--column", "columns", multiple=True, metavar="FIELD=COLUMN", help="Map one field to a column.")
@click.option("--constant", "constants", multiple=True, metavar="FIELD=VALUE",
              help="One value for every row (e.g. trait=dwc:scientificName).")
@click.option("--image-id", type=click.Choice(["as-is", "basename", "stem"]), help="How image ids are read from "
              "their column (basename: the last path segment).")
@click.option("--model", help="Model name (names the batch graph).")
@click.option("--model-version", help="Model version (the batch graph's version).")
@click.option("--weights", "weights_sha256", help="Checksum of the model weights.")
@click.option("--hf-repo", help="Hugging Face repository id of the model.")
@click.option("--code-commit", help="Commit of the code that ran the model.")
@click.option("--run-id", help="The pipeline's run id.")
@click.option("--date", help="When the model ran (ISO date).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A run parameter (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "parquet"]), help="Default: from the extension.")
@click.option("--encoding", help="Text encoding of a CSV/TSV (default: the mapping's, else utf-8; e.g. cp1252, "
              "latin-1, utf-16). Only the mapped columns must decode.")
@click.option("--lenient", is_flag=True, help="Load the good rows and keep the report of bad ones with the batch "
              "(default: a bad row rejects the whole batch).")
@click.option("--new-taxa", is_flag=True, help="Taxon names not in a loaded taxonomy or tree get new taxon nodes "
              "(default: they are bad rows).")
@click.option("--rows", "rows", type=click.Choice(["auto", "parquet", "rdf"]), default="auto", show_default=True,
              help="Where the per-image rows go: rdf (the batch graph: SPARQL reaches every image), parquet (a "
                   "side table beside the store, registered in the manifest; image, taxon and diff questions read "
                   "it), auto: parquet from 200,000 predictions up (docs/scale.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the load report (or the refusal, with every bad row) "
              "as JSON.")
def load_predictions(source: str, mapping_file: str | None, columns: tuple[str, ...], constants: tuple[str, ...],
                     image_id: str | None, model: str | None, model_version: str | None, weights_sha256: str | None,
                     hf_repo: str | None, code_commit: str | None, run_id: str | None, date: str | None,
                     params: tuple[str, ...], fmt: str | None, encoding: str | None, lenient: bool, new_taxa: bool,
                     rows: str, as_json: bool) -> None:
    """Load a table of ML predictions or image measurements (CSV, TSV, Parquet; .gz) as one batch: a
    named graph per model version. A bad row refuses the batch in one line (`traitkg -v ...` or
    --json lists every bad row) unless --lenient."""
    from kg.cli._app import print_report, progress_bar
    from loaders.predictions import Mapping

    base = Mapping.read(mapping_file).to_dict() if mapping_file else {}
    base.setdefault("columns", {}).update(_pairs(columns, "FIELD=COLUMN"))
    if constants:
        base["constants"] = {**base.get("constants", {}), **_pairs(constants, "FIELD=VALUE")}
    if image_id:
        base["image_id"] = image_id
    batch: dict[str, Any] = {"weights_sha256": weights_sha256, "hf_repo": hf_repo, "code_commit": code_commit,
                             "run_id": run_id, "date": date}
    if params:
        batch["parameters"] = _pairs(params, "KEY=VALUE")
    with json_refusals(as_json):
        report = get_kg().load_predictions(source, mapping=Mapping.from_dict(base), model=model,
                                           model_version=model_version, batch=batch, lenient=lenient,
                                           new_taxa=new_taxa, fmt=fmt, encoding=encoding, rows=rows,
                                           progress=progress_bar(Path(source).name, unit="row"))
    print_report(report, as_json)


def _fmt(v: Any) -> Any:
    return f"{v:.4g}" if isinstance(v, float) else v


def _region(r: dict[str, Any]) -> str:
    return r.get("region") or ("+".join(r["regions"]) if r.get("regions") else "")


def _print_summaries(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        emit_json(rows)
        return
    emit([(r["trait"], _region(r), r["model"], r["model_version"], r.get("n"),
           _fmt(r.get("mean")) if r["kind"] == "continuous" else r.get("mode"), _fmt(r.get("sd")), _fmt(r.get("se")),
           r.get("unit") or "", " ".join(f"{k}:{v}" for k, v in (r.get("states") or {}).items())[:60])
          for r in rows], ["trait", "region", "model", "version", "n", "mean/mode", "sd", "se", "unit", "states"], fmt)


REGION_OPTIONS = (click.option("--pooled", is_flag=True, help="Traits measured per region (left/right...): one "
                               "summary over every region instead of one per region."),
                  click.option("--region", help="Only this region's summaries (e.g. left)."))


def _region_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(REGION_OPTIONS):
        f = opt(f)
    return f


@main.group("predictions", invoke_without_command=True)
@click.option("--image", help="An image's predictions (ARK id, other id or IRI).")
@click.option("--taxon", help="A taxon's image-level predictions.")
@click.option("--batch", help="Pin a batch (predictions/MODEL/VERSION or MODEL); default: latest of every model.")
@click.option("--all-versions", is_flag=True, help="With --image: every version, not only the latest.")
@click.option("--limit", default=100, show_default=True)
@FORMAT_OPTION
@click.pass_context
def predictions(ctx: click.Context, image: str | None, taxon: str | None, batch: str | None, all_versions: bool,
                limit: int, fmt: str) -> None:
    """ML predictions from images: --image ID, --taxon NAME, or a subcommand."""
    if ctx.invoked_subcommand:
        return
    p = get_kg().predictions
    if image:
        out = p.image(image, batch=batch, latest=not all_versions)
        if fmt == "json":
            emit_json(out)
            return
        for k, v in out["metadata"].items():
            click.echo(f"# {k}: {v}")
        rows = out["predictions"]
        regioned = any(r.get("region") for r in rows)
        emit([(r["trait"], *((r.get("region") or "",) if regioned else ()), r["value"], _fmt(r["confidence"]),
               r["unit"] or "", r["taxon"], r["model"], r["model_version"]) for r in rows],
             ["trait", *(("region",) if regioned else ()), "value", "confidence", "unit", "taxon", "model", "version"],
             fmt)
    elif taxon:
        rows = p.of_taxon(taxon, batch=batch, limit=limit)
        if fmt == "json":
            emit_json(rows)
            return
        emit([(r["image"], r["trait"], _fmt(r["value"]), _fmt(r["confidence"]), r["unit"] or "", r["model"],
               r["model_version"]) for r in rows], ["image", "trait", "value", "confidence", "unit", "model",
                                                    "version"], fmt)
    else:
        click.echo(ctx.get_help())


@predictions.command("summary")
@click.argument("taxon")
@click.option("--batch", help="Pin a batch; default: latest of every model.")
@_region_options
@FORMAT_OPTION
def summary(taxon: str, batch: str | None, pooled: bool, region: str | None, fmt: str) -> None:
    """A taxon's predicted traits: n, mean, sd, se (units normalised) or state counts; per region
    where a trait was measured per region, unless --pooled."""
    _print_summaries(get_kg().predictions.summary(taxon, batch=batch, pooled=pooled, region=region), fmt)


@predictions.command("summaries")
@click.argument("trait")
@click.option("--batch", help="Pin a batch; default: latest of every model.")
@_region_options
@FORMAT_OPTION
def summaries(trait: str, batch: str | None, pooled: bool, region: str | None, fmt: str) -> None:
    """One trait across taxa: taxon, n, mean, sd, se, unit (the table comparative methods take);
    per region where the trait was measured per region (a region column), unless --pooled."""
    df = get_kg().predictions.summaries(trait, batch=batch, pooled=pooled, region=region)
    cols = ["taxon", "n", "mean", "sd", "se", "unit", "model"]
    if df["region"].fillna("").astype(str).ne("").any():
        cols.insert(6, "region")
    if fmt == "json":
        emit_json(df.where(df.notna(), None).to_dict("records"))
        return
    emit([tuple(_fmt(v) for v in r) for r in df[cols].itertuples(index=False)], cols, fmt)


@predictions.command("batches")
@FORMAT_OPTION
def batches(fmt: str) -> None:
    """Every prediction batch (model versions) with its provenance."""
    recs = get_kg().predictions.batches()
    emit([(f"{r.kind}/{r.name}/{r.version}", r.parameters.get("batch", {}).get("model", r.name), r.triples,
           r.sha256[:12], r.ended) for r in recs], ["batch", "model", "triples", "input sha256", "loaded"], fmt)


@predictions.command("accuracy")
@click.argument("batch")
@click.option("--by", "by", help="Per taxon ('taxon') or per clade at a rank of the loaded taxonomy (genus, family...).")
@FORMAT_OPTION
def accuracy(batch: str, by: str | None, fmt: str) -> None:
    """Accuracy of a batch's species predictions, overall or by taxon / clade."""
    p = get_kg().predictions
    if by is None:
        a = p.accuracy(batch)
        if fmt == "json":
            emit_json(a)
        else:
            emit([tuple(_fmt(v) for v in a.values())], list(a), fmt)
        return
    rows = p.accuracy_by(batch, rank=None if by == "taxon" else by)
    if fmt == "json":
        emit_json(rows)
        return
    emit([(r.get("taxon") or r.get("clade"), r["n"], r["correct"], _fmt(r["accuracy"]),
           ", ".join(f"{k} ({v})" for k, v in r["confused_with"].items())[:80]) for r in rows],
         ["taxon" if by == "taxon" else by, "n", "correct", "accuracy", "confused with"], fmt)


@predictions.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--sample", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def diff(a: str, b: str, sample: int, as_json: bool) -> None:
    """Predictions changed between two batches (matched on image and trait)."""
    d = get_kg().predictions.diff(a, b, sample=sample)
    if as_json:
        emit_json(d)
        return
    print_prediction_diff(d)


def print_prediction_diff(d: dict[str, Any]) -> None:
    click.echo(f"predictions {d['a']} -> {d['b']}: changed {d['changed']}  added {d['added']}  "
               f"removed {d['removed']}  unchanged {d['unchanged']}")
    for r in d["sample_changed"]:
        click.echo(f"~ {r['image']} {r['trait']}: {r.get('before')} -> {r.get('after')}")


@predictions.command("disagreements")
@click.option("--taxon", help="Only this taxon.")
@click.option("--batch", help="Pin a batch; default: latest of every model.")
@click.option("--all", "show_all", is_flag=True, help="Agreements and taxa without expectations too.")
@FORMAT_OPTION
def disagreements(taxon: str | None, batch: str | None, show_all: bool, fmt: str) -> None:
    """Predicted presence/absence against curated and inferred calls (expectation vs observation)."""
    rows = get_kg().predictions.agreement(taxon=taxon, batch=batch, only_disagreements=not show_all)
    if fmt == "json":
        emit_json(rows)
        return
    emit([(r["taxon"], r["entity"], r["status"], (r.get("expected") or {}).get("value", ""),
           (r.get("expected") or {}).get("tier", ""), r["observed"]["value"], _fmt(r["observed"]["fraction"]),
           r["observed"]["n"], r["observed"]["model"]) for r in rows],
         ["taxon", "entity", "status", "expected", "tier", "observed", "fraction", "n", "model"], fmt)


@load_group.command("images", epilog="Recognised columns, value types, dates and encodings: docs/formats/images.md "
                    "(printed by --help-format).")
@click.argument("source")
@click.option("--help-format", is_flag=True, expose_value=False, is_eager=True, callback=_show_doc("images.md"),
              help="Print the image table documentation (docs/formats/images.md) and exit.")
@click.option("--image", "image_column", help="The image id column (default: image_id, ark, filename...).")
@click.option("--name", help="Graph name (default: the file name).")
@click.option("--version", "version", help="Release version (default: a content hash).")
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "parquet"]), help="Default: from the extension.")
@click.option("--encoding", help="Text encoding of a CSV/TSV (default: utf-8; e.g. cp1252, latin-1, utf-16).")
@click.option("--json", "as_json", is_flag=True, help="Print the load report (or the refusal) as JSON.")
def load_images(source: str, image_column: str | None, name: str | None, version: str | None, fmt: str | None,
                encoding: str | None, as_json: bool) -> None:
    """Load an image metadata table (access URI, batch, dates, quality fields); joins predictions on the image."""
    from kg.cli._app import print_report

    with json_refusals(as_json):
        report = get_kg().load(source, kind="images", name=name, version=version, image=image_column, fmt=fmt,
                               encoding=encoding)
    print_report(report, as_json)
