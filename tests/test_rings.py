"""Ring-by-ring rotation curves (``velocity="rings"``, ``intensity="rings"``).

The physics tests fit cubes from galkin's particle simulator (which shares no
code with the decoder) whose rotation curve rises, peaks and declines and whose
gas lies in rings -- neither an arctan nor an exponential describes them -- and
compare every ring with the curve that made the cube.
"""

import warnings

import numpy as np
import pytest
import torch
from astropy import units as u
from astropy.table import QTable

import galkin
from galkin.decoder import DiscDecoder
from galkin.exceptions import GalkinError
from galkin.fitting import prepare_maps
from galkin.parameters import ParameterSpace
from galkin.ring_layout import MAX_RINGS, data_extent, ring_radii
from galkin_plugins.profiles.rings import RingsIntensityProfile, RingsVelocityProfile

KM_S = u.km / u.s
#: Truth of the simulated galaxies: rises over ~4", peaks at 221 km/s near 9",
#: declines to 75% of the peak by 32".
CURVE_R = np.array([2, 4, 6, 8, 10, 12, 16, 20, 24, 28, 32.0])
CURVE_V = 230 * np.tanh(CURVE_R / 4.0) * (1 - 0.3 * np.clip((CURVE_R - 8) / 24, 0, None))
#: Gas in two rings with a depleted centre.
DENSITY_R = np.array([0, 3, 6, 9, 12, 15, 18, 22, 26, 30.0])
DENSITY = np.array([0.3, 0.2, 0.6, 1.0, 0.5, 0.3, 0.7, 0.6, 0.2, 0.0])
BEAM = 3.0  # arcsec, 3 pixels


def true_speed(radius):
    return np.interp(radius, np.r_[0.0, CURVE_R], np.r_[0.0, CURVE_V])


def ring_cube(seed, *, inclination=60.0, n_particles=600_000):
    pa = float(np.random.default_rng(seed).uniform(0, 360))
    return galkin.simulate_cube(
        inclination=inclination * u.deg,
        position_angle=pa * u.deg,
        rotation_curve=(CURVE_R * u.arcsec, CURVE_V * KM_S),
        surface_density=(DENSITY_R * u.arcsec, DENSITY * u.one),
        beam=BEAM * u.arcsec,
        snr=20,
        seed=seed,
        n_particles=n_particles,
    )


def fit_rings(cube, **options):
    options = {"velocity": "rings", "intensity": "rings"} | options
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", galkin.GalkinWarning)
        return galkin.fit(cube, **options)


@pytest.fixture(scope="module")
def cube1():
    return ring_cube(1)


@pytest.fixture(scope="module")
def ring_fit(cube1):
    return fit_rings(cube1)


# ---------------------------------------------------------------- layout & profiles
@pytest.fixture(scope="module")
def prepared():
    return prepare_maps(ring_cube(2, n_particles=100_000))


def test_rings_every_half_beam_out_to_the_data(prepared):
    field = prepared.scales.field
    radii = ring_radii(prepared) * field
    assert len(radii) <= MAX_RINGS
    np.testing.assert_allclose(np.diff(radii), radii[0])
    assert radii[0] == pytest.approx(BEAM / 2, rel=0.15)  # half the beam's FWHM
    assert radii[-1] == pytest.approx(data_extent(prepared) * field)
    assert 27 < radii[-1] < 34  # the gas ends at 30"
    assert len(ring_radii(prepared, n_rings=5)) == 5
    spaced = ring_radii(prepared, spacing=4 * u.arcsec) * field
    np.testing.assert_allclose(np.diff(spaced), 4.0)
    explicit = ring_radii(prepared, radii=[5, 10, 20] * u.arcsec) * field
    np.testing.assert_allclose(explicit, [5, 10, 20])


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(n_rings=1), "n_rings must be an integer >= 2"),
        (dict(radii=[10, 5] * u.arcsec), "radii must be at least 2 positive, increasing"),
        (dict(spacing=2 * u.arcsec, n_rings=4), "at most one of"),
        (dict(spacing=2 * u.km), "spacing"),
    ],
)
def test_bad_ring_options_say_what_to_do(prepared, options, match):
    with pytest.raises(GalkinError, match=match):
        ring_radii(prepared, **options)


