"""PGLS as a comparative run: the response and predictors put on the same tips (complete cases,
with every left-out taxon named), the fit, and its coefficients in the analysis result.

>>> from kg import KnowledgeGraph
>>> import tempfile, pathlib
>>> g = KnowledgeGraph.open("oxigraph:")
>>> tmp = tempfile.TemporaryDirectory()
>>> p = pathlib.Path(tmp.name) / "t.nwk"
>>> _ = p.write_text("((A_a:1,B_b:1):1,(C_c:1,D_d:1):1);")
>>> _ = g.load_tree(p, name="toy")
>>> y = g.comparative.rows([("A a", 1.0), ("B b", 2.0), ("C c", 3.5), ("D d", 4.0)], name="y")
>>> a = g.comparative.run("toy", y, "pgls", predictors={"x": {"A a": 0.0, "B b": 1.0, "C c": 2.0, "D d": 3.0}})
>>> [round(c["estimate"], 6) for c in a.result["coefficients"]]
[1.178571, 0.964286]
>>> tmp.cleanup()
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from kg.comparative.data import TipMatch, Trait
from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError


def _values(name: str, x: Any) -> dict[str, float]:
    vals = x.values if isinstance(x, Trait) else x
    if isinstance(x, Trait) and x.kind != "continuous":
        raise ValidationError(f"predictor {name!r} is {x.kind}; PGLS takes continuous predictors")
    out: dict[str, float] = {}
    for k, v in dict(vals).items():
        try:
            out[str(k)] = float(v) if v is not None and v != "" else math.nan
        except (TypeError, ValueError):
            raise ValidationError(f"predictor {name!r}: value {v!r} of {k!r} is not a number") from None
    return out


def pgls_tips(a: Any, index: Any, m: TipMatch, predictors: Mapping[str, Any] | None, *, minimum: int) -> np.ndarray:
    """The tips (node ids of the full tree) with the response and every predictor; fills
    ``a.predictors`` (name -> tip -> value), ``a.tip_values`` and ``a.result["left_out"]`` (each
    matched taxon without a predictor value, named)."""
    if not predictors:
        raise ValidationError("pgls needs at least one predictor (predictors={'x': trait or taxon -> value})")
    tip_of = {mm["name"]: mm["tip"] for mm in m.matched}
    xs: dict[str, dict[str, float]] = {}
    for nm, x in predictors.items():
        per_tip: dict[str, float] = {}
        for taxon, v in _values(nm, x).items():
            tip = tip_of.get(taxon, taxon if taxon in m.values else None)
            if tip is not None and math.isfinite(v):
                per_tip.setdefault(tip, v)
        xs[nm] = per_tip
    keep = {t: v for t, v in m.values.items() if all(t in x for x in xs.values())}
    left = sorted(t for t in m.values if t not in keep)
    if len(keep) < max(minimum, len(xs) + 2):
        raise ValidationError(f"only {len(keep)} tips have {a.trait.name!r} and every predictor "
                              f"({', '.join(xs)}); left out e.g. {', '.join(left[:5]) or '-'}")
    a.predictors = {nm: {t: x[t] for t in keep} for nm, x in xs.items()}
    a.tip_values = keep
    a.result["left_out"] = left
    return np.asarray(sorted(index.ids(list(keep)).tolist()), dtype=np.int64)


def fit_pgls(a: Any, pt: PhyloTree) -> None:
    """Fit with the analysis' parameters (``model``, ``lam``, ``estimation``, ``vcv``) and put the
    numbers into ``a.result``."""
    from kg.comparative.pgls import pgls

    p = a.parameters
    fit = pgls(pt, a.tip_values, a.predictors, model=p["model"], lam=p["lam"], method=p["estimation"], vcv=p["vcv"])
    left = a.result.get("left_out", [])
    a.result = {**fit.to_dict(), "response": a.trait.name, "predictors": list(a.predictors), "left_out": left}
