"""The survey table: one row per galaxy, fitted or not, as :func:`galkin.fit_many` returns.

Rows are plain dicts of Quantities, arrays, numbers and strings (they travel
through process pools, dask and checkpoint files); :func:`survey_table` turns
them into one `~astropy.table.QTable`, filling the columns of failed rows with
NaN, False or '' and flagging poor fits over the whole sample.
"""

import numpy as np
from astropy import units as u
from astropy.table import QTable

from .exceptions import RejectedGalaxy

__all__ = ["result_row", "failure_row", "survey_table"]


def result_row(result, name):
    """The table row of a `~galkin.FitResult`."""
    row = {"name": name, "status": "ok", "error": ""}
    for key, column in result.to_table().items():
        if key != "name":
            row[key] = column[0]
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
            if key not in templates:
                templates[key] = value
                if key not in columns:
                    columns.append(key)
    table = QTable({key: _column([r.get(key) for r in rows], templates[key]) for key in columns})
    _flag_poor_fits(table)
    table.meta["n_ok"] = int((table["status"] == "ok").sum())
    table.meta["n_failed"] = len(table) - table.meta["n_ok"]
    return table
