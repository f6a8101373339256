"""Taxa: one node per scientific name, minted under ``<base>taxon/``.

>>> normalise_name("  Danio   rerio ")
'Danio rerio'
>>> taxon_iri("Danio rerio").endswith("taxon/Danio_rerio")
True
"""

from __future__ import annotations

import re
import urllib.parse

from kg.graphs import BASE

TAXON_NS = BASE + "taxon/"
_WS = re.compile(r"[\s_]+")


def normalise_name(name: str) -> str:
    """Trim, fold underscores and runs of white space to one space (tree tips use ``Genus_species``)."""
    return _WS.sub(" ", name).strip()


def taxon_iri(name: str) -> str:
    """The IRI of the taxon node for a scientific name (deterministic, so every loader agrees)."""
    return TAXON_NS + urllib.parse.quote(normalise_name(name).replace(" ", "_"), safe="_-.()'")
