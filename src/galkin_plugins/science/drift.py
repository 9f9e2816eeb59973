r"""The asymmetric-drift correction of V_max (thesis Eq. 4.4).

Random motions support part of a gas disc against gravity, so the measured
rotation falls below the circular velocity.  For a thin isotropic disc with an
exponential surface density (the Evans-model approximation the thesis takes from
Weijmans et al. 2008 and Neistein et al. 1999):

.. math::

    V_{\max,\rm new}^2 = V_{\max}^2 + V_{\rm disp}^2
    \left(2\,\frac{r_{\max}}{r_{\rm scale}} - 1\right)

where ``r_scale`` is the fitted intensity scale length, ``r_max`` the extent of
the detected emission and ``V_disp`` the mean line-of-sight dispersion from
``2 r_e`` out to ``r_max`` (from ``r_max / 2`` when ``r_max <= 2 r_e``).
Instrumental broadening must already be removed from the dispersion (the survey
adapters do this, e.g. MaNGA's LSF scaled by 1.045 as in thesis §4.2.4), and so
must beam smearing: the ``dispersion_profile`` of ``galkin.fit_many`` has the
fitted model's own beam-smeared rotation subtracted in quadrature
(`galkin.result.FitResult.dispersion_profile`). Without that, the moment-2
widths of compact, fast rotators read high and Eq. 4.4 over-corrects them.
"""

import numpy as np
from astropy import units as u

from galkin.exceptions import GalkinError
from galkin.postprocess import PostProcessor
from galkin.units import KM_S, as_value

from ._columns import as_qtable, quantity_values, require_columns, selected_rows, string_column

__all__ = ["mean_dispersion", "drift_corrected_v_max", "AsymmetricDrift"]


def mean_dispersion(profile, r_max, r_e):
    """Mean dispersion over ``[2 r_e, r_max]`` (or ``[r_max / 2, r_max]``) of binned profiles.

    Each profile holds the mean dispersion in ``n`` equal bins of de-projected
    radius from 0 to ``r_max``. Bins are weighted by their overlap with the
    radial range (a mean over radius); bins without data (NaN) are skipped.

    Parameters
    ----------
    profile : `~astropy.units.Quantity`
        Shape ``(n_galaxies, n_bins)`` (or ``(n_bins,)``), a speed.
    r_max, r_e : `~astropy.units.Quantity`
        Shape ``(n_galaxies,)`` (or scalars), angles.

    Returns
    -------
    v_disp : `~astropy.units.Quantity`
        Mean dispersion in km/s; NaN where the range holds no data.
    r_inner : `~astropy.units.Quantity`
        Inner edge of the range used (``2 r_e`` or ``r_max / 2``), arcsec.

    Examples
    --------
    >>> from astropy import units as u
    >>> profile = [40, 30, 20, 10] * u.km / u.s  # bins 0-2, 2-4, 4-6, 6-8 arcsec
    >>> v, r_in = mean_dispersion(profile, 8 * u.arcsec, 1.5 * u.arcsec)
    >>> v, r_in  # from 3 arcsec: (1 * 30 + 2 * 20 + 2 * 10) / 5
    (<Quantity 18. km / s>, <Quantity 3. arcsec>)
    """
    prof = np.atleast_2d(as_value(profile, "profile", KM_S))
    rmax = np.atleast_1d(as_value(r_max, "r_max", u.arcsec))
    re = np.atleast_1d(as_value(r_e, "r_e", u.arcsec))
    scalar = np.ndim(profile) == 1
    rmax, re = np.broadcast_arrays(rmax, re)
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = np.where(rmax > 2 * re, 2 * re, rmax / 2)
        inner = np.where(np.isfinite(re), inner, np.nan)
        weight = _weights(prof, rmax, inner)
        v = (weight * np.nan_to_num(prof)).sum(axis=1) / weight.sum(axis=1)
    if scalar:
        return v[0] * KM_S, inner[0] * u.arcsec
    return v * KM_S, inner * u.arcsec


