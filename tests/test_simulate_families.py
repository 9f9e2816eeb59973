"""`galkin.simulate_cube`'s other discs, curves and noise: each must show the physics it claims."""

import numpy as np
import pytest
from astropy import units as u
from radio_beam import Beam
from scipy import optimize

from galkin import GalkinError
from galkin.simulation import rotation_curves as rc
from galkin.simulation import surface_density as sd
from galkin.simulation.equivalent import equivalent_arctan, radial_grid
from galkin.simulation.simulate import simulate_cube

KMS = u.km / u.s
FACE_ON = dict(
    inclination=0 * u.deg,
    position_angle=0 * u.deg,
    v_max=200 * KMS,
    r_turn=2 * u.arcsec,
    r_scale=6 * u.arcsec,
    shape=(65, 65),
    beam=1.5 * u.arcsec,
    n_particles=400_000,
    seed=4,
)


def moment0(cube):
    return cube.filled_data[:].value.sum(axis=0)


def radial_profile(image, n=30):
    """Mean of ``image`` in 1-pixel annuli about the centre of a 65 x 65 map."""
    y, x = np.mgrid[:65, :65] - 32.0
    r = np.hypot(x, y)
    return np.array([image[(r >= k) & (r < k + 1)].mean() for k in range(n)])


def azimuthal_m(image, radius, m):
    """Amplitude of the m-th azimuthal Fourier mode relative to the mean, at ``radius`` px."""
    y, x = np.mgrid[:65, :65] - 32.0
    r, phi = np.hypot(x, y), np.arctan2(y, x)
    sel = np.abs(r - radius) < 1.0
    values, angle = image[sel], phi[sel]
    return np.abs(np.mean(values * np.exp(1j * m * angle))) / values.mean()


def test_ring_radius_is_the_peak_of_the_moment0_profile():
    cube = simulate_cube(
        **FACE_ON, surface_density=sd.Ring(radius=14 * u.arcsec, width=2 * u.arcsec)
    )
    profile = radial_profile(moment0(cube))
    assert abs(np.argmax(profile) + 0.5 - 14.0) <= 1.0
    assert profile[:5].max() < 0.05 * profile.max()  # a bare ring: nothing at the centre
    # its label is half the ring's mean radius, not a runaway flat disc
    assert cube.meta["galkin_truth"]["equivalent"]["r_scale"].to_value(u.arcsec) == pytest.approx(
        7.0, rel=0.05
    )


def test_hole_empties_the_centre():
    cube = simulate_cube(**FACE_ON, surface_density=sd.Hole(radius=8 * u.arcsec))
    profile = radial_profile(moment0(cube))
    plain = radial_profile(moment0(simulate_cube(**FACE_ON)))
    assert profile[0] < 0.1 * profile.max()
    assert np.argmax(profile) >= 6
    assert profile[20] / profile.max() > plain[20] / plain.max()  # the outer disc is kept


@pytest.mark.parametrize("arms", [2, 3])
def test_spiral_arms_make_the_azimuthal_mode_and_keep_the_radial_profile(arms):
    spiral = simulate_cube(**FACE_ON, surface_density=sd.Spiral(arms=arms, amplitude=0.8))
    plain = simulate_cube(**FACE_ON)
    m_spiral = azimuthal_m(moment0(spiral), 9, arms)
    assert m_spiral > 0.25  # amplitude 0.8, diluted by the beam and the annulus width
    assert azimuthal_m(moment0(plain), 9, arms) < 0.05
    ratio = radial_profile(moment0(spiral))[2:20] / radial_profile(moment0(plain))[2:20]
    np.testing.assert_allclose(ratio, 1.0, atol=0.1)


