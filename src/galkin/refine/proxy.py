"""Fitting profiles that no network estimates: ring profiles, started from a proxy.

A profile with one free value per ring (``velocity="rings"``,
``intensity="rings"``) has too many parameters, varying in number from galaxy
to galaxy, for a network trained on parametric discs to predict. It names a
parametric ``proxy`` instead (the arctan for the rotation speed, the
exponential for the surface density). A fit then runs in three steps:

1. the kinematic model (blind network, or solo/combined training) fits the
   proxies, and the refinement (:mod:`galkin.refine`) fits them to the maps;
2. each profile is laid out for its galaxy (:meth:`~galkin.profiles.DecoderProfile.configure`:
   ring radii from the beam and the data's extent) and starts from the refined
   proxy curve evaluated at its rings (:meth:`~galkin.profiles.DecoderProfile.from_proxy`);
3. the refinement fits every ring value together with the geometry (centre,
   inclination, position angle, thickness, systemic velocity), the profiles'
   smoothness regularisation added to its objective as a prior. The Laplace
   covariance of that fit gives every ring's error.

Galaxies whose profiles are laid out alike are refined together in one batch.

A ring-start estimator (:mod:`galkin.ring_start`, ``ring_start="amortised"``)
replaces the proxy's steps 1-2 for the rotation speed: the rings start on the
curve it predicts, the geometry on its prediction where it makes one, and the
rest on the kinematic model's own (unrefined) estimate, so the proxy refinement
is skipped.
"""

import dataclasses
import warnings

import numpy as np

from ..exceptions import GalkinWarning
from ..parameters import ParameterSpace
from ..plugins import get_profile
from .constants import CENTER_NAMES, HEIGHT_NAME
from .errors import posterior_draws
from .optimiser import refine
from .outputs import refined_output

__all__ = [
    "proxy_profiles",
    "needs_proxy",
    "refine_from_proxy",
    "refit_free_surface_density",
    "refit_truncated_edge",
    "likelihood_ratio",
    "RING_ITERATIONS",
    "TRUNCATED_VARIANTS",
    "EDGE_EVIDENCE",
]

#: Levenberg-Marquardt iterations of the ring fit (many more free values than a
#: parametric fit, started close to the answer by the proxy).
RING_ITERATIONS = 30
#: Error samples drawn from each ring fit's Laplace posterior.
N_DRAWS = 200
#: The intensity profile with a sharp outer edge that a fit with each profile is
#: refitted with when its surface density ends early (:func:`refit_truncated_edge`).
TRUNCATED_VARIANTS = {"exponential": "truncated_exponential"}
#: Strong evidence (Kass & Raftery 1995: a BIC difference above 6) that the
#: maps prefer the profile with an edge: its log-likelihood ratio must exceed
#: this plus half the log of the number of independent pixels (one more
#: parameter). Measured on the referee's KinMS cubes whose exponential fits have
#: a pedestal more than three errors below zero (thresholds 5.1-7.0):
#: sharp-edged discs 12 to 325 (39 of 40 refitted), discs without an edge
#: -292 to 4.5 (``noiseless``, 20 of 100), -15 to -1.8 (``hard``, 2 of 40),
#: -9.6 to 1.5 (beam-correlated noise, 11 of 40): none of those switches.
EDGE_EVIDENCE = 3.0


def needs_proxy(profile):
    """Whether ``profile`` is fitted through a parametric proxy."""
    return getattr(profile, "proxy", None) is not None


def proxy_profiles(intensity, velocity):
    """The profiles a kinematic model fits: each profile's proxy, or the profile itself.

    Parameters
    ----------
    intensity, velocity : `~galkin.profiles.DecoderProfile`

    Returns
    -------
    tuple of `~galkin.profiles.DecoderProfile`
    """
    out = []
    for profile in (intensity, velocity):
        if needs_proxy(profile):
            profile = get_profile(profile.proxy, profile.kind)()
        out.append(profile)
    return tuple(out)


def _start(profile, proxy, values):
    """Starting values of ``profile``'s parameters from the proxy's (arrays per name)."""
    if profile is proxy:
        return {n: values[n] for n in profile.parameter_names()}
    return profile.from_proxy(proxy, values)


def _fitted(output):
    """Values and 1-sigma errors of a proxy fit: its refinement's, else the model's own."""
    ref = output.refinement
    if ref is not None:
        return dict(ref.value), {n: ref.error(n) for n in ref.names}
    spread = output.error_samples if output.error_samples is not None else output.samples
    values = {n: float(np.mean(v)) for n, v in output.samples.items()}
    return values, {n: float(np.std(v)) for n, v in spread.items()}


