r"""Tully-Fisher fits with LtsFit (Cappellari et al. 2013, §3.2), as in thesis §4.3.

Each form fits a line with a pivot, :math:`y = m (x - p) + c`, by least trimmed
squares with errors in both coordinates, an intrinsic scatter in ``y`` and
outliers clipped at ``clip`` sigma (LtsFit's default 2.6, a 99% interval):

========== ======================== ======================== ==================
form       x                        y                        thesis
========== ======================== ======================== ==================
reverse    log10(M* / Msun)         log10(V / (km/s))        Eq. 4.5, p = 10.09
forward    log10(V / (km/s))        log10(M* / Msun)         Eq. 4.6, p = 2.256
magnitude  log10(V / (km/s))        M_r (mag)                Eq. 4.7, p = 2.256
========== ======================== ======================== ==================

The pivot defaults to the median of ``x`` over the galaxies fitted.  Errors:
``log V`` errors are ``V_err / (V ln 10)``; mass and magnitude errors come from a
``<column>_err`` column when the table has one, else from ``mass_err`` (default
0.1 dex, typical of SED-fitted stellar masses) and ``magnitude_err`` (default
0.05 mag).  Errors are floored at :data:`MIN_ERROR` so that LtsFit's chi^2 is
defined.  LtsFit draws random starting subsets; ``seed`` makes a fit repeatable
(NumPy's global random state is restored afterwards) and its printing and
plotting are switched off.
"""

import contextlib
import dataclasses
import io

import numpy as np
from astropy import units as u
from astropy.table import QTable

from galkin.exceptions import GalkinError
from galkin.postprocess import PostProcessor
from galkin.units import KM_S, as_value

from ._columns import (
    as_qtable,
    log_values,
    magnitude_values,
    quantity_values,
    require_columns,
    selected_rows,
)

__all__ = ["FORMS", "MIN_ERROR", "TullyFisherFit", "fit_tully_fisher", "TullyFisher"]

#: x and y quantities of each form.
FORMS = {
    "reverse": ("mass", "velocity"),
    "forward": ("velocity", "mass"),
    "magnitude": ("velocity", "magnitude"),
}
#: Smallest error (dex or mag) passed to LtsFit.
MIN_ERROR = 1e-4
#: Fewest galaxies a fit is attempted on.
MIN_GALAXIES = 5

_UNITS = {"mass": u.dex(u.Msun), "velocity": u.dex(KM_S), "magnitude": u.mag}
_LABELS = {
    "mass": r"$\log_{10}(M_\star / \mathrm{M}_\odot)$",
    "velocity": r"$\log_{10}(V_\mathrm{max} / \mathrm{km\,s^{-1}})$",
    "magnitude": r"$M_r$ (mag)",
}