def test_clumps_roughen_the_disc_but_keep_its_size():
    clumpy = simulate_cube(
        **FACE_ON, surface_density=sd.Clumpy(clumps=15, fraction=0.5, size=1 * u.arcsec)
    )
    plain = simulate_cube(**FACE_ON)
    m0c, m0p = moment0(clumpy), moment0(plain)
    y, x = np.mgrid[:65, :65] - 32.0
    r = np.hypot(x, y)

    def lumpiness(m):  # rms departure from the map's own azimuthal average, inside 15 px
        smooth = radial_profile(m, 40)[np.minimum(r.astype(int), 39)]
        inner = r < 15
        return np.sqrt(np.mean((m - smooth)[inner] ** 2)) / m[inner].mean()

    assert lumpiness(m0c) > 4 * lumpiness(m0p)
    mean_r = lambda m: (r * m).sum() / m.sum()  # noqa: E731
    assert mean_r(m0c) == pytest.approx(mean_r(m0p), rel=0.15)


def test_outer_radius_truncates_the_disc():
    cube = simulate_cube(**FACE_ON, outer_radius=10 * u.arcsec)
    profile = radial_profile(moment0(cube))
    assert profile[13:].max() < 1e-3 * profile.max()  # 10" edge + 2 beam sigmas
    assert profile[8] > 0.1 * profile.max()


def autocorrelation(plane):
    f = np.fft.fft2(plane - plane.mean())
    acf = np.fft.fftshift(np.fft.ifft2(np.abs(f) ** 2).real)
    return acf / acf.max()


def gaussian_width(acf, axis):
    """Sigma (px) of a Gaussian fitted to the central cut of ``acf`` along ``axis``."""
    c = acf.shape[0] // 2
    cut = acf[c, c - 10 : c + 11] if axis == "x" else acf[c - 10 : c + 11, c]
    lag = np.arange(-10, 11)
    popt, _ = optimize.curve_fit(lambda d, s: np.exp(-0.5 * (d / s) ** 2), lag, cut, p0=[2.0])
    return popt[0]


def noise_planes(**kw):
    cube = simulate_cube(**{**FACE_ON, "shape": (128, 128), "n_particles": 20_000, "snr": 5, **kw})
    data = cube.filled_data[:].value
    return data[:8], cube.meta["galkin_truth"]["noise_rms"].value  # line-free channels


def test_correlated_noise_has_the_beam_as_autocorrelation_and_the_snr_rms():
    beam_fwhm = 6.0
    planes, rms = noise_planes(beam=beam_fwhm * u.arcsec, correlated_noise=True)
    acf = np.mean([autocorrelation(p) for p in planes], axis=0)
    sigma_beam = beam_fwhm / np.sqrt(8 * np.log(2))
    for axis in ("x", "y"):
        assert gaussian_width(acf, axis) == pytest.approx(sigma_beam, rel=0.1)
    assert planes.std() == pytest.approx(rms, rel=0.05)
    white, rms_w = noise_planes(beam=beam_fwhm * u.arcsec)
    assert np.mean([autocorrelation(p)[64, 65] for p in white]) < 0.05  # white: no correlation
    assert white.std() == pytest.approx(rms_w, rel=0.05)


def test_correlated_noise_follows_an_elliptical_beam():
    beam = Beam(major=8 * u.arcsec, minor=4 * u.arcsec, pa=0 * u.deg)  # major axis north-south
    planes, _ = noise_planes(beam=beam, correlated_noise=True)
    acf = np.mean([autocorrelation(p) for p in planes], axis=0)
    to_sigma = 1 / np.sqrt(8 * np.log(2))
    assert gaussian_width(acf, "y") == pytest.approx(8 * to_sigma, rel=0.1)
    assert gaussian_width(acf, "x") == pytest.approx(4 * to_sigma, rel=0.1)


def major_axis_velocity(cube, offsets):
    """Moment 1 (km/s) on the receding major axis at PA 90 deg (row 32, left of centre)."""
    data = cube.filled_data[:].value
    vel = cube.spectral_axis.to_value(KMS)
    m0 = data.sum(0)
    m1 = (data * vel[:, None, None]).sum(0) / np.where(m0 > 0, m0, np.nan)
    return m1[32, 32 - offsets]