def drift_corrected_v_max(
    v_max, v_disp, r_max, r_scale, *, v_max_err=None, v_disp_err=None, r_scale_err=None
):
    """Thesis Eq. 4.4 with first-order error propagation.

    Parameters
    ----------
    v_max, v_disp : `~astropy.units.Quantity`
        Fitted maximum rotation velocity and mean dispersion (speeds).
    r_max, r_scale : `~astropy.units.Quantity`
        Emission extent and intensity scale length (angles, or both lengths).
    v_max_err, v_disp_err, r_scale_err : `~astropy.units.Quantity`, optional
        1-sigma errors, combined in quadrature (``r_max`` is taken as exact).

    Returns
    -------
    v_new, v_new_err : `~astropy.units.Quantity`
        Corrected velocity and its error, km/s. NaN where ``V_new^2 <= 0`` (a
        negative correction when ``r_max < r_scale / 2``).

    Examples
    --------
    >>> from astropy import units as u
    >>> kms = u.km / u.s
    >>> v, err = drift_corrected_v_max(100 * kms, 20 * kms, 8 * u.arcsec, 2 * u.arcsec)
    >>> v.round(3)  # sqrt(100**2 + 20**2 * (2 * 8 / 2 - 1))
    <Quantity 113.137 km / s>
    """
    v = as_value(v_max, "v_max", KM_S)
    d = as_value(v_disp, "v_disp", KM_S)
    unit = u.arcsec if u.Quantity(r_max).unit.physical_type == "angle" else u.kpc
    rm = as_value(r_max, "r_max", unit)
    rs = as_value(r_scale, "r_scale", unit)

    def err(q, name, eunit):
        return 0.0 if q is None else as_value(q, name, eunit)

    ev = err(v_max_err, "v_max_err", KM_S)
    ed = err(v_disp_err, "v_disp_err", KM_S)
    ers = err(r_scale_err, "r_scale_err", unit)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = 2 * rm / rs - 1
        v2 = v**2 + d**2 * factor
        vnew = np.where(v2 > 0, np.sqrt(np.abs(v2)), np.nan)
        dv = np.sqrt(
            (v * ev) ** 2 + (d * factor * ed) ** 2 + (d**2 * rm / rs**2 * ers) ** 2
        ) / np.where(v2 > 0, vnew, np.nan)
    return vnew * KM_S, dv * KM_S


