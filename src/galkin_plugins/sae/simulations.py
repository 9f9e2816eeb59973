"""Simulated galaxies for training, calibrating and benchmarking the blind SAE.

Each galaxy goes through exactly the data path a user's cube takes in
:func:`galkin.fit` -- :func:`galkin.simulate_cube` (particles, beam, Eq. 2.2
noise) -> :func:`galkin.fitting.as_maps` (:func:`~galkin.io.cube.maps_from_cube`:
moments and mask, with ``fit``'s defaults or the mask options a user would pass)
-> :func:`galkin.preprocess.prepare` with ``fit``'s defaults (centre, velocity
outliers, position angle, resampling, normalisation; no percentile clipping) --
and its true parameters are converted into the decoder units the network
outputs, using the same :class:`~galkin.preprocess.Scales` that convert
predictions back. Noiseless cubes have no noise to measure: they are masked
with ``mask="clip", noise=peak / 300`` (emission above 1% of the peak).

Labels: inclination and position angle are exact. A disc that is not an
exponential, or a curve that is not an arctan, is labelled by its *equivalent*
exponential and arctan (:mod:`galkin.simulation.equivalent`): ``r_scale`` is half
the mean radius of its gas, ``v_max`` and ``r_turn`` the arctan fitted to the true
curve over the radii that hold gas, weighted by the gas there.

Three parameter distributions are provided:

``"survey"``
    For training: thesis Table 3.2 ranges widened a little (inclination 8-90 deg,
    V_max sin i 40-520 km/s, scale lengths and turnover radii from compact to
    filling the cube), random position angle (estimated, as for real data),
    beam FWHM 1.5-5 pixels, 25% noiseless cubes and S/N 5-50 otherwise,
    dispersion 5-25 km/s, centre offsets up to 2 pixels.
``"thesis"``
    The thesis's synthetic test (Table 3.2): position angle known, noiseless,
    beam 2 pixels (resolution elements).
``"randomised"``
    Domain randomisation towards real data (issue 11): channels 2-30 km/s (at
    most 160 across the line), dispersion 5-40 km/s, scale height 1-40% of
    r_scale, S/N 3-100 (15% noiseless) with white or beam-correlated noise,
    beams 1.5-8 px (half of them elliptical), gas discs truncated to fill 20-100%
    of the map (60%) or not, surface densities with rings, holes, spiral arms and
    clumps, arctan, Courteau, polyex and disc+halo rotation curves (rising, flat,
    peaked-then-declining), and smooth or clip masks at 3-5 sigma.
"""

import sys

import numpy as np
from astropy import units as u

from galkin.exceptions import GalkinError
from galkin.position_angle import angle_difference

__all__ = [
    "CONDITIONS",
    "draw_parameters",
    "simulate_prepared",
    "simulate_set",
    "as_batch",
    "truth_columns",
    "TRUTH_NAMES",
]

CONDITIONS = ("survey", "thesis", "randomised")
#: Decoder-unit truths recorded per galaxy (exponential disc + arctan curve).
TRUTH_NAMES = ("inclination", "r_scale", "v_max", "r_turn", "pa_offset")
_SIZE = 64  # pixels of the simulated cubes (1 arcsec each)