def test_declining_curve_declines_in_moment1_along_the_major_axis():
    curve = rc.DiscHalo(disc_fraction=0.95)
    kw = dict(
        FACE_ON,
        inclination=60 * u.deg,
        position_angle=90 * u.deg,
        r_scale=4 * u.arcsec,
        r_turn=20 * u.arcsec,
        scale_height=0.2 * u.arcsec,
        rotation_curve=curve,
        dispersion=5 * KMS,
    )
    cube = simulate_cube(**kw)
    offsets = np.arange(6, 25, 3)
    v = major_axis_velocity(cube, offsets)
    peak = np.argmax(v)
    assert offsets[peak] <= 12  # the disc peaks at 2.2 r_scale = 8.8"
    assert v[-1] < 0.85 * v[peak]  # and declines: by ~25% at 24" for this maximal disc
    expected = curve(offsets.astype(float), 200.0, 20.0, 4.0) * np.sin(np.radians(60))
    np.testing.assert_allclose(v, expected, rtol=0.06)


@pytest.mark.parametrize(
    "curve, shape",
    [
        (rc.Courteau(beta=0.5, gamma=5), "peaked"),
        (rc.Polyex(alpha=-0.03), "declining"),
        (rc.Polyex(alpha=0.1), "rising"),
    ],
)
def test_curve_families_have_their_shapes(curve, shape):
    r = np.linspace(1.0, 60.0, 300)
    v = curve(r, 200.0, 3.0, 6.0)
    outer = v[-1] - v[150]
    if shape == "rising":
        assert outer > 0.1 * v[150]
    else:
        assert outer < 0
        assert v.max() > v[-1] * (1.1 if shape == "declining" else 1.03)


def test_equivalent_arctan_of_a_tabulated_arctan_is_its_own():
    def arctan(radius):
        return 2 * 180 * KMS / np.pi * np.arctan(radius / (4 * u.arcsec))

    cube = simulate_cube(**{**FACE_ON, "n_particles": 10_000}, rotation_curve=arctan)
    eq = cube.meta["galkin_truth"]["equivalent"]
    assert eq["v_max"].to_value(KMS) == pytest.approx(180.0, rel=1e-4)
    assert eq["r_turn"].to_value(u.arcsec) == pytest.approx(4.0, rel=1e-3)


def test_equivalent_arctan_of_a_flat_curve_turns_at_once():
    r = radial_grid(30.0)
    v_max, r_turn = equivalent_arctan(r, np.full(r.size, 150.0), np.exp(-r / 6))
    assert v_max == pytest.approx(150.0, rel=0.01)
    assert r_turn < 0.05


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(surface_density="bar"), "'clumpy', 'exponential', 'hole', 'ring', 'spiral'"),
        (dict(rotation_curve="nfw"), "'arctan', 'courteau', 'disc_halo', 'polyex'"),
        (dict(surface_density=3), "surface_density must be a name"),
        (dict(v_max=None), "v_max is required for rotation_curve='arctan'"),
        (dict(rotation_curve=lambda r: r.value), "must return a velocity Quantity"),
        (dict(surface_density=lambda r: -r.value), "non-negative"),
        (dict(correlated_noise=True, beam=None), "pass beam="),
        (dict(correlated_noise="yes"), "correlated_noise must be True or False"),
        (dict(outer_radius=-1 * u.arcsec), "outer_radius must be positive"),
        (dict(outer_radius=3), "outer_radius"),
    ],
)
def test_bad_family_arguments_raise_clear_errors(change, message):
    with pytest.raises(GalkinError, match=message.replace("(", r"\(").replace(")", r"\)")):
        simulate_cube(**{**FACE_ON, "n_particles": 1000, **change})


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: sd.Ring(radius=5), "radius"),
        (lambda: sd.Spiral(pitch=80 * u.deg), r"pitch must lie in \[5, 60\] deg"),
        (lambda: sd.Clumpy(fraction=1.5), r"fraction must lie in \[0.0, 1.0\]"),
        (lambda: rc.Courteau(beta=2.0), r"beta must lie in \[-0.9, 0.9\]"),
        (lambda: rc.Polyex(alpha=-0.5), r"alpha must lie"),
        (lambda: rc.DiscHalo(disc_fraction="a"), "disc_fraction must be a number"),
    ],
)
def test_bad_profile_parameters_raise_clear_errors(build, message):
    with pytest.raises(GalkinError, match=message):
        build()
