"""`galkin.fit`: one galaxy in, a `FitResult` out.

The data path, top to bottom: input (cube, maps, or file) -> `KinematicMaps`
(:mod:`galkin.io.cube`) -> normalised network maps (:mod:`galkin.preprocess`) ->
a registered kinematic model (the SAE by default) with registered profiles ->
`FitResult` (:mod:`galkin.result`).
"""

import inspect
import time
from pathlib import Path

import numpy as np
from astropy import units as u

from .exceptions import GalkinError
from .io.maps import KinematicMaps
from .plugins import get_model, get_profile
from .preprocess import DEFAULT_SIZE, prepare
from .quality import warn_about

__all__ = ["fit", "as_maps", "prepare_maps", "fit_prepared"]


def as_maps(
    data,
    *,
    beam=None,
    rest_frequency=None,
    region=None,
    mask="smooth",
    noise=None,
    clip_sigma=None,
):
    """Turn a cube, `KinematicMaps` or FITS cube path into `KinematicMaps`.

    Parameters
    ----------
    data : `~spectral_cube.SpectralCube`, `KinematicMaps`, str or `pathlib.Path`
    beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
        Supplies (or overrides) the beam.
    rest_frequency : `~astropy.units.Quantity`, optional
        For frequency or wavelength cubes without RESTFRQ.
    region : `regions.PixelRegion` or `regions.SkyRegion`, optional
        Restrict the fit to this region.
    mask : {"smooth", "clip", "none"}, optional
        Cube masking method (see :func:`galkin.io.cube.maps_from_cube`).
    noise : `~astropy.units.Quantity`, optional
        Noise rms per channel of a cube, in its brightness unit (default: measured).
    clip_sigma : float, optional
        Mask threshold in units of the rms (default 4 smooth, 3 clip).
    """
    if isinstance(data, (str, Path)):
        from .io.loading import identify, load

        path = Path(data)
        if not path.exists():
            raise GalkinError(f"data file {str(path)!r} does not exist.")
        adapter = identify(path)
        if adapter is not None:  # a survey adapter knows this file
            options = dict(
                beam=beam,
                rest_frequency=rest_frequency,
                region=region,
                noise=noise,
                clip_sigma=clip_sigma,
                mask=None if mask == "smooth" else mask,  # the cube readers' default
            )
            return load(
                path, adapter=adapter, **{k: v for k, v in options.items() if v is not None}
            )
        else:  # any other FITS cube: read directly (spectral-cube for what that cannot)
            from .io.files import data_ndim
            from .io.fitscube import maps_from_fits

            if data_ndim(path) == 2:
                raise GalkinError(
                    f"{str(path)!r} holds a 2-D image, not a cube. galkin.fit needs moment 0 "
                    "and moment 1 together: pass a cube, a survey's files, or "
                    "KinematicMaps(moment0, moment1, ...); a velocity map alone can be "
                    "classified with galkin.classify."
                )
            try:
                return maps_from_fits(
                    path,
                    rest_frequency=rest_frequency,
                    beam=beam,
                    region=region,
                    mask=mask,
                    noise=noise,
                    clip_sigma=clip_sigma,
                )
            except GalkinError:
                raise
            except Exception as exc:
                raise GalkinError(
                    f"{str(path)!r} is not a cube galkin can read: no survey adapter knows it "
                    f"and spectral-cube failed ({type(exc).__name__}: {exc}). Check that it is "
                    "a FITS cube (not truncated, not an HTML error page), or load it yourself "
                    "and pass the SpectralCube or KinematicMaps."
                ) from exc
    from .io.cube import is_cube  # spectral-cube: imported only for cube objects

    if is_cube(data):
        from .io.cube import maps_from_cube

        return maps_from_cube(
            data,
            rest_frequency=rest_frequency,
            beam=beam,
            region=region,
            mask=mask,
            noise=noise,
            clip_sigma=clip_sigma,
        )
    for name, value in (("noise", noise), ("clip_sigma", clip_sigma)):
        if value is not None:
            raise GalkinError(
                f"{name}= sets how moment maps are made from a cube, but the data are "
                f"{type(data).__name__}, already maps: drop {name}=."
            )
    if isinstance(data, KinematicMaps):
        maps = data if beam is None else data.replace(beam=beam)
        return maps if region is None else maps.restrict(region)
    ndim = np.ndim(data)
    kind = type(data).__name__
    if isinstance(data, np.ndarray) and not isinstance(data, u.Quantity):
        hint = "it has no units"
    elif ndim in (2, 3):
        hint = "a bare array carries no WCS, beam or spectral axis"
    else:
        hint = f"it has {ndim} dimensions; galkin fits 2-D moment maps or 3-D cubes"
    raise GalkinError(
        f"data must be a spectral_cube.SpectralCube, a galkin.KinematicMaps or a FITS file path; "
        f"got {kind} ({hint}). For moment maps use galkin.KinematicMaps(moment0=m0 * u.Jy, "
        "moment1=m1 * u.km / u.s, pixel_scale=0.5 * u.arcsec, beam=...); for a cube use "
        "SpectralCube.read(path)."
    )


