"""Identifiers of minted things that loaders and query modules both build: images and predictions.

Images named by ARK ids (``ark:/89609/...``) become ``https://n2t.net/ark:/...`` IRIs; any other
image id is kept as given under ``<base>image/`` (percent-encoded where an IRI needs it).

>>> image_iri("ark:/89609/tkgsample/img0001")
'https://n2t.net/ark:/89609/tkgsample/img0001'
>>> image_iri("IMG 1.png").endswith("image/IMG%201.png")
True
>>> [image_id(image_iri(x)) for x in ("ark:/89609/a/b", "IMG 1.png")]
['ark:/89609/a/b', 'IMG 1.png']
"""

from __future__ import annotations

import urllib.parse

from kg.core.graphs import BASE

ARK_RESOLVER = "https://n2t.net/"
IMAGE_NS = BASE + "image/"
PREDICTION_NS = BASE + "prediction/"
MODEL_NS = BASE + "model/"
#: Characters kept as they are in minted IRIs (everything else is percent-encoded).
_SAFE = "/:@!$&'()*+,;=-._~"


def image_iri(image_id: str) -> str:
    """The IRI of an image: ARK ids resolve through n2t.net, other ids live under ``image/``."""
    text = str(image_id).strip()
    if text.startswith("https://n2t.net/ark:/") or text.startswith("http://n2t.net/ark:/"):
        return "https://" + text.split("://", 1)[1]
    if text.lower().startswith("ark:/"):
        return ARK_RESOLVER + "ark:/" + urllib.parse.quote(text[5:], safe=_SAFE)
    return IMAGE_NS + urllib.parse.quote(text, safe=_SAFE.replace("/", "").replace(":", ""))


def image_id(iri: str) -> str:
    """The id an image IRI was minted from (the inverse of :func:`image_iri`)."""
    if iri.startswith(ARK_RESOLVER + "ark:/"):
        return "ark:/" + urllib.parse.unquote(iri[len(ARK_RESOLVER) + 5:])
    if iri.startswith(IMAGE_NS):
        return urllib.parse.unquote(iri[len(IMAGE_NS):])
    return iri


def model_iri(name: str, version: str | None = None) -> str:
    """A model (``model/<name>``) or one version of it (``model/<name>/<version>``).

    >>> model_iri("resnet", "1.0").endswith("model/resnet/1.0")
    True
    """
    out = MODEL_NS + urllib.parse.quote(name, safe="-._~")
    return out + "/" + urllib.parse.quote(version, safe="-._~") if version else out


__all__ = ["image_iri", "image_id", "model_iri", "IMAGE_NS", "PREDICTION_NS", "MODEL_NS", "ARK_RESOLVER"]
