"""Quality flags of one fit: when a result must not look like a clean one.

A fit can be formally fine and still not be an answer: the galaxy is nearly
face-on, its rotation curve is not resolved, a parameter ran to the edge of its
range, the rotation speed is an extrapolation of a curve that never flattens
inside the data, or the disc model does not describe the maps. Each case is a
flag in :meth:`galkin.result.FitResult.flags` and the table, and
:func:`galkin.fit` warns (`FitQualityWarning`) about the serious ones.
"""

import warnings

import numpy as np
from astropy import units as u

from .exceptions import GalkinWarning
from .units import KM_S

__all__ = [
    "FitQualityWarning",
    "quality_flags",
    "warn_about",
    "LOW_INCLINATION",
    "MIN_RTURN_BEAMS",
    "EXTRAPOLATION",
    "POOR_FIT",
    "PROFILE_MISMATCH",
    "TRUNCATED",
    "WARNED_FLAGS",
    "profile_mismatch",
    "ring_mismatch",
    "truncated_edge",
]

#: Below this inclination the thesis recommends flagging a fit (deg).
LOW_INCLINATION = 30.0
#: Flag fits whose projected turnover radius, r_turn cos i, is below this many beams.
MIN_RTURN_BEAMS = 1.5
#: Flag a rotation speed that exceeds the model's speed at the edge of the data
#: (``v_outer``) by more than this fraction: it is an extrapolation.
EXTRAPOLATION = 0.10
#: Flag a fit whose moment-1 residual scatter (the refinement's jitter) exceeds
#: this fraction of the projected rotation speed at the edge of the data.
POOR_FIT = 0.15
#: Flag a fit whose model surface density, averaged in de-projected rings, departs
#: from the data's by more than this fraction of the data profile's peak in any
#: ring. Measured with :func:`profile_mismatch`: exponential discs of the
#: independent simulator 0.004-0.04, a real MaNGA Halpha map 0.03; NGC 2903's HI
#: (a central depression, a flat disc) 0.38 and gas in rings 0.6-1.1, where the
#: exponential's inclination is off by several degrees.
PROFILE_MISMATCH = 0.15
#: Flag a refined fit whose moment-0 pedestal is below this fraction of the
#: normalised moment 0's peak, and below zero by more than three times its
#: error: the surface density falls off faster than the intensity profile towards
#: the edge of the data (a disc with a sharp outer edge). On the referee's KinMS
#: cubes it flags none of 160 noiseless, ``hard`` and ``thin`` galaxies, 12% of
#: the ``hard`` ones with beam-correlated noise, and 78% of the sharp-edged
#: ``edge`` discs (13 of the 16 whose inclination is more than 2 deg off).
TRUNCATED = -0.01
#: Flags that :func:`warn_about` warns about.
WARNED_FLAGS = ("at_bound", "extrapolated", "poor_fit", "profile_mismatch", "truncated")


class FitQualityWarning(GalkinWarning):
    """A fit is at a parameter bound, extrapolated, or does not describe the data."""


def _at_bound(result):
    """Names of the fitted parameters that ended at a bound of their range."""
    refinement = result.output.refinement
    if refinement is not None:
        return tuple(n for n in refinement.at_bound)
    names = []
    for name, (lo, hi) in result.space.bounds.items():
        value = float(np.mean(result.output.samples[name]))
        if min(value - lo, hi - value) < 1e-3 * (hi - lo):
            names.append(name)
    return tuple(names)


def _extrapolated(result):
    """Whether the model's rotation speed keeps rising beyond the data.

    True when the curve's asymptotic speed (its speed at 1000 ``r_max``, e.g. the
    arctan's ``v_max``) exceeds the speed at ``r_max`` (``v_outer``) by more
    than `EXTRAPOLATION`, or when a turnover radius lies beyond ``r_max``.
    """
    r_max = result.r_max
    v_outer = result.v_outer()[0]
    v_far = result.velocity_at(1000 * r_max)[0]
    extrapolated = bool(v_far > (1 + EXTRAPOLATION) * v_outer)
    if "r_turn" in result.samples:
        extrapolated |= bool(result.value("r_turn") > r_max)
    return extrapolated


def _poor_fit(result):
    """Whether the moment-1 residuals exceed `POOR_FIT` of the projected speed at r_max."""
    refinement = result.output.refinement
    if refinement is None:
        return False
    jitter = refinement.jitter[1] * result.prepared.scales.velocity * KM_S
    sin_i = np.sin(result.value("inclination"))
    return bool(jitter > POOR_FIT * result.v_outer()[0] * sin_i)


