"""A torch ``Dataset`` of images with the KG's labels (species, ranks, level groups, traits + masks).

Usage (``g`` a :class:`kg.KnowledgeGraph` with a tree and a taxonomy loaded)::

    ds = TraitImageDataset.from_kg(g, "images.csv", transform=my_transform)
    item = ds[0]  # image, species, ranks, levels, traits, trait_mask, weight, split

Images are read lazily, one per ``__getitem__``, by ``loader`` (default: Pillow when installed,
else :func:`read_png`, a small pure-numpy PNG reader) and passed through the user's ``transform``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from kg.core.errors import ParseError


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> np.ndarray:
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    pos = 0
    for y in range(height):
        ftype = raw[pos]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=pos + 1).astype(np.int32)
        pos += stride + 1
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        else:  # Sub, Average, Paeth depend on the bytes to their left: one byte at a time
            cur = line.copy()
            for x in range(stride):
                a = int(cur[x - bpp]) if x >= bpp else 0
                b = int(prev[x])
                if ftype == 1:
                    cur[x] = (cur[x] + a) & 0xFF
                elif ftype == 3:
                    cur[x] = (cur[x] + ((a + b) >> 1)) & 0xFF
                elif ftype == 4:
                    c = int(prev[x - bpp]) if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cur[x] = (cur[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
                else:
                    raise ParseError(f"PNG filter type {ftype} in row {y}: expected 0-4")
        out[y] = cur
        prev = cur
    return out


def read_png(path: str | Path) -> np.ndarray:
    """An 8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA) as an ``H x W x C`` uint8 array."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ParseError("not a PNG file", source=str(path))
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    if hdr is None:
        raise ParseError("PNG without a header chunk", source=str(path))
    w, h, depth, color, _, _, interlace = hdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ParseError(f"PNG with bit depth {depth}, colour type {color}, interlace {interlace}: this reader "
                         "takes 8-bit non-interlaced grey/RGB(A); install Pillow for the others", source=str(path))
    return _unfilter(zlib.decompress(b"".join(idat)), w, h, channels).reshape(h, w, channels)


def default_loader(path: str) -> Any:
    """Pillow's RGB image when Pillow is installed, else :func:`read_png`'s array."""
    try:
        from PIL import Image
    except ImportError:
        return read_png(path)
    with Image.open(path) as im:
        return im.convert("RGB")


class TraitImageDataset(Dataset):
    """Images with labels from :meth:`kg.training.Training.image_labels`. Each item is a dict:
    ``image`` (after ``transform``), ``image_id``, ``species`` (int), ``ranks`` (long, -1 unknown),
    ``levels`` (long), ``traits`` (float, 0 where missing), ``trait_mask`` (1 known / 0 missing),
    ``weight`` (float) and ``split``."""

    def __init__(self, labels: Any, *, transform: Callable[[Any], Any] | None = None,
                 loader: Callable[[str], Any] | None = None, subset: str | None = None) -> None:
        self.labels = labels
        self.transform = transform
        self.loader = loader or default_loader
        rows = np.arange(len(labels))
        if subset is not None:  # one side of the split: "train", "val" or "test"
            rows = rows[labels.frame["split"].to_numpy() == subset]
        self.rows = rows
        self.ranks = torch.tensor(np.asarray(labels.ranks), dtype=torch.long)
        self.levels = torch.tensor(np.asarray(labels.levels), dtype=torch.long)
        self.traits = torch.tensor(np.asarray(labels.traits), dtype=torch.float32)
        self.trait_mask = torch.tensor(np.asarray(labels.trait_mask), dtype=torch.float32)
        self.weights = torch.tensor(np.asarray(labels.weights), dtype=torch.float32)

    @classmethod
    def from_kg(cls, kg: Any, images: Any, *, transform: Callable[[Any], Any] | None = None,
                loader: Callable[[str], Any] | None = None, subset: str | None = None,
                **options: Any) -> TraitImageDataset:
        """Build the labels from a :class:`kg.KnowledgeGraph` (options, e.g. ``split='clade'``, ``cuts``,
        ``weight``: see ``Training.image_labels``); ``subset`` keeps one side of the split."""
        return cls(kg.training.image_labels(images, **options), transform=transform, loader=loader, subset=subset)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        k = int(self.rows[i])
        f = self.labels.frame
        img = self.loader(f["path"].iat[k])
        if self.transform is not None:
            img = self.transform(img)
        return {"image": img, "image_id": f["image_id"].iat[k], "species": int(self.labels.species[k]),
                "ranks": self.ranks[k], "levels": self.levels[k], "traits": self.traits[k],
                "trait_mask": self.trait_mask[k], "weight": self.weights[k], "split": f["split"].iat[k]}

    @property
    def sample_weights(self) -> torch.Tensor:
        """Per-item weights (for ``torch.utils.data.WeightedRandomSampler``)."""
        return self.weights[torch.as_tensor(self.rows, dtype=torch.long)]
