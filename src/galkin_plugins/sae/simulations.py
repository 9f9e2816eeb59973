"""Simulated galaxies for training, calibrating and benchmarking the blind SAE.

Each galaxy goes through exactly the data path a user's cube does --
:func:`galkin.simulate_cube` (particles, beam, Eq. 2.2 noise) ->
:func:`galkin.io.cube.maps_from_cube` (moments and mask) -> :func:`galkin.preprocess.prepare`
(centre, position angle, resampling, normalisation) -- and its true parameters
are converted into the decoder units the network outputs, using the same
:class:`~galkin.preprocess.Scales` that convert predictions back.

Two parameter distributions are provided:

``"survey"``
    For training: thesis Table 3.2 ranges widened a little (inclination 8-90 deg,
    V_max sin i 40-520 km/s, scale lengths and turnover radii from compact to
    filling the cube), random position angle (estimated, as for real data),
    beam FWHM 1.5-5 pixels, 25% noiseless cubes and S/N 5-50 otherwise,
    dispersion 5-25 km/s, centre offsets up to 2 pixels.
``"thesis"``
    The thesis's synthetic test (Table 3.2): position angle known, noiseless,
    beam 2 pixels (resolution elements).
"""

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

CONDITIONS = ("survey", "thesis")
#: Decoder-unit truths recorded per galaxy (exponential disc + arctan curve).
TRUTH_NAMES = ("inclination", "r_scale", "v_max", "r_turn", "pa_offset")
_SIZE = 64  # pixels of the simulated cubes (1 arcsec each)


def draw_parameters(rng, conditions="survey"):
    """Random simulation parameters (plain floats, arcsec and km/s).

    Parameters
    ----------
    rng : `numpy.random.Generator`
    conditions : {"survey", "thesis"}
    """
    if conditions not in CONDITIONS:
        raise GalkinError(f"conditions must be one of {CONDITIONS}; got {conditions!r}.")
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


def simulate_prepared(params, *, seed, n_particles=200_000):
    """Simulate, take moments and prepare one galaxy.

    Returns
    -------
    prepared : `~galkin.preprocess.PreparedMaps`
    truth : dict
        Decoder-unit truths (:data:`TRUTH_NAMES`) plus ``beam_fwhm_field`` (beam FWHM
        in field units) for the thesis's resolution cut.
    """
    from galkin.io.cube import maps_from_cube
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
        beam=params["beam"] * u.arcsec,
        snr=params["snr"],
        dispersion=params["dispersion"] * u.km / u.s,
        systemic_velocity=params["systemic_velocity"] * u.km / u.s,
        center=(c + dx, c + dy),
        seed=seed,
        n_particles=n_particles,
    )
    if params["snr"] is None:  # noiseless: keep voxels above 1% of the peak
        peak = np.nanmax(cube.unmasked_data[:].value)
        maps = maps_from_cube(cube, mask="clip", noise=peak / 300 * cube.unit)
    else:
        maps = maps_from_cube(cube)
    pa = params["position_angle"] * u.deg if params["pa_known"] else None
    prepared = prepare(
        maps,
        position_angle=pa,
        clip_percentile=96 if params["snr"] is not None else None,
    )
    s = prepared.scales
    inc = np.radians(params["inclination"])
    truth = dict(
        inclination=inc,
        r_scale=params["r_scale"] / s.field,
        v_max=params["v_max"] * np.sin(inc) / s.velocity,
        r_turn=params["r_turn"] / s.field,
        pa_offset=np.radians(angle_difference(params["position_angle"], s.position_angle)),
        beam_fwhm_field=params["beam"] / s.field,
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
    except GalkinError:
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