def _fallback(result, reason):
    """The record of ``result``'s refit for ``reason``, or None (`ModelOutput.fallback`)."""
    fallback = result.output.fallback
    if fallback is not None and fallback["reason"] == reason:
        return fallback
    return None


def _truncated(result):
    """:func:`truncated_edge` of the fit, or of the fit its truncated refit replaced."""
    if _fallback(result, "truncated") is not None:
        return True
    return truncated_edge(result.prepared, result.output.refinement)


def truncated_edge(prepared, ref, floor=TRUNCATED):
    """Whether a refinement's moment-0 pedestal is below ``floor`` and significantly below 0.

    The pedestal's error is the moment-0 scatter over the number of independent
    pixels (the pixels moment 0 was fitted on per residual correlation area);
    "significantly" is more
    than three errors.

    Parameters
    ----------
    prepared : `~galkin.preprocess.PreparedMaps`
    ref : `~galkin.refine.Refinement` or None
    floor : float, optional
        Fraction of the normalised moment 0's peak (default `TRUNCATED`, the
        flag's; the automatic refit with an edge asks only for significance).
    """
    if ref is None or ref.pedestal >= floor:
        return False
    independent = float(ref.moment0_pixels(prepared.mask).sum()) / max(ref.correlation[0], 1.0)
    error = ref.jitter[0] / np.sqrt(max(independent, 1.0))
    return bool(ref.pedestal < -3.0 * error)


def profile_mismatch(result):
    """Largest ring-averaged difference of model and data moment 0 (fraction of the peak).

    Moment 0 of the data and of the refined model (network grid, inside the mask)
    are averaged in rings of de-projected radius, one beam FWHM (at least two
    pixels) wide, in the refined geometry (centre, position angle, inclination).
    Returns the largest ``|data - model|`` over rings of at least five pixels,
    divided by the largest ring average of the data; NaN for fits without a
    refinement. A disc whose surface density the intensity profile describes
    gives a few per cent; a central hole, a ring or a flat HI disc fitted by an
    exponential, tens of per cent -- and then the beam-smeared velocity field is
    weighted wrongly and the inclination goes with it.
    """
    fallback = _fallback(result, "profile_mismatch")
    if fallback is not None:  # the profile that failed, not the free one that replaced it
        return float(fallback["mismatch"])
    return ring_mismatch(result.prepared, result.output.refinement)


def ring_mismatch(prepared, ref):
    """:func:`profile_mismatch` of a `~galkin.refine.Refinement` of ``prepared``."""
    if ref is None:
        return float("nan")
    n = prepared.moment0.shape[0]
    yy, xx = (np.mgrid[:n, :n] - (n - 1) / 2.0) / n
    x, y = xx - ref.value["x0"], yy - ref.value["y0"]
    a, inc = ref.value["pa_offset"], ref.value["inclination"]
    along = x * np.cos(a) + y * np.sin(a)
    across = -x * np.sin(a) + y * np.cos(a)
    radius = np.hypot(along, across / max(np.cos(inc), 0.1))
    mask = prepared.mask > 0
    beam = prepared.scales.beam
    width = max(2.355 * beam[0] if beam is not None else 0.0, 2.0 / n)
    ring = np.floor(radius / width).astype(int)
    data, model = [], []
    for k in np.unique(ring[mask]):
        inside = mask & (ring == k)
        if inside.sum() >= 5:
            data.append(prepared.moment0[inside].mean())
            model.append(ref.model0[inside].mean())
    if not data:
        return float("nan")
    data, model = np.array(data), np.array(model)
    peak = np.abs(data).max()
    return float(np.abs(data - model).max() / peak) if peak > 0 else float("nan")


