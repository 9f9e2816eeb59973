"""Tests of `galkin.simulate_cube`: the mock cubes must carry the physics they claim."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from radio_beam import Beam

from galkin import GalkinError
from galkin.simulation.simulate import beam_kernel, simulate_cube

KMS = u.km / u.s

BASE = dict(
    inclination=60 * u.deg,
    position_angle=90 * u.deg,
    v_max=200 * KMS,
    r_turn=2 * u.arcsec,
    r_scale=6 * u.arcsec,
)


def arctan_curve(radius, v_max, r_turn):
    return 2 * v_max / np.pi * np.arctan(radius / r_turn)


def moments(cube):
    """Moment 0 (sum of channels, Jy/beam km/s) and moment 1 (km/s, NaN where empty)."""
    data = cube.filled_data[:].value
    vel = cube.spectral_axis.to_value(KMS)
    dv = abs(vel[1] - vel[0])
    mom0 = data.sum(axis=0) * dv
    with np.errstate(invalid="ignore", divide="ignore"):
        mom1 = np.where(mom0 > 0, (data * vel[:, None, None]).sum(axis=0) * dv / mom0, np.nan)
    return mom0, mom1


def sky_shape(image):
    """Major-axis angle east of north (deg, mod 180) and axis ratio of an image's light."""
    ny, nx = image.shape
    y, x = np.mgrid[:ny, :nx].astype(float)
    w = image / image.sum()
    east, north = -(x - (w * x).sum()), y - (w * y).sum()
    cov = np.cov(np.stack([east.ravel(), north.ravel()]), aweights=w.ravel())
    evals, evecs = np.linalg.eigh(cov)
    e, n = evecs[:, 1]
    return np.degrees(np.arctan2(e, n)) % 180, np.sqrt(evals[0] / evals[1])


def test_moment1_follows_arctan_curve_on_major_axis():
    v_sys = 1000 * KMS
    cube = simulate_cube(
        **{**BASE, "r_scale": 8 * u.arcsec}, systemic_velocity=v_sys, shape=(65, 65),
        beam=1.5 * u.arcsec, scale_height=0.2 * u.arcsec, seed=3,
    )  # fmt: skip
    _, mom1 = moments(cube)
    # PA = 90 deg: the major axis is the central row, receding side to the left (east).
    offsets = np.arange(10, 21)
    expected = arctan_curve(offsets, 200, 2) * np.sin(np.radians(60))
    receding = mom1[32, 32 - offsets] - 1000
    approaching = 1000 - mom1[32, 32 + offsets]
    for side in (receding, approaching):
        assert np.all(np.abs(side / expected - 1) < 0.03)
        assert abs(side.mean() / expected.mean() - 1) < 0.01
    assert abs(mom1[32, 32] - 1000) < 5  # systemic at the centre


@pytest.mark.parametrize(
    ("pa", "direction"),
    [(0, (0, 1)), (90, (-1, 0)), (200, (-np.sin(np.radians(200)), np.cos(np.radians(200))))],
)
def test_position_angle_points_to_receding_side(pa, direction):
    """PA east of north to the receding side, north = +y, east = -x pixels."""
    cube = simulate_cube(
        **{**BASE, "position_angle": pa * u.deg}, shape=(41, 41), n_particles=200_000, seed=4
    )
    data = cube.filled_data[:].value
    vel = cube.spectral_axis.to_value(KMS)
    red = data[vel > 0].sum(axis=0)
    y, x = np.mgrid[:41, :41]
    cx, cy = (red * x).sum() / red.sum() - 20, (red * y).sum() / red.sum() - 20
    # Receding light lies along the expected pixel direction (x right, y up) ...
    offset = np.hypot(cx, cy)
    assert offset > 3
    assert np.degrees(np.arccos((cx * direction[0] + cy * direction[1]) / offset)) < 3
    # ... and, read through the cube's own WCS, at the position angle east of north.
    centre = cube.wcs.celestial.pixel_to_world(20, 20)
    red_side = cube.wcs.celestial.pixel_to_world(20 + cx, 20 + cy)
    assert abs(((centre.position_angle(red_side).to_value(u.deg) - pa + 180) % 360) - 180) < 3


