"""Simulating the mock galaxies and writing them as MaNGA and SAMI files.

The physics (why the gas rotates below the injected circular speed) and the
observing set-up are described in :mod:`galkin_plugins.mock_survey`.
"""

import dataclasses
import time
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import QTable
from scipy import ndimage

import galkin
from galkin.exceptions import GalkinError
from galkin.geometry import disc_radius
from galkin.units import KM_S

from ..surveys.writers import (
    MANGA_FLUX_UNIT,
    NOCOV_MASK,
    SAMI_FLUX_UNIT,
    manga_maps_name,
    write_manga_maps,
    write_sami_maps,
)
from .population import THESIS_TFR, InjectedTFR, draw_population

__all__ = ["MockSurvey", "make_mock_survey"]

_PIXEL = 0.5  # arcsec, both surveys
_INST_SAMI = 29.0  # km/s, SAMI red arm (R ~ 4300)
_LSF_FACTOR = 1.045
_DRIFT_CAP = 0.5  # the drift term is at most half of V_c^2
_FLAT_CHANNEL = 1e5  # km/s: one channel holding every particle


def _in_bundle(x, y, radius, survey):
    """Spaxels inside the fibre bundle: a hexagon (MaNGA) or a circle (SAMI), arcsec."""
    if survey == "sami":
        return np.hypot(x, y) <= radius
    ax, ay = np.abs(x), np.abs(y)
    return (ay <= np.sqrt(3) / 2 * radius) & (np.sqrt(3) * ax + ay <= np.sqrt(3) * radius)


def _simulate(row, v_max, dispersion, *, seed, n_particles, flat=False):
    """The galaxy's cube (or, ``flat``, its one-channel flux image)."""
    side = int(row["shape"])
    center = (side - 1) / 2 + row["center_offset"]
    extra = {"n_channels": 1, "channel_width": _FLAT_CHANNEL * KM_S} if flat else {}
    return galkin.simulate_cube(
        inclination=row["inclination"],
        position_angle=row["position_angle"],
        v_max=v_max,
        r_turn=row["r_turn"],
        r_scale=row["r_scale"],
        shape=(side, side),
        pixel_scale=_PIXEL * u.arcsec,
        beam=row["psf_fwhm"],
        dispersion=dispersion,
        scale_height=0.15 * row["r_scale"],
        center=tuple(center),
        seed=seed,
        n_particles=n_particles,
        **extra,
    )


def _observe(row, rng, n_particles):
    """Simulate one galaxy; return its noisy maps, errors and truths (floats)."""
    from galkin.io.cube import maps_from_cube

    seed = int(rng.integers(2**31))
    side = int(row["shape"])
    cx, cy = (side - 1) / 2 + row["center_offset"]
    inc = row["inclination"].to_value(u.deg)
    pa = row["position_angle"].to_value(u.deg)
    yy, xx = np.mgrid[:side, :side].astype(float)
    east, north = -(xx - cx) * _PIXEL, (yy - cy) * _PIXEL
    radius = disc_radius(east, north, pa, inc)
    # The same particles, in one channel: the flux image, which v_max does not change.
    flat = _simulate(row, row["v_circ"], 0 * KM_S, seed=seed, n_particles=n_particles, flat=True)
    # x the channel width: the units of the cube's moment 0
    image = np.asarray(flat.unitless_filled_data[0], dtype=float) * _FLAT_CHANNEL
    # S/N = 10 at r_snr10 on the major axis, (east, north) = +-r (sin PA, cos PA)
    r10 = row["r_snr10"].to_value(u.arcsec) * np.array([1.0, -1.0])
    on_axis = (
        cy + r10 * np.cos(np.radians(pa)) / _PIXEL,
        cx - r10 * np.sin(np.radians(pa)) / _PIXEL,
    )
    level = ndimage.map_coordinates(image, on_axis, order=1, mode="nearest").mean()
    noise = max(level, 1e-3 * image.max()) / 10.0
    # bundle footprint: centred on the map (the galaxy may sit a fraction of a spaxel off)
    covered = _in_bundle(
        -(xx - (side - 1) / 2) * _PIXEL,
        (yy - (side - 1) / 2) * _PIXEL,
        row["bundle_radius"].to_value(u.arcsec),
        row["survey"],
    )
    expected = covered & (image >= 10.0 * noise)
    r_drift = float(np.percentile(radius[expected], 98)) if expected.sum() >= 16 else np.nan

    # Rotation slowed by the asymmetric drift Eq. 4.4 would add back at r_drift.
    v_c = row["v_circ"].to_value(KM_S)
    factor = 2.0 * r_drift / row["r_scale"].to_value(u.arcsec) - 1.0
    sigma = row["dispersion_drawn"].to_value(KM_S)
    if np.isfinite(factor) and factor > 0:
        sigma = min(sigma, np.sqrt(_DRIFT_CAP * v_c**2 / factor))
        v_rot = np.sqrt(v_c**2 - sigma**2 * factor)
    else:
        v_rot = v_c
    cube = _simulate(row, v_rot * KM_S, sigma * KM_S, seed=seed, n_particles=n_particles)
    maps = maps_from_cube(cube, mask="none", noise=1e-12 * cube.unit)
    flux = np.nan_to_num(maps.moment0.value, nan=0.0)
    vel = np.nan_to_num(maps.moment1.to_value(KM_S), nan=0.0)
    width = np.nan_to_num(maps.dispersion.to_value(KM_S), nan=0.0)
    snr = np.maximum(flux / noise, 0.5)
    if row["survey"] == "manga":
        inst = np.full((side, side), rng.uniform(65.0, 72.0))
        observed = np.hypot(width, _LSF_FACTOR * inst)
    else:
        inst = None
        observed = np.hypot(width, _INST_SAMI)
    v_err = np.clip(np.sqrt(2.0) * observed / snr, 1.0, 200.0)
    w_err = np.clip(observed / (np.sqrt(2.0) * snr), 0.5, 200.0)
    out = {
        "flux": flux + rng.normal(0.0, noise, flux.shape),
        "flux_err": np.full(flux.shape, noise),
        "velocity": vel + rng.normal(0.0, 1.0, vel.shape) * v_err,
        "velocity_err": v_err,
        "sigma_err": w_err,
        "inst": inst,
        "covered": covered,
    }
    if inst is None:
        out["sigma"] = np.abs(width + rng.normal(0.0, 1.0, width.shape) * w_err)
    else:
        out["sigma"] = np.abs(observed + rng.normal(0.0, 1.0, observed.shape) * w_err)
    truth = {
        "v_rot": v_rot,
        "dispersion": sigma,
        "r_drift": r_drift,
        "n_expected": int(expected.sum()),
        "peak_snr": float(image.max() / noise),
    }
    return out, truth


