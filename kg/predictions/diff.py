"""Two prediction batches compared prediction by prediction: matched on (image, trait, region), the value
(and confidence) changed, predictions only in one batch, and for species predictions how many
became right or wrong."""

from __future__ import annotations

from typing import Any

import pandas as pd

from kg.core.graphs import TKG, GraphRecord
from kg.core.ids import image_id
from kg.core.store import NamedNode, Store
from kg.predictions.queries import term_value
from kg.predictions.rows import frame, side_tables

_Q = f"""SELECT ?img ?trait ?value ?conf ?region WHERE {{ GRAPH ?g {{
  ?p <{TKG}image> ?img ; <{TKG}trait> ?trait ; <{TKG}predictedValue> ?value .
  OPTIONAL {{ ?p <{TKG}confidence> ?conf }} OPTIONAL {{ ?p <{TKG}region> ?region }} }} }}"""


def _frame(store: Store, batch: GraphRecord) -> pd.DataFrame:
    path = side_tables(store, [batch]).get(batch.iri)
    if path is not None:
        df = frame(path, ["image", "trait", "value", "confidence", "region"])
        df["region"] = df["region"].fillna("")
        return df
    rows = store.select(_Q, {"g": NamedNode(batch.iri)}).rows
    return pd.DataFrame([(i.value, t.value, term_value(v), term_value(c), r.value if r is not None else "")
                         for i, t, v, c, r in rows], columns=["image", "trait", "value", "confidence", "region"])


def diff_batches(store: Store, a: GraphRecord, b: GraphRecord, *, sample: int = 10) -> dict[str, Any]:
    """Changed / added / removed / unchanged predictions from batch ``a`` to batch ``b``."""
    from ontologies.prefixes import contract

    fa, fb = _frame(store, a), _frame(store, b)
    m = fa.merge(fb, on=["image", "trait", "region"], how="outer", suffixes=("_a", "_b"), indicator=True)
    both = m[m["_merge"] == "both"]
    changed = both[both["value_a"] != both["value_b"]]
    added, removed = m[m["_merge"] == "right_only"], m[m["_merge"] == "left_only"]

    def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
        out = []
        for r in df.head(sample).to_dict("records"):
            d = {"image": image_id(r["image"]), "trait": contract(r["trait"])}
            if r["region"]:
                d["region"] = r["region"]
            if r["_merge"] != "right_only":
                d["before"] = r["value_a"]
            if r["_merge"] != "left_only":
                d["after"] = r["value_b"]
            out.append(d)
        return out

    by_trait = {contract(t): int(n) for t, n in changed.groupby("trait").size().items()}
    return {"a": f"{a.kind}/{a.name}/{a.version}", "b": f"{b.kind}/{b.name}/{b.version}",
            "changed": len(changed), "added": len(added), "removed": len(removed),
            "unchanged": len(both) - len(changed), "changed_by_trait": by_trait,
            "sample_changed": rows(changed), "sample_added": rows(added), "sample_removed": rows(removed)}


__all__ = ["diff_batches"]