def draw_parameters(rng, conditions="survey"):
    """Random simulation parameters (plain floats, arcsec and km/s, or profile objects).

    Parameters
    ----------
    rng : `numpy.random.Generator`
    conditions : {"survey", "thesis", "randomised"}
    """
    if conditions not in CONDITIONS:
        raise GalkinError(f"conditions must be one of {CONDITIONS}; got {conditions!r}.")
    if conditions == "randomised":
        return _draw_randomised(rng)
    thesis = conditions == "thesis"
    inc = rng.uniform(10.0, 90.0) if thesis else rng.uniform(8.0, 90.0)
    vsini = rng.uniform(50.0, 500.0) if thesis else rng.uniform(40.0, 520.0)
    return dict(
        inclination=inc,
        position_angle=0.0 if thesis else rng.uniform(0.0, 360.0),
        v_max=vsini / np.sin(np.radians(inc)),
        # a 64" cube: the field the preprocessing picks is roughly 60-90"
        r_scale=rng.uniform(6.0, 23.0) if thesis else rng.uniform(3.0, 22.0),
        r_turn=rng.uniform(0.6, 52.0) if thesis else rng.uniform(0.5, 55.0),
        beam=2.0 if thesis else rng.uniform(1.5, 5.0),
        snr=None
        if thesis or rng.uniform() < 0.25
        else float(np.exp(rng.uniform(*np.log([5, 50])))),
        dispersion=10.0 if thesis else rng.uniform(5.0, 25.0),
        center_offset=(0.0, 0.0) if thesis else tuple(rng.uniform(-2.0, 2.0, 2)),
        systemic_velocity=rng.uniform(-300.0, 3000.0),
        pa_known=thesis,
    )


def _log_uniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _draw_surface_density(rng, r_scale):
    from galkin.simulation import surface_density as sd

    base = rng.choice(["exponential", "ring", "hole"], p=[0.55, 0.15, 0.30])
    if base == "ring":
        disc = 0.0 if rng.uniform() < 0.5 else rng.uniform(0.0, 0.5)
        density = sd.Ring(
            radius=rng.uniform(1.0, 3.0) * r_scale * u.arcsec,
            width=rng.uniform(0.15, 0.5) * r_scale * u.arcsec,
            disc=disc,
        )
    elif base == "hole":
        density = sd.Hole(radius=rng.uniform(0.3, 1.5) * r_scale * u.arcsec)
    else:
        density = sd.Exponential()
    if rng.uniform() < 0.3:
        density = sd.Spiral(
            density,
            arms=int(rng.choice([1, 2, 2, 3, 4])),
            pitch=rng.uniform(10.0, 40.0) * u.deg,
            amplitude=rng.uniform(0.2, 0.9),
            phase=rng.uniform(0.0, 360.0) * u.deg,
        )
    if rng.uniform() < 0.3:
        density = sd.Clumpy(
            density,
            clumps=int(rng.integers(5, 61)),
            fraction=rng.uniform(0.1, 0.6),
            size=rng.uniform(0.05, 0.4) * r_scale * u.arcsec,
        )
    return density


def _draw_rotation_curve(rng):
    from galkin.simulation import rotation_curves as rc

    kind = rng.choice(["arctan", "courteau", "polyex", "disc_halo"], p=[0.3, 0.25, 0.25, 0.2])
    if kind == "courteau":
        return rc.Courteau(beta=rng.uniform(-0.3, 0.5), gamma=rng.uniform(1.0, 6.0))
    if kind == "polyex":
        return rc.Polyex(alpha=rng.uniform(-0.04, 0.1))
    if kind == "disc_halo":
        return rc.DiscHalo(disc_fraction=rng.uniform(0.0, 1.0))
    return rc.Arctan()


