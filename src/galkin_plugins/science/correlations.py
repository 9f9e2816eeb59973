"""Spearman rank correlations along and across the Tully-Fisher relation (thesis §4.3.4).

The thesis correlates catalogue properties (stellar age, M*/L, r_turn / r_e)
with the position along the TFR (V_max) and with the residuals from it.
Spearman's rho only uses ranks, so units do not matter and any monotonic
relation counts.
"""

import numpy as np
from astropy.table import QTable
from scipy import stats

from galkin.exceptions import GalkinError
from galkin.postprocess import PostProcessor

from ._columns import as_qtable, ratio_values, selected_rows, string_column
from .tully_fisher import TullyFisherFit

__all__ = ["spearman_correlations", "Correlations"]

#: Fewest pairs for which rho is computed.
MIN_PAIRS = 3


def _against(table, against, who):
    if isinstance(against, TullyFisherFit):
        if len(against.fitted) != len(table):
            raise GalkinError(
                f"{who}: the Tully-Fisher fit has {len(against.fitted)} rows but the table "
                f"{len(table)}; correlate against a fit of this same table."
            )
        return against.residuals, f"{against.form} TFR residual ({against.y_column})"
    if isinstance(against, str):
        return ratio_values(table, against, who), against
    raise GalkinError(
        f"{who}: against must be a column name (e.g. 'v_max', 'r_turn/r_e') or a "
        f"TullyFisherFit (for its residuals); got {type(against).__name__}."
    )


def spearman_correlations(table, columns, *, against="v_max", use_keep=True):
    """Spearman rank correlation of each of ``columns`` with ``against``.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        Fits joined with a catalogue.
    columns : sequence of str
        Column names, or ratios of two columns written ``"a/b"`` (e.g.
        ``"r_turn/r_e"``; the two must have compatible units).
    against : str or `~galkin_plugins.science.TullyFisherFit`, optional
        A column (or ratio): the position along the TFR, by default ``v_max``.
        A fit of this table correlates with its residuals ``y - model``.
    use_keep : bool, optional
        Only rows with ``status == "ok"`` and ``keep`` (when present).

    Returns
    -------
    `~astropy.table.QTable`
        One row per column: ``column``, ``against``, ``rho``, ``p_value`` and
        ``n`` (pairs with finite values). rho and p are NaN for fewer than 3
        pairs or a constant column.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from astropy.table import QTable
    >>> v = np.arange(1.0, 21.0)
    >>> t = QTable({"v_max": v * u.km / u.s, "age": v**2, "noise": np.cos(7 * v)})
    >>> res = spearman_correlations(t, ["age", "noise"])
    >>> res["rho"].round(3).tolist(), int(res["n"][0])
    ([1.0, 0.191], 20)
    """
    who = "correlations"
    table = as_qtable(table, who)
    if isinstance(columns, str):
        columns = [columns]
    if not columns:
        raise GalkinError(f"{who}: give at least one column to correlate, e.g. ['age'].")
    ref, label = _against(table, against, who)
    sel = selected_rows(table, use_keep=use_keep)
    rho, pval, npairs = [], [], []
    for spec in columns:
        values = ratio_values(table, spec, who)
        good = sel & np.isfinite(values) & np.isfinite(ref)
        n = int(good.sum())
        constant = n > 0 and (np.ptp(values[good]) == 0 or np.ptp(ref[good]) == 0)
        if n < MIN_PAIRS or constant:
            r, p = np.nan, np.nan
        else:
            r, p = stats.spearmanr(values[good], ref[good])
        rho.append(float(r))
        pval.append(float(p))
        npairs.append(n)
    return QTable(
        [
            string_column(columns, "column"),
            string_column([label] * len(columns), "against"),
            np.array(rho),
            np.array(pval),
            np.array(npairs, dtype=int),
        ],
        names=["column", "against", "rho", "p_value", "n"],
    )


class Correlations(PostProcessor):
    """Post-processor ``"correlations"``: :func:`spearman_correlations` as a pipeline step.

    Parameters
    ----------
    columns : sequence of str
        Columns (or ``"a/b"`` ratios) to correlate, e.g. ``["age", "ml", "r_turn/r_e"]``.
    against : str or `~galkin_plugins.science.TullyFisherFit`, optional
    use_keep : bool, optional
    """

    name = "correlations"

    def __init__(self, columns, *, against="v_max", use_keep=True):
        self.columns = columns
        self.against = against
        self.use_keep = use_keep

    def __call__(self, table):
        """Return the table of correlations (see :func:`spearman_correlations`)."""
        return spearman_correlations(
            table, self.columns, against=self.against, use_keep=self.use_keep
        )