def refine_from_proxy(
    targets, outputs, proxy_space, intensity, velocity, *, ring_start=None, **options
):
    """Refine the wanted profiles of every galaxy from its proxy fit.

    Parameters
    ----------
    targets : list of `~galkin.preprocess.PreparedMaps`
    outputs : list of `~galkin.model.ModelOutput`
        The proxy fits of ``targets``: refined (with a ``refinement``), or the
        model's own estimates (their samples' means and calibrated errors are used).
    proxy_space : `~galkin.parameters.ParameterSpace`
        The proxies' parameter space.
    intensity, velocity : `~galkin.profiles.DecoderProfile`
        The profiles wanted (unconfigured).
    ring_start : `~galkin.ring_start.RingStart`, optional
        Starts the ring speeds on its predicted curves instead of the proxy's.
    **options
        Passed to :func:`galkin.refine.refine` (default ``iterations``:
        `RING_ITERATIONS`).

    Returns
    -------
    outputs : list of `~galkin.model.ModelOutput`
        The new fits: ``samples`` and ``error_samples`` both draws from the
        Laplace posterior (there is no network spread), ``refinement`` the ring fit.
    profiles : list of tuple
        ``(intensity, velocity)`` as configured for each galaxy.
    """
    options.setdefault("iterations", RING_ITERATIONS)
    configured = [(intensity.configure(t), velocity.configure(t)) for t in targets]
    groups = {}
    for j, pair in enumerate(configured):
        groups.setdefault(pair, []).append(j)
    curves = None if ring_start is None else ring_start.predict(list(targets))
    new = [None] * len(targets)
    for (ip, vp), idx in groups.items():
        space = ParameterSpace(ip, vp)
        fits = [_fitted(outputs[j]) for j in idx]
        geometry = ("inclination", "pa_offset") + CENTER_NAMES + (HEIGHT_NAME,)
        geometry = tuple(n for n in geometry if n in fits[0][0])  # model fits: no centre
        values = {n: np.array([f[0][n] for f in fits]) for n in fits[0][0]}
        start = {n: values[n] for n in geometry}
        start.update(_start(ip, proxy_space.intensity, values))
        if curves is None:
            start.update(_start(vp, proxy_space.velocity, values))
        else:
            profile, speeds, predicted = curves
            start.update(vp.from_proxy(profile, {n: v[idx] for n, v in speeds.items()}))
            start.update({n: v[idx] for n, v in predicted.items() if n in geometry})
        prior = {n: np.array([f[1][n] for f in fits]) for n in geometry}
        results = refine([targets[j] for j in idx], start, space, prior_sigma=prior, **options)
        for j, ref in zip(idx, results, strict=True):
            n = max(N_DRAWS, len(outputs[j].samples["inclination"]))
            draws = posterior_draws(ref, space, n)
            samples = {k: draws[k] for k in space.names}
            new[j] = refined_output(ref, samples, draws, outputs[j].history)
    return new, configured


def refit_free_surface_density(targets, outputs, profiles, space, model_outputs=None):
    """Refit, with a ring surface density, the galaxies whose intensity profile failed.

    A galaxy fails when its refined model's ring-averaged moment 0 misses the
    data's (`galkin.quality.profile_mismatch` above
    `~galkin.quality.PROFILE_MISMATCH`); the refit keeps ``space``'s velocity
    profile, starts from a proxy fit with the intensity profile and replaces that
    galaxy's entries of ``outputs`` and ``profiles`` in place, the failure
    recorded in ``output.fallback``.

    The proxy is the model's estimate refined again *without* a moment-0
    pedestal when ``model_outputs`` are given (as for ``intensity="rings"``: a
    pedestal's geometry is no start for gas in rings), else the failed fit.

    Parameters
    ----------
    targets : list of `~galkin.preprocess.PreparedMaps`
    outputs : list of `~galkin.model.ModelOutput`
        Refined fits of ``targets`` with ``space``'s profiles.
    profiles : list of tuple
        ``(intensity, velocity)`` of each fit.
    space : `~galkin.parameters.ParameterSpace`
    model_outputs : list of `~galkin.model.ModelOutput`, optional
        The model's (unrefined) estimates of ``targets``.
    """
    from ..quality import PROFILE_MISMATCH, ring_mismatch
    from .outputs import refine_outputs

    mismatch = [ring_mismatch(t, o.refinement) for t, o in zip(targets, outputs, strict=True)]
    failed = [j for j, m in enumerate(mismatch) if m > PROFILE_MISMATCH]
    if not failed:
        return
    failed_targets = [targets[j] for j in failed]

    def refit():
        if model_outputs is None:
            proxies = [outputs[j] for j in failed]
        else:
            proxies = refine_outputs(
                failed_targets, [model_outputs[j] for j in failed], space, pedestal=False
            )
        free = get_profile("rings", "intensity")()
        return refine_from_proxy(failed_targets, proxies, space, free, space.velocity)

    done = _attempt("a free (rings) surface density", len(failed), space, refit)
    if done is None:
        return
    for j, output, pair in zip(failed, *done, strict=True):
        record = {
            "reason": "profile_mismatch",
            "profile": space.intensity.name,
            "mismatch": mismatch[j],
            "refinement": outputs[j].refinement,
        }
        outputs[j] = dataclasses.replace(output, fallback=record)
        profiles[j] = pair