@dataclasses.dataclass
class TullyFisherFit:
    """The result of a Tully-Fisher fit, :math:`y = m (x - p) + c`.

    Numbers are plain floats in the units of ``x`` and ``y`` (dex or mag, see
    ``x_unit`` and ``y_unit``); :meth:`to_table` attaches the units. Arrays are
    aligned with the rows of the input table (NaN where a row was not fitted).
    """

    form: str  #: "reverse", "forward" or "magnitude".
    x_column: str  #: Table column of x.
    y_column: str  #: Table column of y.
    x_unit: object  #: Unit of x (``dex(solMass)``, ``dex(km / s)`` or ``mag``).
    y_unit: object  #: Unit of y.
    slope: float  #: m.
    slope_err: float
    intercept: float  #: c, the value of y at the pivot.
    intercept_err: float
    pivot: float  #: p.
    scatter: float  #: Intrinsic scatter in y (LtsFit's epsilon_y).
    scatter_err: float
    rms: float  #: Observed rms of the y residuals of the points kept.
    clip: float  #: Clipping threshold in sigma.
    fitted: np.ndarray  #: Rows passed to LtsFit (selected, finite).
    outliers: np.ndarray  #: Fitted rows LtsFit clipped.
    x: np.ndarray
    y: np.ndarray
    x_err: np.ndarray
    y_err: np.ndarray

    @property
    def n_used(self):
        """Galaxies in the final fit."""
        return int(np.sum(self.fitted & ~self.outliers))

    @property
    def n_clipped(self):
        """Galaxies clipped as outliers."""
        return int(np.sum(self.outliers))

    @property
    def x_label(self):
        """Axis label of x."""
        return _LABELS[FORMS[self.form][0]]

    @property
    def y_label(self):
        """Axis label of y."""
        return _LABELS[FORMS[self.form][1]]

    def predict(self, x):
        """The relation at ``x`` (floats in the units of x)."""
        return self.slope * (np.asarray(x, dtype=float) - self.pivot) + self.intercept

    @property
    def residuals(self):
        """``y - predict(x)`` per table row (NaN where not fitted)."""
        return np.where(self.fitted, self.y - self.predict(self.x), np.nan)

    def to_table(self):
        """One-row `~astropy.table.QTable` of the fit, with units."""
        xu, yu = self.x_unit, self.y_unit
        yd = u.dex if isinstance(yu, u.DexUnit) else u.mag
        row = {
            "form": [self.form],
            "x": [self.x_column],
            "y": [self.y_column],
            "slope": [self.slope],
            "slope_err": [self.slope_err],
            "intercept": np.asarray([self.intercept], dtype=float) * yu,
            "intercept_err": [self.intercept_err] * yd,
            "pivot": np.asarray([self.pivot], dtype=float) * xu,
            "scatter": [self.scatter] * yd,
            "scatter_err": [self.scatter_err] * yd,
            "rms": [self.rms] * yd,
            "n_used": [self.n_used],
            "n_clipped": [self.n_clipped],
            "clip": [self.clip],
        }
        return QTable(row)

    def __str__(self):
        return (
            f"{self.form} TFR: y = {self.slope:.4g} +- {self.slope_err:.2g} (x - {self.pivot:.4g})"
            f" + {self.intercept:.5g} +- {self.intercept_err:.2g}; scatter {self.scatter:.3g} "
            f"+- {self.scatter_err:.2g}, rms {self.rms:.3g}; {self.n_used} used, "
            f"{self.n_clipped} clipped"
        )