def prepare_maps(
    data,
    *,
    beam=None,
    beam_smearing=True,
    rest_frequency=None,
    region=None,
    mask="smooth",
    noise=None,
    clip_sigma=None,
    center=None,
    position_angle=None,
    systemic_velocity=None,
    pa_estimator="symmetry",
    clip_percentile=None,
    size=DEFAULT_SIZE,
):
    """The first step of a fit: one galaxy in, its network maps out (CPU only).

    Reads the input (:func:`as_maps`), checks the beam, and prepares the maps for
    the network (:func:`galkin.preprocess.prepare`).  The result pickles, so
    :func:`galkin.fit_many` runs this step in a pool of processes.  The arguments
    are those of :func:`fit`.

    Returns
    -------
    `~galkin.preprocess.PreparedMaps`
    """
    maps = as_maps(
        data,
        beam=beam,
        rest_frequency=rest_frequency,
        region=region,
        mask=mask,
        noise=noise,
        clip_sigma=clip_sigma,
    )
    if beam_smearing and maps.beam is None:
        raise GalkinError(
            f"{maps.name!r} has no beam information (no BMAJ/BMIN in the header), and the fit "
            "models beam smearing. Pass the restoring beam, e.g. "
            "galkin.fit(data, beam=Beam(major=13*u.arcsec, minor=11*u.arcsec, pa=0*u.deg)) or "
            "beam=12*u.arcsec for a circular beam, or fit without it with beam_smearing=False."
        )
    if not beam_smearing:
        maps = maps.replace(beam=None)
    return prepare(
        maps,
        center=center,
        position_angle=position_angle,
        systemic_velocity=systemic_velocity,
        size=size,
        clip_percentile=clip_percentile,
        pa_estimator=pa_estimator,
    )


def _profile(value, kind):
    """A profile instance from a registered name, or the instance given."""
    from .profiles import DecoderProfile

    if isinstance(value, DecoderProfile):
        if value.kind != kind:
            raise GalkinError(
                f"{kind}= needs {kind} profile; got the {value.kind} profile {value.name!r}."
            )
        return value
    return get_profile(value, kind)()