def _attempt(what, count, space, refit):
    """``refit()``, or None with a warning where it fails (a `GalkinError`, or torch's
    linear-algebra errors): a refit only tries to improve fits that stand on
    their own, and those are then kept, so that no galaxy is lost to it."""
    try:
        return refit()
    except (ValueError, RuntimeError) as exc:
        warnings.warn(
            f"the refit with {what} of {count} galaxies failed ({type(exc).__name__}: {exc}); "
            f"their {space.intensity.name} fits are returned",
            GalkinWarning,
            stacklevel=3,
        )
        return None


def refit_truncated_edge(targets, outputs, profiles, space):
    """Refit, with a sharp outer edge, the galaxies whose gas ends before their profile.

    A refined fit whose moment-0 pedestal is more than three errors below zero
    (`galkin.quality.truncated_edge` without the flag's -1% floor: the surface
    density falls off faster than the profile towards the edge of the data; the
    likelihood ratio below guards the refit, so the trigger can be loose) is
    refitted with the profile's `TRUNCATED_VARIANTS` entry, started from the
    fit (the edge far out, :meth:`~galkin.profiles.DecoderProfile.from_proxy`),
    and the refit replaces it when the maps prefer it strongly: a log-likelihood ratio
    (:func:`likelihood_ratio`) above `EDGE_EVIDENCE` plus half the log of the
    number of independent pixels. The replaced fit is recorded in
    ``output.fallback`` (``"reason": "truncated"``), and ``outputs`` and
    ``profiles`` are changed in place. Galaxies refitted with a free profile
    already, and profiles without a variant, are left alone.

    Parameters are those of :func:`refit_free_surface_density`.
    """
    from ..quality import ring_mismatch, truncated_edge

    variant = TRUNCATED_VARIANTS.get(space.intensity.name)
    if variant is None:
        return
    candidates = [
        j
        for j, (t, o) in enumerate(zip(targets, outputs, strict=True))
        if o.fallback is None and truncated_edge(t, o.refinement, floor=0.0)
    ]
    if not candidates:
        return
    edged = get_profile(variant, "intensity")()
    done = _attempt(
        f"intensity={variant!r}",
        len(candidates),
        space,
        lambda: refine_from_proxy(
            [targets[j] for j in candidates],
            [outputs[j] for j in candidates],
            space,
            edged,
            space.velocity,
        ),
    )
    if done is None:
        return
    for j, output, pair in zip(candidates, *done, strict=True):
        old = outputs[j].refinement
        ratio, independent = likelihood_ratio(targets[j], old, output.refinement)
        if ratio <= EDGE_EVIDENCE + 0.5 * np.log(max(independent, 1.0)):
            continue
        record = {
            "reason": "truncated",
            "profile": space.intensity.name,
            "evidence": ratio,
            "mismatch": ring_mismatch(targets[j], old),
            "refinement": old,
        }
        outputs[j] = dataclasses.replace(output, fallback=record)
        profiles[j] = pair


def likelihood_ratio(prepared, first, second):
    """Log-likelihood ratio of two refined fits of the same maps, ``second`` over ``first``.

    Each map's residuals inside the pixels it was fitted on (moment 0 without
    its centre for parametric profiles, ``Refinement.fitted0``, the same for
    both fits then) are taken as Gaussian with a robust
    scale (1.4826 times their median absolute deviation, so a few outlying pixels
    do not decide) and ``N / A`` independent values, ``N`` mask pixels over the
    first fit's residual correlation area ``A`` (`galkin.refine.Refinement.correlation`):
    the ratio is the sum over both maps of ``(N / A) log(s_first / s_second)``.

    Returns
    -------
    ratio : float
    independent : float
        The number of independent values, both maps together.
    """
    mask = np.asarray(prepared.mask) > 0
    fitted0 = first.moment0_pixels(mask) & second.moment0_pixels(mask)
    ratio, independent = 0.0, 0.0
    maps = ((prepared.moment0, "model0", fitted0), (prepared.moment1, "model1", mask))
    for (data, model, inside), area in zip(maps, first.correlation, strict=True):
        n = float(inside.sum()) / max(float(area), 1.0)
        scales = []
        for ref in (first, second):
            r = (np.asarray(data) - getattr(ref, model))[inside]
            scales.append(1.4826 * np.median(np.abs(r - np.median(r))))
        ratio += n * np.log(max(scales[0], 1e-300) / max(scales[1], 1e-300))
        independent += n
    return float(ratio), independent