def _draw_randomised(rng):
    """The ``"randomised"`` conditions (see the module notes)."""
    inc = rng.uniform(8.0, 90.0)
    vsini = rng.uniform(40.0, 520.0)
    outer = rng.uniform(0.1, 0.5) * _SIZE if rng.uniform() < 0.6 else None  # gas edge, arcsec
    r_scale = outer * _log_uniform(rng, 0.15, 0.8) if outer else rng.uniform(3.0, 22.0)
    extent = outer if outer else min(4.0 * r_scale, _SIZE / 2)
    dispersion = rng.uniform(5.0, 40.0)
    # channels: 2-30 km/s, but at most 160 across the line (bounds the cost of a cube)
    line = 2.0 * (1.1 * vsini + 4.0 * dispersion)
    channel = max(_log_uniform(rng, 2.0, 30.0), line / 160.0)
    major = _log_uniform(rng, 1.5, 8.0)
    minor = major if rng.uniform() < 0.5 else major * rng.uniform(0.5, 1.0)
    noiseless = rng.uniform() < 0.15
    snr = None if noiseless else _log_uniform(rng, 3.0, 100.0)
    mask, clip_sigma = "smooth", None  # galkin.fit's defaults ...
    u_mask = rng.uniform()
    if u_mask < 0.25:  # ... or a threshold / method a user might choose
        clip_sigma = rng.uniform(3.0, 5.0)
    elif u_mask < 0.5:
        mask, clip_sigma = "clip", rng.uniform(3.0, 5.0)
    return dict(
        inclination=inc,
        position_angle=rng.uniform(0.0, 360.0),
        v_max=vsini / np.sin(np.radians(inc)),
        r_scale=r_scale,
        r_turn=extent * _log_uniform(rng, 0.03, 1.5),
        beam=(major, minor, rng.uniform(0.0, 180.0)),
        snr=snr,
        correlated_noise=bool(rng.uniform() < 0.5),
        dispersion=dispersion,
        scale_height=r_scale * rng.uniform(0.01, 0.4),
        channel_width=channel,
        surface_density=_draw_surface_density(rng, r_scale),
        rotation_curve=_draw_rotation_curve(rng),
        outer_radius=outer,
        mask=mask,
        clip_sigma=clip_sigma,
        center_offset=tuple(rng.uniform(-3.0, 3.0, 2)),
        systemic_velocity=rng.uniform(-300.0, 3000.0),
        pa_known=False,
    )


def _cube_options(params):
    """Keyword arguments of `galkin.simulate_cube` beyond the survey/thesis ones."""
    beam = params["beam"]
    if np.ndim(beam):
        from radio_beam import Beam

        major, minor, angle = beam
        beam = Beam(major=major * u.arcsec, minor=minor * u.arcsec, pa=angle * u.deg)
    else:
        beam = beam * u.arcsec
    options = dict(beam=beam)
    if "surface_density" in params:
        edge = params["outer_radius"]
        options.update(
            correlated_noise=params["correlated_noise"],
            scale_height=params["scale_height"] * u.arcsec,
            channel_width=params["channel_width"] * u.km / u.s,
            surface_density=params["surface_density"],
            rotation_curve=params["rotation_curve"],
            outer_radius=None if edge is None else edge * u.arcsec,
        )
    return options


def simulate_prepared(params, *, seed, n_particles=200_000):
    """Simulate one galaxy and prepare it as `galkin.fit` prepares a user's cube.

    Returns
    -------
    prepared : `~galkin.preprocess.PreparedMaps`
    truth : dict
        Decoder-unit truths (:data:`TRUTH_NAMES`; equivalent exponential/arctan
        values for other profiles) plus ``beam_fwhm_field`` (the beam's major-axis
        FWHM in field units) for the thesis's resolution cut.
    """
    from galkin.fitting import as_maps
    from galkin.preprocess import prepare
    from galkin.simulation.simulate import simulate_cube

    c = (_SIZE - 1) / 2.0
    dx, dy = params["center_offset"]
    cube = simulate_cube(
        inclination=params["inclination"] * u.deg,
        position_angle=params["position_angle"] * u.deg,
        v_max=params["v_max"] * u.km / u.s,
        r_turn=params["r_turn"] * u.arcsec,
        r_scale=params["r_scale"] * u.arcsec,
        shape=(_SIZE, _SIZE),
        snr=params["snr"],
        dispersion=params["dispersion"] * u.km / u.s,
        systemic_velocity=params["systemic_velocity"] * u.km / u.s,
        center=(c + dx, c + dy),
        seed=seed,
        n_particles=n_particles,
        **_cube_options(params),
    )
    if params["snr"] is None:  # noiseless: keep voxels above 1% of the peak
        peak = np.nanmax(cube.unmasked_data[:].value)
        maps = as_maps(cube, mask="clip", noise=peak / 300 * cube.unit)
    else:  # galkin.fit's defaults, or the mask options drawn for this galaxy
        maps = as_maps(cube, mask=params.get("mask", "smooth"), clip_sigma=params.get("clip_sigma"))
    pa = params["position_angle"] * u.deg if params["pa_known"] else None
    prepared = prepare(maps, position_angle=pa)  # galkin.fit's defaults otherwise
    s = prepared.scales
    inc = np.radians(params["inclination"])
    eq = cube.meta["galkin_truth"]["equivalent"]
    beam = params["beam"][0] if np.ndim(params["beam"]) else params["beam"]
    truth = dict(
        inclination=inc,
        r_scale=eq["r_scale"].to_value(u.arcsec) / s.field,
        v_max=eq["v_max"].to_value(u.km / u.s) * np.sin(inc) / s.velocity,
        r_turn=eq["r_turn"].to_value(u.arcsec) / s.field,
        pa_offset=np.radians(angle_difference(params["position_angle"], s.position_angle)),
        beam_fwhm_field=beam / s.field,
    )
    return prepared, truth