def fit_prepared(
    targets,
    *,
    mode="blind",
    model="sae",
    intensity="exponential",
    velocity="arctan",
    others=(),
    refine=True,
    mc_samples=100,
    device=None,
    seed=None,
    config=None,
    start=None,
    weights=None,
    ring_start="proxy",
    intensity_fallback=True,
    runtimes=None,
):
    """The second step of a fit: the model on prepared galaxies, one `FitResult` each.

    In blind mode the galaxies are one batch through the network, which is
    how :func:`galkin.fit_many` fits a survey; in solo and combined modes the
    model trains on all of ``targets`` together (so a solo fit takes one).
    With ``refine`` the model's estimates are then refined together, one batch
    (:mod:`galkin.refine`). The arguments are those of :func:`fit`; unlike it,
    this function does not warn about quality flags (they are in each result).

    Parameters
    ----------
    targets : list of `~galkin.preprocess.PreparedMaps`
        From :func:`prepare_maps`.
    others : list of `~galkin.preprocess.PreparedMaps`, optional
        Extra training galaxies (combined mode).
    runtimes : list of float, optional
        Seconds already spent on each target (its :func:`prepare_maps`); the
        model's time is shared out equally and added.

    Returns
    -------
    list of FitResult
        In the order of ``targets``.
    """
    from .result import FitResult

    t0 = time.perf_counter()
    from .refine.proxy import (
        proxy_profiles,
        refine_from_proxy,
        refit_free_surface_density,
        refit_truncated_edge,
    )
    from .refine.restart import restart_at_pa_bound
    from .ring_start import ring_start_estimator

    intensity_profile = _profile(intensity, "intensity")
    velocity_profile = _profile(velocity, "velocity")
    # ring profiles are fitted by the refinement, started from a parametric proxy
    fit_intensity, fit_velocity = proxy_profiles(intensity_profile, velocity_profile)
    proxied = (fit_intensity, fit_velocity) != (intensity_profile, velocity_profile)
    if proxied and not refine:
        raise GalkinError(
            f"intensity={intensity!r}, velocity={velocity!r}: ring profiles are fitted by the "
            "refinement (the model only starts them); drop refine=False."
        )
    estimator = ring_start_estimator(ring_start, proxied and velocity_profile is not fit_velocity)
    model_cls = get_model(model)
    if mode not in model_cls.modes:
        raise GalkinError(
            f"mode={mode!r} is not supported by model {model!r}; choose from {model_cls.modes}."
        )
    if mode == "combined" and not others:
        raise GalkinError("mode='combined' needs other galaxies: pass others=[...].")
    targets = list(targets)
    kin_model = model_cls(fit_intensity, fit_velocity, device=device)
    model_options = {k: v for k, v in dict(start=start, weights=weights).items() if v is not None}
    if refine and estimator is None and "maps" in inspect.signature(kin_model.fit).parameters:
        model_options["maps"] = False  # the refinement replaces the model's maps and loss

    def run_model(prepared):
        return kin_model.fit(
            prepared,
            mode=mode,
            others=list(others),
            mc_samples=mc_samples,
            seed=seed,
            config=config,
            **model_options,
        )

    outputs = run_model(targets)
    if refine:
        from .parameters import ParameterSpace
        from .refine import refine_outputs

        space = ParameterSpace(fit_intensity, fit_velocity)
        model_outputs = outputs
        if estimator is None:  # an amortised ring start skips the proxy's refinement
            # a ring surface density starts from a proxy fitted without a pedestal:
            # the pedestal's geometry is no start for gas in rings (KinMS rings
            # set: curve 1.95% and 0.47 deg from it, 0.97% and 0.09 deg without)
            pedestal = False if intensity_profile is not fit_intensity else None
            outputs = refine_outputs(targets, outputs, space, pedestal=pedestal)

            def fit_again(prepared):
                first = run_model(prepared)
                return first, refine_outputs(prepared, first, space, pedestal=pedestal)

            model_outputs = list(model_outputs)
            restart_at_pa_bound(targets, outputs, model_outputs, fit_again)
    profiles = [(fit_intensity, fit_velocity)] * len(targets)
    if proxied:
        outputs, profiles = refine_from_proxy(
            targets, outputs, space, intensity_profile, velocity_profile, ring_start=estimator
        )
    elif refine and intensity_fallback:
        refit_free_surface_density(targets, outputs, profiles, space, model_outputs)
        refit_truncated_edge(targets, outputs, profiles, space)
    share = (time.perf_counter() - t0) / len(targets)
    runtimes = [0.0] * len(targets) if runtimes is None else runtimes
    return [
        FitResult(
            prepared=target,
            output=output,
            intensity=ip,
            velocity=vp,
            model=model,
            mode=mode,
            runtime=spent + share,
        )
        for target, output, spent, (ip, vp) in zip(
            targets, outputs, runtimes, profiles, strict=True
        )
    ]