def quality_flags(result):
    """Every quality flag of ``result`` (a `~galkin.result.FitResult`), as a dict of bool.

    ``low_inclination``
        inclination below `LOW_INCLINATION`: moment maps constrain it poorly.
    ``unresolved``
        projected turnover radius ``r_turn cos i`` below `MIN_RTURN_BEAMS` beam
        FWHM (profiles with ``r_turn``, maps with a beam).
    ``at_bound``
        a fitted parameter ended at a bound of its range
        (``FitResult.at_bound`` names it).
    ``extrapolated``
        the rotation speed is not reached inside the data (see `EXTRAPOLATION`):
        quote ``v_outer`` rather than the asymptote.
    ``poor_fit``
        the disc model leaves moment-1 residuals above `POOR_FIT` of the
        projected rotation (refined fits only).
    ``profile_mismatch``
        the intensity profile does not follow the radial surface density
        (:func:`profile_mismatch` above `PROFILE_MISMATCH`; refined fits only):
        the geometry may be biased; ``intensity="rings"`` fits a free profile.
    ``truncated``
        the surface density falls off faster than the intensity profile towards
        the edge of the data (a moment-0 pedestal below `TRUNCATED` of the peak;
        refined fits with a parametric profile only): a disc with a sharp edge,
        whose inclination the disc model reads too high when it is seen inclined;
        ``intensity="truncated_exponential"`` fits the edge. Also set on a fit
        that was refitted with that edge
        (`galkin.refine.proxy.refit_truncated_edge`).

    A sample-relative poor-reconstruction flag is added by :func:`galkin.fit_many`.
    """
    inc = result.value("inclination")
    flags = {"low_inclination": bool(inc < LOW_INCLINATION * u.deg), "unresolved": False}
    beam = result.prepared.maps.beam
    if beam is not None and "r_turn" in result.samples:
        projected = result.value("r_turn") * np.cos(inc)
        flags["unresolved"] = bool(projected < MIN_RTURN_BEAMS * beam.major)
    flags["at_bound"] = bool(_at_bound(result))
    flags["extrapolated"] = _extrapolated(result)
    flags["poor_fit"] = _poor_fit(result)
    flags["profile_mismatch"] = bool(profile_mismatch(result) > PROFILE_MISMATCH)
    flags["truncated"] = _truncated(result)
    return flags


def warn_about(result, flags=None):
    """Emit one `FitQualityWarning` naming the serious flags of ``result``, if any."""
    flags = quality_flags(result) if flags is None else flags
    raised = [f for f in WARNED_FLAGS if flags.get(f)]
    if not raised:
        return
    warnings.warn(
        f"{result.name!r}: "
        + "; ".join(_reason(result, f) for f in raised)
        + ". See the flag_* columns.",
        FitQualityWarning,
        stacklevel=3,
    )


def _reason(result, flag):
    """What a raised warned ``flag`` of ``result`` means, in words (built only when raised:
    a network-only fit has no refinement to quote)."""
    if flag == "at_bound":
        return "parameter(s) {} ended at a bound of their range".format(
            ", ".join(_at_bound(result))
        )
    if flag == "extrapolated":
        return (
            f"the rotation speed is extrapolated beyond the data (v_outer = "
            f"{result.v_outer()[0]:.1f} at r_max = {result.r_max:.1f})"
        )
    if flag == "poor_fit":
        return "the disc model does not describe the velocity field (large residuals)"
    if flag == "profile_mismatch":
        fallback = _fallback(result, "profile_mismatch")
        if fallback is not None:
            return (
                f"the {fallback['profile']} intensity profile did not follow the radial surface "
                f"density (off by {fallback['mismatch']:.0%} of its peak), so the geometry and "
                f"rotation come from a refit with a free ({result.intensity.name}) surface "
                "density; pass intensity_fallback=False to keep the first fit"
            )
        return (
            f"the {result.intensity.name} intensity profile does not follow the radial "
            f"surface density (off by {profile_mismatch(result):.0%} of its peak), which "
            "can bias the inclination; fit a free profile with intensity='rings'"
        )
    fallback = _fallback(result, "truncated")
    if fallback is not None:
        return (
            f"the surface density fell off faster than the {fallback['profile']} profile "
            f"towards the edge of the data (moment-0 pedestal "
            f"{fallback['refinement'].pedestal:.1%} of the peak), and the maps prefer a disc "
            f"with a sharp edge (log-likelihood ratio {fallback['evidence']:.0f}), so the "
            f"geometry and rotation come from a refit with intensity={result.intensity.name!r}; "
            "pass intensity_fallback=False to keep the first fit"
        )
    return (
        f"the surface density falls off faster than the {result.intensity.name} profile "
        f"towards the edge of the data (moment-0 pedestal "
        f"{result.output.refinement.pedestal:.1%} of the peak), as a disc with a sharp "
        "edge does; seen inclined, such discs are fitted up to ~12 deg too edge-on. If "
        "the gas does end at an edge, intensity='truncated_exponential' fits it (check "
        "the maps: on flagged discs without one it fits worse)"
    )
