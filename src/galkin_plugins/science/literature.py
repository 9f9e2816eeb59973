"""Published reverse Tully-Fisher fits (thesis Table 4.1), moved to any pivot.

All four relations are ``log10(V / km/s) = m (log10(M* / Msun) - p) + c`` at
``p = 10.09``.  Only the thesis's own fit corrects V_max for asymmetric drift,
which is why it lies above the others (thesis §4.3.1).
"""

import numpy as np
from astropy import units as u
from astropy.table import QTable

from galkin.exceptions import GalkinError
from galkin.units import KM_S

__all__ = ["LITERATURE_PIVOT", "LITERATURE_FITS", "literature_table"]

#: The pivot, log10(M*/Msun), of every fit in :data:`LITERATURE_FITS`.
LITERATURE_PIVOT = 10.09

#: (reference, sample, n galaxies, slope, slope error, intercept, intercept error,
#: asymmetric drift corrected) at :data:`LITERATURE_PIVOT`, from thesis Table 4.1.
LITERATURE_FITS = (
    ("Dawson 2021 (thesis)", "SAMI DR2 & MaNGA DR16", 1834, 0.258, 0.003, 2.265, 0.002, True),
    ("Bloom et al. 2017b", "SAMI DR1", 729, 0.310, 0.009, 2.198, 0.100, False),
    ("Bekeraite et al. 2016", "CALIFA", 199, 0.260, 0.017, 2.123, 0.130, False),
    ("Reyes et al. 2011", "SDSS DR7", 189, 0.278, 0.010, 2.164, 0.004, False),
)


def literature_table(fit=None, *, pivot=None):
    """Thesis Table 4.1 as a `~astropy.table.QTable`, optionally next to a galkin fit.

    Intercepts are moved to the common pivot ``p'`` with
    ``c' = c + m (p' - p)``; their errors add ``m_err |p' - p|`` in quadrature
    (the published slope-intercept covariances are not available).

    Parameters
    ----------
    fit : `~galkin_plugins.science.TullyFisherFit`, optional
        A reverse-form fit: it becomes the first row, and its pivot is used.
    pivot : float, optional
        Pivot in log10(M*/Msun) when no fit is given (default 10.09).

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``reference``, ``sample``, ``n_galaxies``, ``slope``,
        ``slope_err``, ``intercept`` (dex(km/s)), ``intercept_err`` (dex),
        ``pivot`` (dex(solMass)) and ``asymmetric_drift``.

    Examples
    --------
    >>> tab = literature_table(pivot=10.5)
    >>> print(tab["reference"][1], round(tab["intercept"][1].value, 4))
    Bloom et al. 2017b 2.3251
    """
    rows = [list(r) for r in LITERATURE_FITS]
    if fit is not None:
        if fit.form != "reverse":
            raise GalkinError(
                f"Table 4.1 lists reverse fits (log V against log M*); got a {fit.form!r} fit. "
                "Fit with fit_tully_fisher(table, form='reverse') to compare."
            )
        pivot = fit.pivot
    pivot = LITERATURE_PIVOT if pivot is None else float(pivot)
    shift = pivot - LITERATURE_PIVOT
    for r in rows:
        r[5] = r[5] + r[3] * shift
        r[6] = float(np.hypot(r[6], r[4] * shift))
    if fit is not None:
        rows.insert(
            0,
            [
                "galkin (this sample)",
                "",
                fit.n_used,
                fit.slope,
                fit.slope_err,
                fit.intercept,
                fit.intercept_err,
                fit.y_column == "v_max_corrected",
            ],
        )
    cols = list(zip(*rows, strict=True))
    return QTable(
        {
            "reference": list(cols[0]),
            "sample": list(cols[1]),
            "n_galaxies": np.array(cols[2], dtype=int),
            "slope": np.array(cols[3], dtype=float),
            "slope_err": np.array(cols[4], dtype=float),
            "intercept": np.array(cols[5], dtype=float) * u.dex(KM_S),
            "intercept_err": np.array(cols[6], dtype=float) * u.dex,
            "pivot": np.full(len(rows), pivot) * u.dex(u.Msun),
            "asymmetric_drift": np.array(cols[7], dtype=bool),
        }
    )