def _quantity(table, kind, column, err_default, who):
    """Values and errors of one axis quantity, from the table."""
    if kind == "velocity":
        v = quantity_values(table, column, KM_S, who)
        ev = (
            quantity_values(table, column + "_err", KM_S, who)
            if column + "_err" in table.colnames
            else np.zeros(len(table))
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(v), ev / (v * np.log(10))
    if kind == "mass":
        values = log_values(table, column, u.Msun, who)
        name = column + "_err"
        if name in table.colnames:
            col = table[name]
            err = col.to_value(u.dex) if isinstance(col, u.Quantity) else np.asarray(col, float)
        else:
            err = np.full(len(table), err_default)
        return values, err
    values = magnitude_values(table, column, who)
    name = column + "_err"
    err = (
        magnitude_values(table, name, who)
        if name in table.colnames
        else np.full(len(table), err_default)
    )
    return values, err


def _run_ltsfit(x, y, sx, sy, *, pivot, clip, seed):
    """LtsFit's line fit, silenced and seeded."""
    from ltsfit.lts_linefit import lts_linefit

    # LtsFit draws its random subsets from NumPy's legacy global generator.
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return lts_linefit(
                x, y, sx, sy, clip=clip, pivot=pivot, plot=False, text=False, corr=False
            )
    except ValueError as exc:  # LtsFit's root-finding for the intrinsic scatter
        raise GalkinError(
            f"LtsFit could not fit the {len(x)} galaxies ({exc}): its search for the "
            "intrinsic scatter needs more points than this, or errors that are not far "
            "smaller than the scatter. Fit more galaxies, or check the quoted errors."
        ) from exc
    finally:
        np.random.set_state(state)  # noqa: NPY002


def fit_tully_fisher(
    table,
    form="reverse",
    *,
    velocity=None,
    mass="log_mstar",
    magnitude="M_r",
    pivot=None,
    clip=2.6,
    mass_err=0.1 * u.dex,
    magnitude_err=0.05 * u.mag,
    use_keep=True,
    seed=0,
):
    """Fit a Tully-Fisher relation to the galaxies of a fit table with LtsFit.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        Fits joined with a catalogue. Rows with ``status != "ok"`` or, when
        ``use_keep``, ``keep == False`` are left out, as are rows with
        non-finite values.
    form : {"reverse", "forward", "magnitude"}, optional
        See the module notes.
    velocity : str, optional
        Velocity column; default ``v_max_corrected`` when present (after
        asymmetric drift), else ``v_max``. Its errors are ``<velocity>_err``.
    mass, magnitude : str, optional
        Stellar-mass (log10 Msun) and absolute-magnitude columns.
    pivot : float, optional
        Pivot in the units of x (default: median of x).
    clip : float, optional
        Outlier clipping in sigma (LtsFit's default, 2.6).
    mass_err, magnitude_err : `~astropy.units.Quantity`, optional
        Errors used when the table has no ``<mass>_err`` / ``<magnitude>_err``.
    use_keep : bool, optional
        Honour the ``keep`` column of :class:`~galkin_plugins.science.QualityCuts`.
    seed : int, optional
        Seed for LtsFit's random subsets.

    Returns
    -------
    TullyFisherFit
    """
    who = f"tully_fisher ({form})"
    if form not in FORMS:
        raise GalkinError(f"form must be one of {sorted(FORMS)}; got {form!r}.")
    table = as_qtable(table, who)
    if velocity is None:
        velocity = "v_max_corrected" if "v_max_corrected" in table.colnames else "v_max"
    columns = {"velocity": velocity, "mass": mass, "magnitude": magnitude}
    defaults = {
        "velocity": 0.0,
        "mass": as_value(mass_err, "mass_err", u.dex, scalar=True),
        "magnitude": as_value(magnitude_err, "magnitude_err", u.mag, scalar=True),
    }
    kx, ky = FORMS[form]
    require_columns(
        table,
        [columns[kx], columns[ky]],
        who,
        hint="Join a catalogue with join_catalogue(table, catalogue), or name the columns "
        "with velocity=, mass= or magnitude=.",
    )
    x, sx = _quantity(table, kx, columns[kx], defaults[kx], who)
    y, sy = _quantity(table, ky, columns[ky], defaults[ky], who)
    good = np.isfinite(x) & np.isfinite(y) & np.isfinite(sx) & np.isfinite(sy)
    fitted = selected_rows(table, use_keep=use_keep) & good
    if fitted.sum() < MIN_GALAXIES:
        raise GalkinError(
            f"{who}: only {int(fitted.sum())} galaxies have status 'ok'"
            f"{', keep True' if use_keep and 'keep' in table.colnames else ''} and finite "
            f"{columns[kx]!r}, {columns[ky]!r} and errors; at least {MIN_GALAXIES} are needed."
        )
    pivot = float(np.median(x[fitted])) if pivot is None else float(pivot)
    floor = np.maximum
    res = _run_ltsfit(
        x[fitted],
        y[fitted],
        floor(sx[fitted], MIN_ERROR),
        floor(sy[fitted], MIN_ERROR),
        pivot=pivot,
        clip=float(clip),
        seed=seed,
    )
    outliers = np.zeros(len(table), dtype=bool)
    outliers[fitted] = ~res.mask

    def aligned(a):
        return np.where(fitted, a, np.nan)

    return TullyFisherFit(
        form=form,
        x_column=columns[kx],
        y_column=columns[ky],
        x_unit=_UNITS[kx],
        y_unit=_UNITS[ky],
        slope=float(res.coef[1]),
        slope_err=float(res.coef_err[1]),
        intercept=float(res.coef[0]),
        intercept_err=float(res.coef_err[0]),
        pivot=pivot,
        scatter=float(res.sig_int),
        scatter_err=float(res.sig_int_err),
        rms=float(res.rms),
        clip=float(clip),
        fitted=fitted,
        outliers=outliers,
        x=aligned(x),
        y=aligned(y),
        x_err=aligned(sx),
        y_err=aligned(sy),
    )


class TullyFisher(PostProcessor):
    """Post-processor ``"tully_fisher"``: :func:`fit_tully_fisher` as a pipeline step.

    Parameters
    ----------
    form : {"reverse", "forward", "magnitude"}, optional
    **options
        Keyword arguments of :func:`fit_tully_fisher`.
    """

    name = "tully_fisher"

    def __init__(self, form="reverse", **options):
        if form not in FORMS:
            raise GalkinError(f"form must be one of {sorted(FORMS)}; got {form!r}.")
        self.form = form
        self.options = options

    def __call__(self, table):
        """Fit ``table``; returns a :class:`TullyFisherFit`."""
        return fit_tully_fisher(table, self.form, **self.options)
