"""Reading physical columns out of a fit table, with errors that say how to fix the table.

Every post-processor reads its inputs through these helpers, so a missing
column or a column in the wrong units is reported the same way everywhere: the
column, what it should hold, and the fix.
"""

import numpy as np
from astropy import units as u
from astropy.table import Column, MaskedColumn, QTable, Table
from astropy.units.function.logarithmic import LogQuantity

from galkin.exceptions import GalkinError

__all__ = [
    "as_qtable",
    "require_columns",
    "quantity_values",
    "log_values",
    "magnitude_values",
    "selected_rows",
    "string_column",
    "ratio_values",
]


def as_qtable(table, who):
    """A copy of ``table`` as a `~astropy.table.QTable` (columns with units become Quantities)."""
    if not isinstance(table, Table):
        raise GalkinError(
            f"{who} works on the astropy table that galkin.fit_many returns "
            f"(a QTable with one row per galaxy); got {type(table).__name__}."
        )
    return QTable(table, copy=True)


def require_columns(table, names, who, *, hint=""):
    """Raise `~galkin.GalkinError` naming every column of ``names`` missing from ``table``."""
    missing = [n for n in names if n not in table.colnames]
    if missing:
        listed = ", ".join(repr(n) for n in missing)
        raise GalkinError(
            f"{who} needs the column{'s' if len(missing) > 1 else ''} {listed}, which the table "
            f"lacks.{' ' + hint if hint else ''} Columns present: {', '.join(table.colnames)}."
        )


def _raw(table, name):
    """Column ``name`` as a Quantity or an ndarray, masked entries as NaN."""
    col = table[name]
    try:
        if isinstance(col, MaskedColumn):
            col = Column(col.astype(float).filled(np.nan), unit=col.unit)
        if isinstance(col, Column):
            return col.quantity if col.unit is not None else np.asarray(col, dtype=float)
    except (TypeError, ValueError):
        raise GalkinError(f"Column {name!r} must be numeric; it holds {col.dtype}.") from None
    if hasattr(col, "unmasked"):  # an astropy Masked Quantity
        col = col.filled(np.nan) if np.any(col.mask) else col.unmasked
    return col


def quantity_values(table, name, unit, who):
    """Column ``name`` as floats in ``unit``, refusing unitless or wrongly typed columns."""
    unit = u.Unit(unit)
    col = _raw(table, name)
    example = f"table[{name!r}].unit = {unit.to_string()!r}"
    if not isinstance(col, u.Quantity):
        raise GalkinError(
            f"{who}: column {name!r} has no units; it must be a {unit.physical_type} "
            f"(e.g. in {unit}). If its values are in {unit}, set {example}."
        )
    if not col.unit.is_equivalent(unit):
        extra = ""
        if unit.physical_type == "angle" and col.unit.physical_type == "length":
            extra = (
                " Convert the physical size to an angle with the galaxy's angular-diameter "
                "distance, e.g. (size / cosmo.angular_diameter_distance(z)).to(u.arcsec, "
                "u.dimensionless_angles())."
            )
        raise GalkinError(
            f"{who}: column {name!r} is in {col.unit} ({col.unit.physical_type}) but must be "
            f"a {unit.physical_type} such as {unit}.{extra}"
        )
    return np.asarray(col.to_value(unit), dtype=float)


def log_values(table, name, physical_unit, who):
    """Column ``name`` as log10 of a quantity in ``physical_unit`` (dex).

    Accepted: a dex column of that unit (``u.dex(u.Msun)``), a plain or ``u.dex``
    column already holding log10 values, or a linear column in a unit equivalent to
    ``physical_unit`` (its log10 is taken).
    """
    physical_unit = u.Unit(physical_unit)
    col = _raw(table, name)
    if isinstance(col, LogQuantity):
        if not col.unit.physical_unit.is_equivalent(physical_unit):
            raise GalkinError(
                f"{who}: column {name!r} is in {col.unit}, not the log of a "
                f"{physical_unit.physical_type} ({u.dex(physical_unit)})."
            )
        return np.asarray(col.to_value(u.dex(physical_unit)), dtype=float)
    if not isinstance(col, u.Quantity) or col.unit in (u.dex, u.dimensionless_unscaled):
        return np.asarray(getattr(col, "value", col), dtype=float)
    if col.unit.is_equivalent(physical_unit):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(col.to_value(physical_unit))
    raise GalkinError(
        f"{who}: column {name!r} is in {col.unit}; it must hold log10({physical_unit}) as plain "
        f"numbers or u.dex({physical_unit}), or linear values in {physical_unit}."
    )


def magnitude_values(table, name, who):
    """Column ``name`` as magnitudes (plain numbers or a ``u.mag``-like unit)."""
    col = _raw(table, name)
    if not isinstance(col, u.Quantity):
        return np.asarray(col, dtype=float)
    if col.unit == u.mag or isinstance(col.unit, u.MagUnit):
        return np.asarray(col.value, dtype=float)
    raise GalkinError(f"{who}: column {name!r} is in {col.unit}; it must hold magnitudes (mag).")


def ratio_values(table, spec, who):
    """Values of column ``spec``, or of the ratio ``"a/b"`` of two columns (dimensionless)."""
    if "/" not in spec:
        require_columns(table, [spec], who)
        col = _raw(table, spec)
        return np.asarray(getattr(col, "value", col), dtype=float)
    num, den = (s.strip() for s in spec.split("/", 1))
    require_columns(table, [num, den], who, hint=f"(needed for the ratio {spec!r})")
    a, b = _raw(table, num), _raw(table, den)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a / b
    if isinstance(ratio, u.Quantity):
        try:
            ratio = ratio.to_value(u.dimensionless_unscaled)
        except u.UnitConversionError:
            raise GalkinError(
                f"{who}: the ratio {spec!r} has units {ratio.unit}; give {num!r} and {den!r} "
                "compatible units (e.g. both in arcsec) so that it is dimensionless."
            ) from None
    return np.asarray(ratio, dtype=float)


def selected_rows(table, *, use_keep=True):
    """Rows fitted successfully (``status == "ok"``) and, if asked, kept by the quality cuts."""
    sel = np.ones(len(table), dtype=bool)
    if "status" in table.colnames:
        sel &= np.asarray(table["status"]).astype(str) == "ok"
    if use_keep and "keep" in table.colnames:
        sel &= np.asarray(table["keep"], dtype=bool)
    return sel


def string_column(values, name):
    """A string column wide enough for every value (astropy truncates on assignment)."""
    values = [str(v) for v in values]
    width = max([1, *map(len, values)])
    return Column(np.array(values, dtype=f"U{width}"), name=name)