@pytest.mark.parametrize("incl", [30, 60, 75])
def test_moment0_axis_ratio_is_cos_inclination(incl):
    cube = simulate_cube(
        **{**BASE, "inclination": incl * u.deg, "position_angle": 40 * u.deg,
           "r_scale": 3 * u.arcsec}, scale_height=0.01 * u.arcsec, beam=0.5 * u.arcsec,
        n_particles=300_000, seed=5,
    )  # fmt: skip
    mom0, _ = moments(cube)
    angle, ratio = sky_shape(mom0)
    assert ratio == pytest.approx(np.cos(np.radians(incl)), abs=0.03)
    assert abs(((angle - 40 + 90) % 180) - 90) < 2


def test_noise_follows_eq_2_2_on_line_free_channels():
    kwargs = dict(BASE, seed=6, n_particles=300_000)
    clean = simulate_cube(**kwargs).filled_data[:].value
    noisy = simulate_cube(**kwargs, snr=8)
    peaks = clean.max(axis=(1, 2))
    expected = peaks[peaks > 0].mean() / 8  # thesis Eq. 2.2
    line_free = peaks == 0
    # Auto channels leave a line-free margin of at least ~25% on each side.
    n = peaks.size
    assert line_free[: int(0.2 * n)].all() and line_free[-int(0.2 * n) :].all()
    rms = noisy.meta["galkin_truth"]["noise_rms"]
    assert rms.unit == u.Jy / u.beam and rms.value == pytest.approx(expected, rel=1e-12)
    measured = noisy.filled_data[:].value[line_free].std()
    assert measured == pytest.approx(expected, rel=0.02)
    residual = noisy.filled_data[:].value - clean  # same seed, same particles
    assert residual[~line_free].std() == pytest.approx(expected, rel=0.02)


def test_seed_reproducibility():
    kwargs = dict(BASE, shape=(24, 24), n_particles=50_000, snr=5)
    a = simulate_cube(**kwargs, seed=7).filled_data[:]
    b = simulate_cube(**kwargs, seed=7).filled_data[:]
    c = simulate_cube(**kwargs, seed=8).filled_data[:]
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("rest", [1.420405751768 * u.GHz, 230.538 * u.GHz])
def test_frequency_axis_converts_back_to_velocity(rest):
    kwargs = dict(BASE, systemic_velocity=1500 * KMS, rest_frequency=rest, seed=9)
    kwargs.update(shape=(16, 16), n_particles=20_000)
    vcube = simulate_cube(**kwargs)
    fcube = simulate_cube(**kwargs, spectral_axis="frequency")
    assert fcube.header["CTYPE3"] == "FREQ"
    assert fcube.header["RESTFRQ"] == pytest.approx(rest.to_value(u.Hz))
    assert vcube.header["CTYPE3"] == "VRAD"
    nu = fcube.spectral_axis.to_value(u.Hz)
    v_radio = 299792.458 * (1 - nu / rest.to_value(u.Hz))  # radio convention by hand
    assert np.allclose(v_radio, vcube.spectral_axis.to_value(KMS), atol=1e-6)
    back = fcube.with_spectral_unit(KMS, velocity_convention="radio").spectral_axis
    assert np.allclose(back.to_value(KMS), vcube.spectral_axis.to_value(KMS), atol=1e-6)
    assert np.array_equal(fcube.filled_data[:], vcube.filled_data[:])


def test_beam_in_header_and_flux_conserved():
    compact = {**BASE, "r_scale": 3 * u.arcsec}  # all the flux inside the field
    cube = simulate_cube(**compact, beam=2.5 * u.arcsec, pixel_scale=0.8 * u.arcsec, seed=10)
    assert cube.unit == u.Jy / u.beam
    assert cube.header["BMAJ"] == pytest.approx(2.5 / 3600)
    assert cube.header["BMIN"] == pytest.approx(2.5 / 3600)
    assert cube.beam.major == 2.5 * u.arcsec
    assert cube.meta["galkin_truth"]["beam"] == cube.beam
    # Jy/beam summed over the map and divided by the beam area in pixels is Jy.
    mom0, _ = moments(cube)
    beam_pixels = cube.beam.sr.to_value(u.arcsec**2) / 0.8**2
    assert mom0.sum() / beam_pixels == pytest.approx(10, rel=0.01)  # total_flux, Jy km/s

    raw = simulate_cube(**BASE, beam=None, seed=10, n_particles=20_000)
    assert raw.unit == u.Jy / u.pix and "BMAJ" not in raw.header
    assert raw.meta["galkin_truth"]["beam"] is None