def _write(row, maps, directory, peak_flux):
    """Write one galaxy's maps; return the path to give ``galkin.load``."""
    side = int(row["shape"])
    center = tuple((side - 1) / 2 + row["center_offset"])
    scale = peak_flux / max(np.max(maps["flux"]), 1e-30)
    outside = ~maps["covered"]
    if row["survey"] == "manga":
        path = directory / "manga" / manga_maps_name(row["name"])
        path.parent.mkdir(parents=True, exist_ok=True)
        mask = np.where(outside, NOCOV_MASK, 0)
        blank = {k: np.where(outside, 0.0, maps[k]) for k in ("velocity", "sigma")}
        return write_manga_maps(
            path,
            flux=np.where(outside, 0.0, maps["flux"] * scale) * MANGA_FLUX_UNIT,
            flux_err=maps["flux_err"] * scale * MANGA_FLUX_UNIT,
            velocity=blank["velocity"] * KM_S,
            velocity_err=maps["velocity_err"] * KM_S,
            sigma=blank["sigma"] * KM_S,
            sigma_err=maps["sigma_err"] * KM_S,
            instrumental_sigma=maps["inst"] * KM_S,
            mask=mask,
            plateifu=row["name"],
            mangaid=f"1-{row['name'].split('-')[0]}",
            psf_fwhm=row["psf_fwhm"],
            object_center=center,
            cz=(row["redshift"] * 299792.458) * KM_S,
            overwrite=True,
        )
    blank = {k: np.where(outside, np.nan, maps[k]) for k in ("flux", "velocity", "sigma")}
    errs = {k: np.where(outside, np.nan, maps[k]) for k in ("flux_err", "velocity_err")}
    files = write_sami_maps(
        directory / "sami" / row["name"],
        catid=row["name"],
        flux=blank["flux"] * scale * SAMI_FLUX_UNIT,
        flux_err=errs["flux_err"] * scale * SAMI_FLUX_UNIT,
        velocity=blank["velocity"] * KM_S,
        velocity_err=errs["velocity_err"] * KM_S,
        dispersion=blank["sigma"] * KM_S,
        dispersion_err=np.where(outside, np.nan, maps["sigma_err"]) * KM_S,
        psf_fwhm=row["psf_fwhm"],
        overwrite=True,
    )
    return files["velocity"]