def _one(args):
    index, seed, conditions, dtype, n_particles = args
    rng = np.random.default_rng([seed, index])
    params = draw_parameters(rng, conditions)
    try:
        prepared, truth = simulate_prepared(
            params, seed=int(rng.integers(2**31)), n_particles=n_particles
        )
    except GalkinError:  # too few valid pixels, no rotation left in the mask...
        return None
    except Exception as exc:  # noqa: BLE001 -- one odd galaxy must not end a long run
        print(f"galaxy {index} of set {seed} ({conditions}) failed: {exc!r}", file=sys.stderr)
        return None
    beam = prepared.scales.beam
    return dict(
        m0=prepared.moment0.astype(dtype),
        m1=prepared.moment1.astype(dtype),
        mask=prepared.mask.astype(bool),
        beam=np.asarray(beam, dtype=np.float32),
        truth=np.array([truth[k] for k in TRUTH_NAMES], dtype=np.float64),
        beam_fwhm_field=truth["beam_fwhm_field"],
        snr=np.nan if params["snr"] is None else params["snr"],
        velocity_scale=prepared.scales.velocity,
        index=index,
    )


def simulate_set(
    n, *, seed, conditions="survey", workers=1, start=0, dtype=np.float16, n_particles=200_000
):
    """Simulate galaxies ``start`` to ``start + n - 1`` of a reproducible set.

    Galaxy ``k`` depends only on ``(seed, k)``, so sets can be built in shards
    and in parallel. Galaxies whose maps cannot be prepared (too few valid
    pixels) are skipped. Maps are stored as ``dtype`` (float16 halves the memory
    of training sets). ``n_particles`` sets the simulator's particle count: its
    shot noise is a noise floor even in "noiseless" cubes (the default 200,000
    keeps training sets cheap; `galkin.simulate_cube` itself uses 1,000,000).

    Returns
    -------
    dict of `numpy.ndarray`
        ``m0``, ``m1`` (``dtype``), ``mask`` (bool), ``beam`` (N, 3), ``truth``
        (N, 5) in :data:`TRUTH_NAMES` order, ``beam_fwhm_field``, ``snr`` (NaN for
        noiseless), ``velocity_scale`` (km/s per normalised unit), ``index``.
    """
    jobs = [(k, seed, conditions, dtype, n_particles) for k in range(start, start + n)]
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            rows = pool.map(_one, jobs, chunksize=16)
    else:
        rows = [_one(j) for j in jobs]
    rows = [r for r in rows if r is not None]
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def as_batch(data, n=None):
    """The network inputs of a :func:`simulate_set` set (its first ``n`` galaxies) as a batch."""
    import torch

    from .training import MapBatch

    return MapBatch(
        m0=torch.tensor(data["m0"][:n].astype(np.float32)),
        m1=torch.tensor(data["m1"][:n].astype(np.float32)),
        mask=torch.tensor(data["mask"][:n].astype(np.float32)),
        beams=torch.tensor(data["beam"][:n], dtype=torch.float32),
    )


def truth_columns(data, names):
    """``(N, len(names))`` decoder-unit truths of a :func:`simulate_set` set, in ``names`` order."""
    return np.stack([data["truth"][:, TRUTH_NAMES.index(k)] for k in names], 1)
