"""Units of measurement: UO CURIEs or common unit strings, normalised to one UO term each, and
conversion between units of one dimension.

>>> unit_curie("cm"), unit_curie("UO:0000016"), unit_curie("millimetre")
('UO:0000015', 'UO:0000016', 'UO:0000016')
>>> convert(0.5, "UO:0000015", "UO:0000016")
5.0
>>> unit_curie("furlong") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    curie: str
    label: str
    dimension: str
    factor: float  # value in the dimension's base unit = value * factor (+ offset)
    offset: float = 0.0


UNITS: dict[str, Unit] = {u.curie: u for u in (
    Unit("UO:0000008", "metre", "length", 1.0),
    Unit("UO:0000015", "centimetre", "length", 1e-2),
    Unit("UO:0000016", "millimetre", "length", 1e-3),
    Unit("UO:0000017", "micrometre", "length", 1e-6),
    Unit("UO:0000018", "nanometre", "length", 1e-9),
    Unit("UO:0000009", "kilogram", "mass", 1.0),
    Unit("UO:0000021", "gram", "mass", 1e-3),
    Unit("UO:0000022", "milligram", "mass", 1e-6),
    Unit("UO:0000081", "square centimetre", "area", 1e-4),
    Unit("UO:0000082", "square millimetre", "area", 1e-6),
    Unit("UO:0000080", "square metre", "area", 1.0),
    Unit("UO:0000027", "degree Celsius", "temperature", 1.0),
    Unit("UO:0000185", "degree", "angle", 1.0),
    Unit("UO:0000123", "radian", "angle", 57.29577951308232),
    Unit("UO:0000187", "percent", "ratio", 1e-2),
    Unit("UO:0000190", "ratio", "ratio", 1.0),
    Unit("UO:0000189", "count unit", "count", 1.0),
)}

_ALIASES = {
    "m": "UO:0000008", "metre": "UO:0000008", "meter": "UO:0000008", "metres": "UO:0000008", "meters": "UO:0000008",
    "cm": "UO:0000015", "centimetre": "UO:0000015", "centimeter": "UO:0000015", "centimetres": "UO:0000015",
    "centimeters": "UO:0000015",
    "mm": "UO:0000016", "millimetre": "UO:0000016", "millimeter": "UO:0000016", "millimetres": "UO:0000016",
    "millimeters": "UO:0000016",
    "um": "UO:0000017", "µm": "UO:0000017", "μm": "UO:0000017", "micrometre": "UO:0000017", "micrometer": "UO:0000017",
    "micron": "UO:0000017", "microns": "UO:0000017",
    "nm": "UO:0000018", "nanometre": "UO:0000018", "nanometer": "UO:0000018",
    "kg": "UO:0000009", "kilogram": "UO:0000009", "g": "UO:0000021", "gram": "UO:0000021", "grams": "UO:0000021",
    "mg": "UO:0000022", "milligram": "UO:0000022",
    "cm2": "UO:0000081", "cm^2": "UO:0000081", "mm2": "UO:0000082", "mm^2": "UO:0000082", "m2": "UO:0000080",
    "m^2": "UO:0000080",
    "c": "UO:0000027", "°c": "UO:0000027", "degc": "UO:0000027", "celsius": "UO:0000027",
    "deg": "UO:0000185", "degree": "UO:0000185", "degrees": "UO:0000185", "rad": "UO:0000123", "radian": "UO:0000123",
    "%": "UO:0000187", "percent": "UO:0000187", "ratio": "UO:0000190", "count": "UO:0000189",
}


def unit_curie(text: str) -> str | None:
    """The UO CURIE for a unit string (``cm``, ``millimetre``, ``UO:0000015`` or its PURL), or None."""
    t = str(text).strip()
    if t.startswith("http://purl.obolibrary.org/obo/UO_"):
        t = "UO:" + t.rsplit("_", 1)[1]
    if t.upper().startswith("UO:") or t.upper().startswith("UO_"):
        c = "UO:" + t[3:]
        return c if c in UNITS else None
    return _ALIASES.get(t.casefold())


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit`` (both UO CURIEs of one dimension)."""
    a, b = UNITS[from_unit], UNITS[to_unit]
    if a.dimension != b.dimension:
        raise ValueError(f"cannot convert {a.label} ({a.dimension}) to {b.label} ({b.dimension})")
    return (value * a.factor + a.offset - b.offset) / b.factor


def factor(from_unit: str, to_unit: str) -> float:
    """The multiplier taking values in ``from_unit`` to ``to_unit`` (units without an offset)."""
    return convert(1.0, from_unit, to_unit) - convert(0.0, from_unit, to_unit)


__all__ = ["Unit", "UNITS", "unit_curie", "convert", "factor"]