def test_configured_profiles_compare_by_their_rings(prepared):
    a = RingsVelocityProfile().configure(prepared)
    b = RingsVelocityProfile().configure(prepared)
    c = RingsVelocityProfile(n_rings=4).configure(prepared)
    assert a == b and hash(a) == hash(b) and a != c
    assert len(c.parameter_names()) == 4
    assert len(RingsIntensityProfile(n_rings=4).configure(prepared).parameter_names()) == 5


def test_smoothness_residuals_vanish_on_a_straight_line():
    profile = RingsVelocityProfile(knots=(0.1, 0.2, 0.3, 0.4))
    line = {n: torch.tensor([0.5 * (k + 1)]) for k, n in enumerate(profile.parameter_names())}
    assert torch.allclose(profile.regularization(**line), torch.zeros(1, 3), atol=1e-12)
    kinked = dict(line, v_02=torch.tensor([1.0 + 0.05]))  # one ring a tolerance off the line
    # its second difference is -2 tolerances, its neighbours' +1: it costs 6 "sigma^2"
    residuals = profile.regularization(**kinked)[0]
    torch.testing.assert_close(residuals, torch.tensor([1.0, -2.0, 1.0]), atol=1e-5, rtol=0)


def test_exact_decoder_derivatives_match_finite_differences():
    ip = RingsIntensityProfile(knots=(0.08, 0.16, 0.24, 0.32))
    vp = RingsVelocityProfile(knots=(0.08, 0.16, 0.24, 0.32))
    decoder = DiscDecoder(ip, vp).double()
    rng = np.random.default_rng(0)
    params = {
        n: torch.tensor([v])
        for n, v in zip(ip.parameter_names(), rng.uniform(0.2, 1, 5), strict=True)
    }
    speeds = [0.5, 0.9, 1.0, 0.95]
    params |= {
        n: torch.tensor([v], dtype=torch.float64)
        for n, v in zip(vp.parameter_names(), speeds, strict=True)
    }
    args = (
        torch.tensor([1.0], dtype=torch.float64),
        torch.tensor([[-0.5, -0.5]], dtype=torch.float64),
        torch.eye(2, dtype=torch.float64)[None] / 24,
        (24, 24),
    )
    beams = torch.tensor([[0.04, 0.04, 0.0]], dtype=torch.float64)
    names, m0, m1, d0, d1 = decoder.derivatives(params, *args, beams=beams)
    assert names == list(ip.parameter_names()) + list(vp.parameter_names())
    bright = m0 > 1e-2 * m0.max()  # moment 1 is undefined where there is no emission
    step = 1e-5
    for k, name in enumerate(names):  # central differences
        up0, up1 = decoder(dict(params, **{name: params[name] + step}), *args, beams=beams)
        lo0, lo1 = decoder(dict(params, **{name: params[name] - step}), *args, beams=beams)
        torch.testing.assert_close(d0[:, k], (up0 - lo0) / (2 * step), atol=1e-6, rtol=1e-5)
        fd1 = ((up1 - lo1) / (2 * step))[bright]
        # (the decoder's 1e-6 floor on moment 0 moves with the peak; the derivatives
        # hold it fixed, a difference of order 1e-6 / 1e-2 of moment 1)
        torch.testing.assert_close(d1[:, k][bright], fd1, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------- fitting
def test_ring_fit_recovers_a_declining_curve_in_ring_gas(ring_fit):
    """S/N 20, 3-pixel beam: rings beyond one beam within 3% (median), the decline seen."""
    curve = ring_fit.rotation_curve()
    assert curve.meta["fitted_rings"] and curve.meta["velocity_profile"] == "rings"
    r = curve["radius"].to_value(u.arcsec)
    v = curve["v_rot"].to_value(KM_S)
    err = curve["v_rot_err"].to_value(KM_S)
    truth = true_speed(r)
    resolved = (r > BEAM) & (r < 0.8 * 32)
    assert resolved.sum() >= 10
    assert np.median(np.abs(v / truth - 1)[resolved]) < 0.03
    # within ~1.5 beams of the centre, where the curve rises steeply inside the
    # beam, the rings read up to ~10% low; beyond, every ring is within 3%
    outer = (r > 1.5 * BEAM) & (r < 0.8 * 32)
    assert np.max(np.abs(v / truth - 1)[outer]) < 0.03
    # the decline from the peak to 24" (truth: 221 -> 184 km/s) is measured, not smoothed away
    peak, outer = np.argmax(v), np.argmin(np.abs(r - 24))
    assert v[outer] / v[peak] == pytest.approx(true_speed(24) / CURVE_V.max(), abs=0.04)
    # honest errors: most rings within 2 sigma of the truth
    assert np.mean(np.abs(v - truth)[resolved] < 2 * err[resolved]) >= 0.7
    assert np.all(err > 0)
    assert abs(ring_fit.inclination - 60 * u.deg) < 2 * u.deg


def test_ring_fit_sees_the_rings_of_gas(ring_fit):
    curve = ring_fit.rotation_curve()
    r = curve["radius"].to_value(u.arcsec)
    sd = curve["surface_density"].value
    # two rings (9" and 18-22") with a trough between them at ~15"
    trough = sd[np.argmin(np.abs(r - 15))]
    assert sd[np.argmin(np.abs(r - 9))] > 1.5 * trough
    assert sd[np.argmin(np.abs(r - 19))] > 1.3 * trough


def test_rings_beat_the_arctan_on_a_declining_curve(ring_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", galkin.GalkinWarning)
        arctan = galkin.fit(ring_cube(1))
    curve = arctan.rotation_curve(ring_fit.rotation_curve()["radius"])
    assert not curve.meta["fitted_rings"]
    r = curve["radius"].to_value(u.arcsec)
    outer = r > 20
    off_arctan = np.abs(curve["v_rot"].to_value(KM_S) / true_speed(r) - 1)[outer]
    rings = ring_fit.rotation_curve()["v_rot"].to_value(KM_S)
    off_rings = np.abs(rings / true_speed(r) - 1)[outer]
    assert np.median(off_rings) < 0.5 * np.median(off_arctan)


def test_ring_results_report_rings_by_table_not_columns(ring_fit, tmp_path):
    table = ring_fit.to_table()
    assert "v_01" not in table.colnames and "sd_00" not in table.colnames
    assert table["velocity_profile"][0] == "rings"
    assert not ring_fit.at_bound  # holes at zero density are not "at a bound"
    curve = ring_fit.rotation_curve()
    curve.write(tmp_path / "curve.ecsv")
    back = type(curve).read(tmp_path / "curve.ecsv")
    assert back["v_rot"].unit == KM_S and len(back) == len(curve)
    assert ring_fit.v_01 > 0 * KM_S  # each ring is still an attribute


def test_rings_need_the_refinement():
    with pytest.raises(GalkinError, match="drop refine=False"):
        galkin.fit(ring_cube(3, n_particles=50_000), velocity="rings", refine=False)


def test_regularised_refinement_adds_the_prior_curvature(prepared):
    ip = RingsIntensityProfile().configure(prepared)
    vp = RingsVelocityProfile().configure(prepared)
    space = ParameterSpace(ip, vp)
    params = {n: torch.full((2,), 0.5, dtype=torch.float64) for n in space.names}
    extra = space.regularization(params)
    # second differences of the speeds (with V(0) = 0) and of the densities, and the pin
    n_v, n_sd = len(vp.parameter_names()), len(ip.parameter_names())
    assert extra.shape == (2, (n_v - 1) + (n_sd - 2) + 1)


@pytest.mark.slow
def test_ring_errors_cover_the_truth_on_independent_cubes():
    """Five more cubes (random PA): 68% intervals hold the truth 50-90% of the time."""
    covered, offsets, inclinations = [], [], []
    for seed in range(10, 15):
        result = fit_rings(ring_cube(seed))
        curve = result.rotation_curve()
        r = curve["radius"].to_value(u.arcsec)
        v, err = curve["v_rot"].to_value(KM_S), curve["v_rot_err"].to_value(KM_S)
        inside = (r > BEAM) & (r < 0.8 * 32)
        covered.append(np.abs(v - true_speed(r))[inside] < err[inside])
        offsets.append(np.median(np.abs(v / true_speed(r) - 1)[inside]))
        inclinations.append(abs(result.inclination.to_value(u.deg) - 60))
    assert np.median(offsets) < 0.03
    assert np.median(inclinations) < 2
    assert 0.5 <= np.mean(np.concatenate(covered)) <= 0.9


def test_simulator_takes_any_curve_and_density_but_not_both_kinds():
    base = dict(inclination=60 * u.deg, position_angle=0 * u.deg, n_particles=1000)
    curve = ([5, 10] * u.arcsec, [100, 150] * KM_S)
    with pytest.raises(GalkinError, match="either rotation_curve= or v_max="):
        galkin.simulate_cube(**base, rotation_curve=curve, v_max=100 * KM_S, r_scale=5 * u.arcsec)
    with pytest.raises(GalkinError, match="needs a surface density"):
        galkin.simulate_cube(**base, rotation_curve=curve)
    with pytest.raises(GalkinError, match="increasing"):
        galkin.simulate_cube(
            **base, rotation_curve=([10, 5] * u.arcsec, [1, 2] * KM_S), r_scale=5 * u.arcsec
        )
    cube = galkin.simulate_cube(
        **base, rotation_curve=curve, surface_density=([0, 8] * u.arcsec, [1, 1] * u.one)
    )
    truth = cube.meta["galkin_truth"]
    assert truth["v_max"] == 150 * KM_S and truth["curve_v_kms"] == [0.0, 100.0, 150.0]


def test_profile_options_pass_as_an_instance():
    cube = ring_cube(4, n_particles=200_000)
    result = fit_rings(cube, velocity=RingsVelocityProfile(n_rings=6), intensity="exponential")
    curve = result.rotation_curve()
    assert len(curve) == 6 and curve.meta["fitted_rings"]
    assert "r_scale" in result.to_table().colnames  # the parametric disc keeps its columns
    with pytest.raises(GalkinError, match="velocity= needs velocity profile"):
        galkin.fit(cube, velocity=RingsIntensityProfile())


def test_survey_table_of_ring_fits_needs_no_v_max():
    """fit_many's table flags poor fits by the speed at the data's edge when there is no v_max."""
    from galkin.survey_table import _flag_poor_fits

    table = QTable(
        {
            "status": ["ok", "ok", "ok"],
            "loss": [0.01, 0.01, 0.5],
            "v_scale": [100.0, 100.0, 100.0] * KM_S,
            "v_outer": [200.0, 200.0, 200.0] * KM_S,
        }
    )
    _flag_poor_fits(table)
    assert table["flag_poor_fit"].tolist() == [False, False, True]


@pytest.mark.slow
def test_solo_mode_starts_the_rings_from_its_own_training():
    """Solo: the SAE trains on the galaxy (with the proxies), then the rings are refined."""
    result = fit_rings(ring_cube(1), mode="solo", seed=0)
    assert result.mode == "solo" and result.velocity.name == "rings"
    curve = result.rotation_curve()
    r = curve["radius"].to_value(u.arcsec)
    inside = (r > BEAM) & (r < 0.8 * 32)
    v = curve["v_rot"].to_value(KM_S)
    assert np.median(np.abs(v / true_speed(r) - 1)[inside]) < 0.03
    assert abs(result.inclination - 60 * u.deg) < 2 * u.deg


def test_position_velocity_diagram_follows_the_model(ring_fit, cube1, tmp_path):
    import matplotlib.pyplot as plt

    from galkin.pv import plot_pv, pv_slice

    offset, velocity, slab = pv_slice(ring_fit, cube1, axis="major")
    s, v = offset.to_value(u.arcsec), velocity.to_value(KM_S)
    sin_i = np.sin(ring_fit.inclination.to_value(u.rad))
    vsys = ring_fit.systemic_velocity.to_value(KM_S)
    outer = (np.abs(s) > 8) & (np.abs(s) < 24)
    column = slab[:, outer]
    weights = np.where(column > 0.3 * column.max(0), column, 0.0)  # the line, not the noise
    centroid = (weights * v[:, None]).sum(0) / weights.sum(0)
    # the emission's velocity along the major axis is the truth's V sin i, on the
    # receding side for positive offsets
    expected = vsys + np.sign(s[outer]) * true_speed(np.abs(s[outer])) * np.sin(np.radians(60))
    assert np.median(np.abs(centroid - expected)) < 10
    model, _ = ring_fit.velocity_at(np.abs(s[outer]) * u.arcsec)
    predicted = vsys + np.sign(s[outer]) * model.to_value(KM_S) * sin_i
    assert np.median(np.abs(centroid - predicted)) < 10
    # the minor axis of a disc in pure rotation sits at the systemic velocity
    offset, velocity, slab = pv_slice(ring_fit, cube1, axis="minor")
    weights = np.where(slab > 0.3 * slab.max(), slab, 0.0)
    assert abs((weights * v[:, None]).sum() / weights.sum() - vsys) < 5
    fig = plot_pv(ring_fit, cube1, tmp_path / "pv.png")
    plt.close(fig)
    assert (tmp_path / "pv.png").stat().st_size > 10_000
    with pytest.raises(GalkinError, match="spatial shape"):
        pv_slice(ring_fit, cube1[:, :32, :32])
