"""Joining the table of fits with a user catalogue (stellar mass, magnitude, r_e, ...)."""

import warnings

import numpy as np
from astropy.table import Column, MaskedColumn, QTable, Table, join

from galkin.exceptions import GalkinError, GalkinWarning
from galkin.postprocess import PostProcessor

from ._columns import as_qtable, require_columns

__all__ = ["join_catalogue", "JoinCatalogue"]

_ORDER = "_galkin_row_order"
#: How many unmatched names the warning lists before "and N more".
_SHOWN = 10


def _keys_as_text(column):
    """Catalogue ids as stripped strings, so that ``8485`` matches ``"8485"``."""
    values = column.filled("") if isinstance(column, MaskedColumn) else column
    return Column([str(v).strip() for v in np.asarray(values)], dtype=str)


def _unmask(table):
    """Fill the holes a left join leaves: NaN for numbers, "" for text, False for flags."""
    for name in table.colnames:
        col = table[name]
        mask = getattr(col, "mask", None)
        if mask is None or not np.any(mask):
            if hasattr(col, "unmasked"):
                table[name] = col.unmasked
            elif isinstance(col, MaskedColumn):
                table[name] = Column(col.data.data, unit=col.unit, description=col.description)
            continue
        if hasattr(col, "unmasked"):  # Quantity column
            table[name] = col.filled(np.nan)
        elif col.dtype.kind in "US":
            table[name] = Column(col.filled(""), description=col.description)
        elif col.dtype.kind == "b":
            table[name] = Column(col.filled(False), description=col.description)
        else:
            filled = col.astype(float).filled(np.nan)
            table[name] = Column(filled, unit=col.unit, description=col.description)


def join_catalogue(table, catalogue, *, key="name", catalogue_key=None):
    """Add the columns of ``catalogue`` to the fit ``table``, matching galaxies by id.

    Every row of ``table`` is kept, in its order (a left join). Galaxies absent
    from the catalogue get NaN (numbers), ``""`` (text) or `False` (flags) in the
    catalogue's columns, ``in_catalogue = False``, and are named in a
    `~galkin.GalkinWarning` and in ``meta["unmatched"]``. Units are kept.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        The fits, one row per galaxy (as ``galkin.fit_many`` returns).
    catalogue : `~astropy.table.Table` or `~astropy.table.QTable`
        One row per galaxy: e.g. ``log_mstar`` (dex), ``M_r`` (mag), ``r_e``
        (arcsec), ``redshift``. Columns with units keep them.
    key : str, optional
        The id column of ``table``.
    catalogue_key : str, optional
        The id column of ``catalogue`` (default: ``key``). Ids are compared as
        text, so integer catalogue ids match string galaxy names.

    Returns
    -------
    `~astropy.table.QTable`

    Raises
    ------
    GalkinError
        When an id column is missing, the catalogue repeats an id, or a catalogue
        column would overwrite a column of the fit table.

    Examples
    --------
    >>> from astropy import units as u
    >>> from astropy.table import QTable
    >>> fits = QTable({"name": ["8485-1901", "7443-12703"], "v_max": [180.0, 95.0] * u.km / u.s})
    >>> cat = QTable({"name": ["7443-12703", "8485-1901"], "r_e": [3.1, 5.2] * u.arcsec})
    >>> joined = join_catalogue(fits, cat)
    >>> joined["r_e"]
    <Quantity [5.2, 3.1] arcsec>
    """
    who = "join_catalogue"
    catalogue_key = key if catalogue_key is None else catalogue_key
    out = as_qtable(table, who)
    if not isinstance(catalogue, Table):
        raise GalkinError(
            f"{who}: the catalogue must be an astropy Table or QTable (e.g. "
            f"QTable.read('catalogue.fits')); got {type(catalogue).__name__}."
        )
    cat = QTable(catalogue, copy=True)
    require_columns(out, [key], who, hint="Pass key= with the column naming each galaxy.")
    require_columns(
        cat, [catalogue_key], f"{who} (catalogue)", hint="Pass catalogue_key= with its id column."
    )
    cat_ids = _keys_as_text(cat[catalogue_key])
    values, counts = np.unique(np.asarray(cat_ids), return_counts=True)
    if np.any(counts > 1):
        dup = ", ".join(map(str, values[counts > 1][:_SHOWN]))
        raise GalkinError(f"{who}: the catalogue lists these ids more than once: {dup}.")
    if catalogue_key != key:
        cat.remove_column(catalogue_key)
    else:
        cat.remove_column(key)
    clash = [c for c in cat.colnames if c in out.colnames]
    if clash:
        raise GalkinError(
            f"{who}: catalogue columns {clash} already exist in the fit table; rename or "
            "remove them from the catalogue (cat.rename_column(old, new)) before joining."
        )
    cat[key] = cat_ids
    cat["in_catalogue"] = np.ones(len(cat), dtype=bool)
    ids = out[key]
    out[key] = _keys_as_text(ids)
    out[_ORDER] = np.arange(len(out))
    joined = join(out, cat, keys=key, join_type="left")
    joined.sort(_ORDER)
    joined.remove_column(_ORDER)
    joined[key] = ids
    _unmask(joined)
    unmatched = [str(n) for n in np.asarray(joined[key])[~np.asarray(joined["in_catalogue"])]]
    joined.meta["unmatched"] = unmatched
    if unmatched:
        more = f" and {len(unmatched) - _SHOWN} more" if len(unmatched) > _SHOWN else ""
        warnings.warn(
            f"{len(unmatched)} of {len(joined)} galaxies are not in the catalogue: "
            f"{', '.join(unmatched[:_SHOWN])}{more}. Their catalogue columns are NaN; the "
            "full list is in meta['unmatched'].",
            GalkinWarning,
            stacklevel=2,
        )
    return joined


class JoinCatalogue(PostProcessor):
    """Post-processor ``"join"``: :func:`join_catalogue` as a pipeline step.

    Parameters
    ----------
    catalogue : `~astropy.table.Table`
        The user's catalogue, one row per galaxy.
    key, catalogue_key : str, optional
        See :func:`join_catalogue`.
    """

    name = "join"

    def __init__(self, catalogue, *, key="name", catalogue_key=None):
        self.catalogue = catalogue
        self.key = key
        self.catalogue_key = catalogue_key

    def __call__(self, table):
        """Return ``table`` joined with the catalogue (see :func:`join_catalogue`)."""
        return join_catalogue(table, self.catalogue, key=self.key, catalogue_key=self.catalogue_key)