@dataclasses.dataclass
class MockSurvey:
    """A mock survey on disc: its files, the user's catalogue and the truth.

    Attributes
    ----------
    directory : `pathlib.Path`
        Holds ``manga/``, ``sami/<CATID>/``, ``catalogue.ecsv`` and ``truth.ecsv``.
    files : list of `pathlib.Path`
        One per galaxy (a MAPS file, or a SAMI velocity map), in catalogue order.
    catalogue : `~astropy.table.QTable`
        What an observer has: ``name``, ``survey``, ``log_mstar`` (dex(Msun)),
        ``log_mstar_err`` (dex), ``r_e`` (arcsec) and ``redshift``.
    truth : `~astropy.table.QTable`
        :func:`draw_population`'s table plus ``v_rot`` (the simulated arctan
        V_max), ``dispersion`` (the simulated sigma), ``r_drift`` (the radius
        where the drift was injected) and ``file``.
    relation : InjectedTFR
    seconds : float
        Wall time of the simulation and writing.
    """

    directory: Path
    files: list
    catalogue: QTable
    truth: QTable
    relation: InjectedTFR
    seconds: float

    @property
    def names(self):
        """The galaxies' survey ids (MaNGA plate-IFU, SAMI CATID)."""
        return [str(n) for n in self.catalogue["name"]]


def make_mock_survey(
    directory,
    n,
    *,
    relation=THESIS_TFR,
    seed=0,
    n_particles=200_000,
    progress=False,
    **population,
):
    """Simulate ``n`` galaxies and write them as MaNGA and SAMI files with a catalogue.

    Parameters
    ----------
    directory : str or `pathlib.Path`
        Created if missing; existing mock files are overwritten.
    n : int
        Number of galaxies (alternately MaNGA and SAMI by default).
    relation : InjectedTFR, optional
        The TFR of the circular speeds (default thesis Eq. 4.5, 0.05 dex scatter).
    seed : int, optional
        Makes the survey reproducible.
    n_particles : int, optional
        Particles per simulated galaxy (:func:`galkin.simulate_cube`).
    progress : bool, optional
        Show a progress bar.
    **population
        Passed to :func:`draw_population` (``surveys``, ``log_mstar_range``,
        ``mass_err``, ``inclination_range``).

    Returns
    -------
    MockSurvey
    """
    start = time.perf_counter()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = draw_population(n, relation=relation, seed=rng, **population)
    keys = ("v_rot", "dispersion", "r_drift", "n_expected", "peak_snr")
    extra, files = {k: [] for k in keys}, []
    rows = truth
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(truth, unit="galaxy", desc="simulating")
    for row in rows:
        maps, values = _observe(row, rng, n_particles)
        peak = 30.0 if row["survey"] == "manga" else 3.0  # 1e-17 vs 1e-16 erg/s/cm2
        files.append(_write(row, maps, directory, peak))
        for k in keys:
            extra[k].append(values[k])
    truth["v_rot"] = np.array(extra["v_rot"]) * KM_S
    truth["dispersion"] = np.array(extra["dispersion"]) * KM_S
    truth["r_drift"] = np.array(extra["r_drift"]) * u.arcsec
    truth["n_expected"] = np.array(extra["n_expected"])
    truth["peak_snr"] = np.array(extra["peak_snr"])
    truth["file"] = [str(p.relative_to(directory)) for p in files]
    catalogue = QTable(
        {k: truth[k] for k in ("name", "survey", "log_mstar", "log_mstar_err", "r_e", "redshift")}
    )
    truth.meta["relation"] = dataclasses.asdict(relation)
    catalogue.write(directory / "catalogue.ecsv", overwrite=True)
    truth.write(directory / "truth.ecsv", overwrite=True)
    return MockSurvey(
        directory=directory,
        files=files,
        catalogue=catalogue,
        truth=truth,
        relation=relation,
        seconds=time.perf_counter() - start,
    )


def load_mock_survey(directory):
    """A mock survey :func:`make_mock_survey` wrote earlier, read back from its directory.

    Parameters
    ----------
    directory : str or `pathlib.Path`
        Holding ``catalogue.ecsv``, ``truth.ecsv`` and the map files.

    Returns
    -------
    MockSurvey
        With ``seconds`` 0 (nothing was simulated).
    """
    directory = Path(directory)
    if not (directory / "truth.ecsv").is_file():
        raise GalkinError(
            f"{directory} holds no mock survey (no truth.ecsv): write one with "
            "make_mock_survey(directory, n)."
        )
    truth = QTable.read(directory / "truth.ecsv")
    catalogue = QTable.read(directory / "catalogue.ecsv")
    relation = InjectedTFR(**truth.meta.get("relation", {}))
    files = [directory / str(f) for f in truth["file"]]
    return MockSurvey(
        directory=directory,
        files=files,
        catalogue=catalogue,
        truth=truth,
        relation=relation,
        seconds=0.0,
    )