class AsymmetricDrift(PostProcessor):
    """Post-processor ``"asymmetric_drift"``: add drift-corrected velocities to the table.

    Needs ``v_max``, ``r_scale``, ``r_max`` and ``dispersion_profile`` (from
    ``galkin.fit_many``) and the effective radius from a joined catalogue.
    Adds ``v_disp``, ``v_disp_err``, ``v_disp_r_inner`` (inner radius of the
    range averaged), ``v_max_corrected``, ``v_max_corrected_err`` and
    ``drift_note`` (why a row is NaN; empty when corrected).

    ``v_disp_err`` comes from a ``dispersion_profile_err`` column when the
    table has one (bins independent); otherwise the dispersion is taken as exact
    and ``v_disp_err`` is 0.

    Parameters
    ----------
    r_e : str, optional
        Name of the effective-radius column (an angle).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from astropy.table import QTable
    >>> kms = u.km / u.s
    >>> table = QTable({
    ...     "name": ["a"], "status": ["ok"], "v_max": [100.0] * kms, "v_max_err": [5.0] * kms,
    ...     "r_scale": [2.0] * u.arcsec, "r_scale_err": [0.0] * u.arcsec,
    ...     "r_max": [8.0] * u.arcsec, "r_e": [2.0] * u.arcsec,
    ...     "dispersion_profile": np.full((1, 16), 20.0) * kms})
    >>> out = AsymmetricDrift()(table)
    >>> out["v_max_corrected"].round(3)
    <Quantity [113.137] km / s>
    """

    name = "asymmetric_drift"

    def __init__(self, *, r_e="r_e"):
        self.r_e = r_e

    def __call__(self, table):
        """Return a copy of ``table`` with the drift-corrected columns added."""
        who = "asymmetric_drift"
        out = as_qtable(table, who)
        fit_cols = ["v_max", "r_scale", "r_max", "dispersion_profile"]
        require_columns(out, fit_cols, who, hint="These come from galkin.fit_many.")
        require_columns(
            out,
            [self.r_e],
            who,
            hint="Join a catalogue with the effective radius (join_catalogue(table, catalogue)) "
            "or pass r_e= with the name of its column.",
        )
        v = quantity_values(out, "v_max", KM_S, who)
        rs = quantity_values(out, "r_scale", u.arcsec, who)
        rmax = quantity_values(out, "r_max", u.arcsec, who)
        re = quantity_values(out, self.r_e, u.arcsec, who)
        prof = quantity_values(out, "dispersion_profile", KM_S, who)
        if prof.ndim != 2:
            raise GalkinError(
                f"{who}: column 'dispersion_profile' must be 2-D, (n_galaxies, n_bins) of mean "
                f"dispersion in radial bins from 0 to r_max; it has shape {prof.shape}."
            )
        ok = selected_rows(out, use_keep=False)

        def optional(name, unit):
            present = name in out.colnames
            return quantity_values(out, name, unit, who) if present else np.zeros(len(out))

        vdisp, inner = mean_dispersion(prof * KM_S, rmax * u.arcsec, re * u.arcsec)
        ed = np.zeros(len(out))
        if "dispersion_profile_err" in out.colnames:
            perr = quantity_values(out, "dispersion_profile_err", KM_S, who)
            ed = _mean_error(perr, prof, rmax, inner.to_value(u.arcsec))
        vnew, enew = drift_corrected_v_max(
            v * KM_S,
            vdisp,
            rmax * u.arcsec,
            rs * u.arcsec,
            v_max_err=optional("v_max_err", KM_S) * KM_S,
            v_disp_err=ed * KM_S,
            r_scale_err=optional("r_scale_err", u.arcsec) * u.arcsec,
        )
        notes = _notes(out, ok, re, rmax, prof, vdisp.value, vnew.value)
        bad = np.array([bool(n) for n in notes])
        nan = np.where(bad, np.nan, 1.0)
        out["v_disp"] = vdisp * nan
        out["v_disp_err"] = ed * nan * KM_S
        out["v_disp_r_inner"] = inner * np.where(ok, 1.0, np.nan)
        out["v_max_corrected"] = vnew * nan
        out["v_max_corrected_err"] = enew * nan
        out["drift_note"] = string_column(notes, "drift_note")
        return out


def _weights(prof, rmax, inner):
    """Overlap (arcsec) of each radial bin with ``[inner, r_max]``; 0 for bins without data."""
    frac = np.linspace(0.0, 1.0, prof.shape[-1] + 1)
    edges = rmax[:, None] * frac[None, :]
    with np.errstate(invalid="ignore"):
        lo = np.maximum(edges[:, :-1], inner[:, None])
        overlap = np.minimum(edges[:, 1:], rmax[:, None]) - lo
        return np.where(np.isfinite(prof) & (overlap > 0), overlap, 0.0)


def _mean_error(perr, prof, rmax, inner):
    """Error of the overlap-weighted mean, from independent per-bin errors."""
    w = _weights(prof, rmax, inner)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((w**2 * np.nan_to_num(perr) ** 2).sum(1)) / w.sum(1)


def _notes(table, ok, re, rmax, prof, vdisp, vnew):
    """Why each row has no corrected velocity ("" when it has one)."""
    status = (
        np.asarray(table["status"]).astype(str) if "status" in table.colnames else ["ok"] * len(ok)
    )
    notes = []
    for i in range(len(ok)):
        if not ok[i]:
            note = f"not fitted (status {str(status[i])!r})"
        elif not np.isfinite(re[i]):
            note = "no effective radius r_e"
        elif not np.isfinite(rmax[i]) or rmax[i] <= 0:
            note = "no emission extent r_max"
        elif not np.any(np.isfinite(prof[i])):
            note = "no dispersion data"
        elif not np.isfinite(vdisp[i]):
            note = "no dispersion data between the inner radius and r_max"
        elif not np.isfinite(vnew[i]):
            note = "correction makes V_max^2 <= 0 (r_max < r_scale / 2)"
        else:
            note = ""
        notes.append(note)
    return notes