def fit(
    data,
    *,
    mode="blind",
    model="sae",
    intensity="exponential",
    velocity="arctan",
    beam=None,
    beam_smearing=True,
    rest_frequency=None,
    region=None,
    mask="smooth",
    noise=None,
    clip_sigma=None,
    center=None,
    position_angle=None,
    systemic_velocity=None,
    pa_estimator="symmetry",
    clip_percentile=None,
    others=(),
    refine=True,
    mc_samples=100,
    size=DEFAULT_SIZE,
    device=None,
    seed=None,
    config=None,
    start=None,
    weights=None,
    ring_start="proxy",
    intensity_fallback=True,
):
    """Fit a rotating-disc model to one galaxy.

    Parameters
    ----------
    data : `~spectral_cube.SpectralCube`, `KinematicMaps`, str or `pathlib.Path`
        The galaxy: a cube (any spectral axis), moment maps, or a FITS cube path.
    mode : {"blind", "solo", "combined"}, optional
        ``"blind"`` (default) predicts with galkin's pretrained network in
        milliseconds, with calibrated errors; ``"solo"`` trains the model on this
        galaxy alone; ``"combined"`` trains on this galaxy plus ``others``.
    model : str, optional
        Registered kinematic model (see `galkin.list_models`).
    intensity, velocity : str or `~galkin.profiles.DecoderProfile`, optional
        Registered profiles (see `galkin.list_profiles`), or profile instances
        with options, e.g. ``velocity=RingsVelocityProfile(spacing=20 * u.arcsec)``
        (`galkin_plugins.profiles.rings`; see :ref:`rotation-curves`).
    beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
        Supplies or overrides the restoring beam (FWHM Quantity = circular beam).
    beam_smearing : bool, optional
        Convolve the model with the beam (default). A beam is then required.
    rest_frequency : `~astropy.units.Quantity`, optional
        For frequency/wavelength cubes without RESTFRQ.
    region : `regions.PixelRegion` or `regions.SkyRegion`, optional
        Fit only inside this region.
    mask : {"smooth", "clip", "none"}, optional
        Cube masking method.
    noise : `~astropy.units.Quantity`, optional
        Noise rms per channel of a cube, in its brightness unit (default: measured
        in line-free channels).
    clip_sigma : float, optional
        Cube mask threshold in units of the rms (default 4 smooth, 3 clip).
    center : tuple of float, optional
        ``(x, y)`` pixel centre; default from the maps or the moment-0 centroid.
    position_angle : `~astropy.units.Quantity`, optional
        Initial position angle (east of north, receding side); estimated if omitted.
        The model refines it by up to +-15 deg.
    systemic_velocity : `~astropy.units.Quantity`, optional
    pa_estimator : str, optional
        Registered position-angle estimator (``"symmetry"`` fast, ``"pafit"`` reference).
    clip_percentile : float, optional
        Clip noisy moment-1 maps at this percentile (thesis: 96).
    others : sequence, optional
        Extra galaxies (same kinds as ``data``) for combined mode.
    refine : bool, optional
        Refine the model's estimate by fitting the decoder to the galaxy's own
        maps (:mod:`galkin.refine`; default). ``False`` keeps the network-only
        answer.
    mc_samples : int, optional
        Monte-Carlo dropout samples.
    size : int, optional
        Network map size (64).
    device : str, optional
        torch device; default CUDA when available, else CPU.
    seed : int, optional
        Makes training reproducible.
    config : optional
        Model-specific training configuration.
    start : {"blind", "scratch"}, optional
        Solo/combined training starts from the pretrained blind weights or from a
        new network (default: ``"blind"`` for combined mode when pretrained weights
        exist for the profiles, else ``"scratch"``).
    weights : str or `pathlib.Path`, optional
        A blind-weights file other than the shipped one
        (from ``scripts/train_sae_blind.py``).
    ring_start : str or `~galkin.ring_start.RingStart`, optional
        Where the ring speeds of a ``velocity="rings"`` fit start: ``"proxy"``
        (default) on the arctan the refinement fits first; ``"amortised"`` on
        the curve the amortised ring network predicts in milliseconds (the
        proxy's refinement is then skipped; see :ref:`rotation-curves`); or
        another registered estimator (`galkin.plugins.list_ring_starts`).
    intensity_fallback : bool, optional
        When the refined fit's intensity profile does not follow the galaxy's
        radial surface density (`galkin.quality.profile_mismatch` above
        `galkin.quality.PROFILE_MISMATCH`: a central hole, a ring, a flat HI
        disc), refit with a free ring surface density (``intensity="rings"``),
        which the beam-smeared velocity field and so the inclination depend on
        (default). The result then has the ring profile; ``flag_profile_mismatch``
        stays set and the warning says so. Likewise a fit flagged ``truncated``
        (gas that ends at a sharp edge) is refitted with
        ``intensity="truncated_exponential"``, and the refit returned when the
        maps prefer it by a likelihood-ratio test
        (`galkin.refine.proxy.refit_truncated_edge`). ``False`` keeps the first fit.

    Returns
    -------
    FitResult

    Warns
    -----
    galkin.quality.FitQualityWarning
        When the fit ends at a parameter bound, extrapolates the rotation speed
        beyond the data, or leaves large residuals (see its ``flag_*`` columns).
    """
    t0 = time.perf_counter()
    options = dict(
        rest_frequency=rest_frequency,
        mask=mask,
        noise=noise,
        clip_sigma=clip_sigma,
        pa_estimator=pa_estimator,
        clip_percentile=clip_percentile,
        size=size,
    )
    target = prepare_maps(
        data,
        beam=beam,
        beam_smearing=beam_smearing,
        region=region,
        center=center,
        position_angle=position_angle,
        systemic_velocity=systemic_velocity,
        **options,
    )
    extra = [
        prepare(
            as_maps(o, rest_frequency=rest_frequency, mask=mask),
            size=size,
            clip_percentile=clip_percentile,
            pa_estimator=pa_estimator,
        )
        for o in others
    ]
    result = fit_prepared(
        [target],
        mode=mode,
        model=model,
        intensity=intensity,
        velocity=velocity,
        others=extra,
        refine=refine,
        mc_samples=mc_samples,
        device=device,
        seed=seed,
        config=config,
        start=start,
        weights=weights,
        ring_start=ring_start,
        intensity_fallback=intensity_fallback,
        runtimes=[time.perf_counter() - t0],
    )[0]
    warn_about(result)
    return result