def test_beam_kernel_matches_radio_beam_orientation():
    """radio_beam's kernel assumes north = +y, east = -x, as galkin does: they must agree."""
    beam = Beam(major=6 * u.arcsec, minor=2 * u.arcsec, pa=30 * u.deg)
    ours = beam_kernel(beam, 1.0)
    theirs = beam.as_kernel(1 * u.arcsec, x_size=ours.shape[1], y_size=ours.shape[0]).array
    assert np.allclose(ours, theirs / theirs.max(), atol=1e-6)
    angle, ratio = sky_shape(ours)
    assert angle == pytest.approx(30, abs=0.5)
    assert ratio == pytest.approx(1 / 3, abs=0.02)


@pytest.mark.parametrize("bpa", [30, 120])
def test_elongated_beam_is_oriented_east_of_north(bpa):
    """A compact source observed with an elongated beam takes the beam's shape and PA."""
    beam = Beam(major=8 * u.arcsec, minor=2 * u.arcsec, pa=bpa * u.deg)
    cube = simulate_cube(
        **{**BASE, "inclination": 10 * u.deg, "r_scale": 0.1 * u.arcsec, "r_turn": 0.1 * u.arcsec},
        beam=beam, shape=(41, 41), n_particles=20_000, seed=11,
    )  # fmt: skip
    mom0, _ = moments(cube)
    angle, ratio = sky_shape(mom0)
    assert angle == pytest.approx(bpa, abs=2)
    assert ratio == pytest.approx(0.25, abs=0.05)
    assert cube.beam.pa == bpa * u.deg


def test_center_and_sky_center():
    where = SkyCoord(10 * u.deg, -30 * u.deg)
    cube = simulate_cube(
        **{**BASE, "inclination": 20 * u.deg, "r_scale": 2 * u.arcsec}, center=(14.0, 22.5),
        sky_center=where, shape=(40, 30), n_particles=100_000, seed=12,
    )  # fmt: skip
    assert cube.shape[1:] == (40, 30)
    mom0, _ = moments(cube)
    y, x = np.mgrid[:40, :30]
    assert (mom0 * x).sum() / mom0.sum() == pytest.approx(14.0, abs=0.1)
    assert (mom0 * y).sum() / mom0.sum() == pytest.approx(22.5, abs=0.1)
    assert cube.wcs.celestial.pixel_to_world(14.0, 22.5).separation(where) < 1e-3 * u.arcsec
    truth = cube.meta["galkin_truth"]["center"]
    assert truth.unit == u.pix and list(truth.value) == [14.0, 22.5]
    again = simulate_cube(**{**BASE, "inclination": 20 * u.deg, "r_scale": 2 * u.arcsec},
        center=truth, sky_center=where, shape=(40, 30), n_particles=100_000, seed=12,
    )  # fmt: skip
    assert np.array_equal(again.filled_data[:], cube.filled_data[:])


def test_public_entry_point():
    import galkin

    assert galkin.simulate_cube is simulate_cube


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inclination": 60}, "inclination must be an astropy Quantity with physical type 'angle'"),
        ({"v_max": 200}, "v_max must be an astropy Quantity with physical type 'speed"),
        ({"r_scale": 6 * KMS}, "r_scale must have physical type 'angle'"),
        ({"inclination": 95 * u.deg}, r"inclination must lie in \[0, 90\] deg"),
        ({"inclination": -5 * u.deg}, r"inclination must lie in \[0, 90\] deg"),
        ({"v_max": 0 * KMS}, "v_max must be positive"),
        ({"r_turn": -1 * u.arcsec}, "r_turn must be positive"),
        ({"r_scale": 0 * u.arcsec}, "r_scale must be positive"),
        ({"spectral_axis": "wavelength"}, "spectral_axis must be"),
        ({"snr": 0}, "snr must be a positive number"),
        ({"snr": -3.0}, "snr must be a positive number"),
        ({"beam": 2.5}, "beam must be an astropy Quantity with physical type 'angle'"),
        ({"dispersion": 10}, "dispersion must be an astropy Quantity"),
        ({"n_particles": 0}, "n_particles must be an integer"),
        ({"center": (1.0,)}, "center must be a pair of pixel coordinates"),
        ({"center": (1, 2) * u.arcsec}, "center must have physical type"),
        ({"snr": "5"}, "snr must be a positive number"),
        ({"position_angle": 30}, "position_angle must be an astropy Quantity"),
    ],
)
def test_bad_arguments_raise_clear_errors(change, message):
    with pytest.raises(GalkinError, match=message):
        simulate_cube(**{**BASE, **change})
