"""The survey table: one row per galaxy, fitted or not, as :func:`galkin.fit_many` returns.

Rows are plain dicts of Quantities, arrays, numbers and strings (they travel
through process pools, dask and checkpoint files); :func:`survey_table` turns
them into one `~astropy.table.QTable`, filling the columns of failed rows with
NaN, False or '' and flagging poor fits over the whole sample. A row may carry
its galaxy's rotation curve (``rotation_curve``: the columns of
`FitResult.rotation_curve <galkin.result.FitResult.rotation_curve>`), which
:func:`curve_table` stacks into one long table, one row per galaxy and ring.
"""

import numpy as np
from astropy import units as u
from astropy.table import QTable

from .exceptions import RejectedGalaxy

__all__ = ["result_row", "failure_row", "survey_table", "curve_table"]

#: The row key of a galaxy's rotation curve (not a column of the survey table).
CURVE_KEY = "rotation_curve"


def result_row(result, name, *, rotation_curve=False):
    """The table row of a `~galkin.FitResult` (with its rotation curve if asked)."""
    row = {"name": name, "status": "ok", "error": ""}
    for key, column in result._table_columns().items():
        if key != "name":
            row[key] = column[0]
    if rotation_curve:
        try:
            curve = result.rotation_curve()
        except Exception as exc:  # the fit stands; say why its curve is missing
            row["error"] = f"no rotation curve: {type(exc).__name__}: {exc}"
            return row
        row[CURVE_KEY] = {key: curve[key] for key in curve.colnames}
        row[CURVE_KEY]["fitted_rings"] = np.full(len(curve), curve.meta["fitted_rings"])
    return row


def failure_row(name, exc):
    """The row of a galaxy that could not be fitted: rejected by a cut, or failed."""
    if isinstance(exc, RejectedGalaxy):
        return {"name": name, "status": "rejected", "error": exc.reason}
    return {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def _column(values, template):
    """Build a column from per-row values, filling failed rows with NaN/False/''."""
    if isinstance(template, u.Quantity):
        unit = template.unit
        shape = np.shape(template.value)
        filled = [v.to_value(unit) if v is not None else np.full(shape, np.nan) for v in values]
        return u.Quantity(np.array(filled, dtype=float), unit)
    if isinstance(template, (bool, np.bool_)):
        return np.array([bool(v) if v is not None else False for v in values])
    if isinstance(template, (int, float, np.integer, np.floating)):
        return np.array([float(v) if v is not None else np.nan for v in values])
    if isinstance(template, np.ndarray):
        shape = template.shape
        return np.array([v if v is not None else np.full(shape, np.nan) for v in values])
    return np.array(["" if v is None else str(v) for v in values])


def _flag_poor_fits(table):
    """Flag normalised losses above the sample's mean + 1 sigma (thesis §4.2.4).

    The loss is normalised by V_max as in the ``quality_cuts`` post-processor: the
    moment-1 part of the loss is in units of ``v_scale``, so ``loss (v_scale /
    v_max)^2`` is the MSE in units of V_max^2.
    """
    if "loss" not in table.colnames:
        return
    ok = np.asarray(table["status"] == "ok")
    # profiles without an asymptotic speed (rings) use the speed at the edge of the data
    speed = table["v_max"] if "v_max" in table.colnames else table["v_outer"]
    ratio = (table["v_scale"] / speed).to_value(u.dimensionless_unscaled)
    loss = np.asarray(table["loss"], dtype=float) * ratio**2
    flag = np.zeros(len(table), dtype=bool)
    if ok.sum() >= 2:
        limit = loss[ok].mean() + loss[ok].std()
        flag = ok & (loss > limit)
    table["flag_poor_fit"] = flag


def survey_table(rows):
    """One `~astropy.table.QTable` from rows in order, with counts in ``meta``.

    Parameters
    ----------
    rows : list of dict
        From :func:`result_row` and :func:`failure_row`.

    Returns
    -------
    `~astropy.table.QTable`
        ``name``, ``status``, ``error``, then every column of the fitted rows, and
        ``flag_poor_fit``; ``meta["n_ok"]`` and ``meta["n_failed"]``.
    """
    columns = ["name", "status", "error"]
    templates = {}
    for row in rows:
        for key, value in row.items():
            if key == CURVE_KEY:
                continue
            if key not in templates:
                templates[key] = value
                if key not in columns:
                    columns.append(key)
    table = QTable({key: _column([r.get(key) for r in rows], templates[key]) for key in columns})
    _flag_poor_fits(table)
    table.meta["n_ok"] = int((table["status"] == "ok").sum())
    table.meta["n_failed"] = len(table) - table.meta["n_ok"]
    return table


def curve_table(rows):
    """The rotation curves of fitted rows as one long table, one row per galaxy and ring.

    Parameters
    ----------
    rows : list of dict
        Survey rows; those with a ``rotation_curve`` (:func:`result_row` with
        ``rotation_curve=True``) contribute their rings, in order.

    Returns
    -------
    `~astropy.table.QTable`
        ``name`` then the columns of `FitResult.rotation_curve
        <galkin.result.FitResult.rotation_curve>` and ``fitted_rings`` (whether
        the radii are the fit's own rings). The surface densities are in the
        unit of the first galaxy's moment 0 when every galaxy's converts to it;
        otherwise they are plain numbers in each galaxy's own unit, named in a
        ``surface_density_unit`` column.
    """
    curves = [(row["name"], row[CURVE_KEY]) for row in rows if CURVE_KEY in row]
    if not curves:
        return QTable({"name": np.array([], dtype=str)})
    out = {"name": np.concatenate([[name] * len(c["ring"]) for name, c in curves])}
    for key in curves[0][1]:
        parts = [c[key] for _, c in curves]
        if isinstance(parts[0], u.Quantity):
            units = [p.unit for p in parts]
            if all(unit.is_equivalent(units[0]) for unit in units):
                values = np.concatenate([p.to_value(units[0]) for p in parts])
                out[key] = u.Quantity(values, units[0])
                continue
            out[key] = np.concatenate([p.value for p in parts])
            out[f"{key}_unit"] = np.concatenate([[p.unit.to_string()] * len(p) for p in parts])
            continue
        out[key] = np.concatenate([np.asarray(p) for p in parts])
    return QTable(out)
