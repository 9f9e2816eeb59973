"""galkin.fit end to end: simulated cubes in, recovered parameters out."""

import warnings

import numpy as np
import pytest
from astropy import units as u
from radio_beam import Beam

import galkin
from galkin import GalkinError, KinematicMaps
from galkin.position_angle import angle_difference
from galkin.quality import FitQualityWarning

TRUTH = dict(
    inclination=55 * u.deg,
    position_angle=230 * u.deg,
    v_max=180 * u.km / u.s,
    r_turn=4 * u.arcsec,
    r_scale=8 * u.arcsec,
)


@pytest.fixture(scope="module")
def cube():
    return galkin.simulate_cube(**TRUTH, beam=2.5 * u.arcsec, snr=15, seed=3)


@pytest.fixture(scope="module")
def result(cube):
    return galkin.fit(cube, mode="solo", seed=0, mc_samples=50)


def test_solo_fit_recovers_the_truth(result):
    assert result.inclination.unit == u.deg
    assert abs(result.inclination - TRUTH["inclination"]) < 5 * u.deg
    assert abs(result.v_max / TRUTH["v_max"] - 1) < 0.1
    assert abs(angle_difference(result.position_angle.value, 230.0)) < 5
    assert abs(result.r_scale / TRUTH["r_scale"] - 1) < 0.15
    assert abs(result.r_turn / TRUTH["r_turn"] - 1) < 0.4
    assert abs(result.systemic_velocity) < 10 * u.km / u.s
    for name in ("inclination", "v_max", "r_turn", "r_scale"):
        err = getattr(result, f"{name}_err")
        assert err.unit == getattr(result, name).unit
        assert err > 0


def test_table_columns_and_units(result):
    table = result.to_table()
    assert len(table) == 1
    units = {
        "inclination": u.deg,
        "v_max": u.km / u.s,
        "r_turn": u.arcsec,
        "r_scale": u.arcsec,
        "position_angle": u.deg,
        "systemic_velocity": u.km / u.s,
    }
    for name, unit in units.items():
        assert table[name].unit == unit
        assert table[f"{name}_err"].unit == unit
    assert table["mode"][0] == "solo" and table["mc_samples"][0] == 50


def test_model_maps_on_input_grid(result, cube):
    m0, m1 = result.model_maps()
    maps = result.prepared.maps
    assert m0.shape == maps.shape and m1.unit == u.km / u.s
    valid = maps.mask
    resid = (maps.moment1 - m1)[valid]
    # The model reproduces the velocity field to a small fraction of the rotation amplitude.
    assert np.sqrt(np.mean(resid**2)) < 0.1 * TRUTH["v_max"]
    assert m0.unit == maps.moment0.unit


def test_beam_smearing_is_removed_from_the_dispersion_profile(result):
    """The cube's gas has sigma = 10 km/s; its moment 2 is inflated by the 2.5" beam."""
    model = result.model_dispersion()
    maps = result.prepared.maps
    assert model.shape == maps.shape and model.unit == u.km / u.s
    edges, corrected = result.dispersion_profile()
    _, observed = result.dispersion_profile(beam_smearing=False)
    assert edges.unit == u.arcsec and corrected.unit == u.km / u.s
    inner = slice(0, 4)  # inside ~r_turn, where the rotation curve is steep
    assert np.all(observed[inner] > 15 * u.km / u.s)  # beam smearing: well above 10 km/s
    np.testing.assert_allclose(corrected[inner].to_value(u.km / u.s), 10.0, atol=4.0)
    assert np.all(corrected <= observed)
    table = result.to_table()
    assert table["dispersion_profile"].shape == table["dispersion_profile_observed"].shape


def test_rotation_curve_and_plot(result, tmp_path):
    import matplotlib.pyplot as plt

    curve = result.rotation_curve([2, 10, 20] * u.arcsec)
    v, dv = curve["v_rot"], curve["v_rot_err"]
    expect = 2 / np.pi * 180 * np.arctan(np.array([2, 10, 20]) / 4.0)
    np.testing.assert_allclose(v.to_value(u.km / u.s), expect, rtol=0.15)
    assert np.all(dv >= 0)
    # by default at the rings laid out for the galaxy: every half beam to the data's edge
    rings = result.rotation_curve()
    assert not rings.meta["fitted_rings"] and rings.meta["velocity_profile"] == "arctan"
    assert np.all(np.diff(rings["radius"]) > 0) and len(rings) >= 2
    v_at, _ = result.velocity_at(rings["radius"])
    np.testing.assert_allclose(rings["v_rot"].value, v_at.value)
    assert rings["surface_density"].unit == result.prepared.maps.moment0.unit
    # an exponential disc: the surface density falls outwards
    assert np.all(np.diff(rings["surface_density"].value) < 0)
    path = tmp_path / "fit.png"
    fig = result.plot(path)
    plt.close(fig)
    assert path.stat().st_size > 10_000


def test_fit_accepts_kinematic_maps(cube):
    maps = galkin.maps_from_cube(cube)
    res = galkin.fit(maps, seed=1, mc_samples=10)
    assert abs(res.inclination - TRUTH["inclination"]) < 6 * u.deg


# ---------------------------------------------------------------------------- bad input
def test_unitless_array_is_refused():
    with pytest.raises(GalkinError, match="no units"):
        galkin.fit(np.ones((32, 32)))


def test_non_2d_3d_input_is_refused():
    with pytest.raises(GalkinError, match="4 dimensions"):
        galkin.fit(np.ones((2, 3, 4, 5)) * u.Jy)


def test_all_nan_maps():
    nan = np.full((16, 16), np.nan)
    with pytest.raises(GalkinError, match="no valid pixel"):
        KinematicMaps(nan * u.Jy, nan * u.km / u.s, pixel_scale=1 * u.arcsec)


def test_mismatched_shapes():
    with pytest.raises(GalkinError, match="same pixel grid"):
        KinematicMaps(
            np.ones((16, 16)) * u.Jy, np.ones((16, 17)) * u.km / u.s, pixel_scale=1 * u.arcsec
        )


def test_unitless_moment1():
    with pytest.raises(GalkinError, match="moment1 must be an astropy Quantity"):
        KinematicMaps(np.ones((16, 16)) * u.Jy, np.ones((16, 16)), pixel_scale=1 * u.arcsec)


def test_cube_without_beam_says_how_to_pass_one(cube):
    bare = galkin.simulate_cube(**TRUTH, beam=None, snr=15, seed=1)
    with pytest.raises(GalkinError, match=r"beam=Beam\("):
        galkin.fit(bare)


def test_frequency_cube_without_rest_frequency():
    freq = galkin.simulate_cube(**TRUTH, spectral_axis="frequency", snr=15, seed=1)
    header = freq.header
    header.remove("RESTFRQ", ignore_missing=True)
    header.remove("RESTFREQ", ignore_missing=True)
    from galkin.io.cube import SpectralCube

    stripped = SpectralCube(data=freq.unmasked_data[:], wcs=galkin_wcs_without_rest(freq))
    with pytest.raises(GalkinError, match="rest_frequency"):
        galkin.fit(stripped, beam=3 * u.arcsec)


def galkin_wcs_without_rest(cube):
    wcs = cube.wcs.deepcopy()
    wcs.wcs.restfrq = 0.0
    return wcs


def test_bad_mode_and_profiles(cube):
    with pytest.raises(GalkinError, match="mode='bayesian' is not supported.*'blind'"):
        galkin.fit(cube, mode="bayesian")
    with pytest.raises(GalkinError, match="others"):
        galkin.fit(cube, mode="combined")
    with pytest.raises(galkin.PluginError, match="Available: .*exponential"):
        galkin.fit(cube, intensity="no-such-profile")


def test_missing_file():
    with pytest.raises(GalkinError, match="does not exist"):
        galkin.fit("/no/such/cube.fits")


def test_a_velocity_image_is_not_taken_for_a_cube(tmp_path):
    """A bare 2-D moment-one image (as many are published): the error says what fit
    needs and where a velocity map alone goes."""
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros((16, 16))).writeto(tmp_path / "mom1.fits")
    with pytest.raises(GalkinError, match="2-D image, not a cube.*galkin.classify"):
        galkin.fit(tmp_path / "mom1.fits")
    # as CASA exports one: 4-D, one frequency channel and one Stokes plane (the error
    # said the spectral axis needed a rest frequency)
    casa = fits.Header({"CTYPE3": "FREQ", "CRVAL3": 230.5e9, "CTYPE4": "STOKES"})
    fits.PrimaryHDU(np.zeros((1, 1, 16, 16)), casa).writeto(tmp_path / "casa.fits")
    with pytest.raises(GalkinError, match="2-D image, not a cube.*galkin.classify"):
        galkin.fit(tmp_path / "casa.fits")


def test_beam_override_on_maps(cube):
    maps = galkin.maps_from_cube(cube)
    assert galkin.fitting.as_maps(maps, beam=Beam(5 * u.arcsec)).beam.major == 5 * u.arcsec


# ---------------------------------------------------------------------------- recovery
@pytest.mark.slow
def test_solo_recovery_on_ten_galaxies():
    """Issue acceptance: inclination within 5 deg and v_max within 10% for >= 8 of 10."""
    rng = np.random.default_rng(2026)
    good = 0
    for k in range(10):
        inc, vmax, pa = rng.uniform(30, 80), rng.uniform(100, 300), rng.uniform(5, 355)
        cube = galkin.simulate_cube(
            inclination=inc * u.deg,
            position_angle=pa * u.deg,
            v_max=vmax * u.km / u.s,
            r_turn=rng.uniform(2, 8) * u.arcsec,
            r_scale=rng.uniform(5, 10) * u.arcsec,
            beam=rng.uniform(2, 3) * u.arcsec,
            snr=rng.uniform(10, 20),
            seed=k,
        )
        with warnings.catch_warnings():  # quality flags of single galaxies are not the point
            warnings.simplefilter("ignore", FitQualityWarning)
            res = galkin.fit(cube, mode="solo", seed=k, mc_samples=20)
        ok = (
            abs(res.inclination.value - inc) < 5
            and abs(res.v_max.value / vmax - 1) < 0.1
            and abs(angle_difference(res.position_angle.value, pa)) < 5
        )
        good += ok
    assert good >= 8


@pytest.mark.slow
def test_combined_mode_trains_on_several_galaxies(cube):
    others = [
        galkin.simulate_cube(
            inclination=i * u.deg,
            position_angle=p * u.deg,
            v_max=v * u.km / u.s,
            r_turn=3 * u.arcsec,
            r_scale=7 * u.arcsec,
            beam=2.5 * u.arcsec,
            snr=15,
            seed=s,
        )
        for s, (i, p, v) in enumerate([(40, 20, 150), (70, 300, 220)])
    ]
    res = galkin.fit(cube, mode="combined", others=others, seed=0, mc_samples=20)
    assert abs(res.inclination - TRUTH["inclination"]) < 8 * u.deg
    assert abs(res.v_max / TRUTH["v_max"] - 1) < 0.15


@pytest.mark.parametrize("scale", ["linear", "log"])
def test_loss_recovers_amplitude_and_offset(scale):
    """The nuisance amplitude and velocity offset are solved exactly in either moment-0 scale."""
    import torch

    from galkin.loss import reconstruction_loss

    y, x = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    model0 = torch.exp(-torch.hypot(x, y / 0.5) / 0.3)[None]
    model1 = x[None]
    mask = (model0 > 1e-3).float()
    loss, amp, off = reconstruction_loss(
        2.5 * model0, model1 + 0.1, mask, model0, model1, moment0_scale=scale
    )
    assert amp.item() == pytest.approx(2.5, rel=1e-4)
    assert off.item() == pytest.approx(0.1, abs=1e-6)
    assert loss.item() < 1e-8
    with pytest.raises(ValueError, match="moment0_scale"):
        reconstruction_loss(model0, model1, mask, model0, model1, moment0_scale="sqrt")


def test_systemic_velocity_error_covers_the_truth():
    """Solved in closed form, the systemic velocity still gets a (conservative) error."""
    rng = np.random.default_rng(5)
    pulls = []
    for k in range(6):
        vsys = rng.uniform(-200, 2000)
        cube = galkin.simulate_cube(
            inclination=rng.uniform(30, 80) * u.deg,
            position_angle=rng.uniform(0, 360) * u.deg,
            v_max=rng.uniform(100, 300) * u.km / u.s,
            r_turn=rng.uniform(2, 10) * u.arcsec,
            r_scale=rng.uniform(5, 12) * u.arcsec,
            shape=(64, 64),
            beam=3 * u.arcsec,
            snr=10,
            systemic_velocity=vsys * u.km / u.s,
            seed=k,
        )
        with warnings.catch_warnings():  # some of these curves are still rising at r_max
            warnings.simplefilter("ignore", FitQualityWarning)
            res = galkin.fit(cube, mc_samples=50, seed=0)
        err = res.systemic_velocity_err.to_value(u.km / u.s)
        assert 0.1 < err < 10.0
        assert res.systemic_velocity_err_mc.to_value(u.km / u.s) == pytest.approx(err, rel=0.05)
        pulls.append((res.systemic_velocity.to_value(u.km / u.s) - vsys) / err)
    assert np.max(np.abs(pulls)) < 2.0
    assert 0.1 < np.sqrt(np.mean(np.square(pulls))) < 1.2


def test_error_maps_are_validated_and_carried():
    ones = np.ones((16, 16))
    maps = KinematicMaps(
        ones * u.Jy,
        ones * u.km / u.s,
        moment0_err=0.1 * ones * u.mJy,
        moment1_err=2 * ones * u.m / u.s,
        pixel_scale=1 * u.arcsec,
    )
    assert maps.moment0_err.unit == u.Jy and np.allclose(maps.moment0_err.value, 1e-4)
    assert np.allclose(maps.moment1_err.to_value(u.km / u.s), 2e-3)
    assert maps.replace(name="copy").moment1_err is not None
    with pytest.raises(GalkinError, match="moment1_err"):
        KinematicMaps(
            ones * u.Jy, ones * u.km / u.s, moment1_err=ones * u.Jy, pixel_scale=1 * u.arcsec
        )
    with pytest.raises(GalkinError, match="moment0_err"):
        KinematicMaps(
            ones * u.Jy, ones * u.km / u.s, moment0_err=ones * u.s, pixel_scale=1 * u.arcsec
        )


def test_cube_options_are_refused_for_maps(cube):
    maps = galkin.maps_from_cube(cube)
    with pytest.raises(GalkinError, match="drop noise="):
        galkin.fit(maps, noise=0.1 * u.Jy / u.beam)


def test_noiseless_cube_file_fits(tmp_path):
    """A model cube with no noise (line-free channels exactly zero) through galkin.fit(path)."""
    truth = dict(inclination=55.0, position_angle=210.0, v_max=180.0)
    cube = galkin.simulate_cube(
        inclination=truth["inclination"] * u.deg,
        position_angle=truth["position_angle"] * u.deg,
        v_max=truth["v_max"] * u.km / u.s,
        r_turn=4 * u.arcsec,
        r_scale=8 * u.arcsec,
        beam=3 * u.arcsec,
        snr=None,
        seed=5,
        n_particles=300_000,
    )
    path = tmp_path / "model.fits"
    cube.write(path)
    result = galkin.fit(path, mc_samples=20, seed=0)
    meta = result.prepared.maps.meta
    assert meta["noise_method"].startswith("none: a noiseless cube")
    assert meta["mask_method"].startswith("emission")
    assert abs(result.inclination.to_value(u.deg) - truth["inclination"]) < 5
    pa = result.position_angle.to_value(u.deg)
    assert abs(angle_difference(pa, truth["position_angle"])) < 3
    assert result.v_max.to_value(u.km / u.s) == pytest.approx(truth["v_max"], rel=0.1)


def sharp_edged_disc(inclination):
    """An exponential disc (r_scale 10") that ends at 2.2 scale lengths."""
    return galkin.simulate_cube(
        inclination=inclination * u.deg,
        position_angle=40 * u.deg,
        v_max=180 * u.km / u.s,
        r_turn=4 * u.arcsec,
        r_scale=10 * u.arcsec,
        outer_radius=22 * u.arcsec,
        beam=3 * u.arcsec,
        snr=30,
        seed=5,
    )


def test_a_sharp_edged_disc_is_fitted_with_the_truncated_exponential():
    """An exponential read a disc that ends at 2.2 scale lengths 5 deg too edge-on and
    flagged it ``truncated``; the truncated exponential fits its edge, asked for or,
    by default, as the refit the maps prefer (and the warning says so)."""
    truth = 72.0
    cube = sharp_edged_disc(truth)
    with pytest.warns(FitQualityWarning, match="truncated_exponential"):
        plain = galkin.fit(cube, intensity_fallback=False)
    assert plain.flags()["truncated"] and plain.output.fallback is None
    assert plain.inclination.to_value(u.deg) - truth > 2
    with pytest.warns(FitQualityWarning, match="refit with intensity='truncated_exponential'"):
        refit = galkin.fit(cube)
    assert refit.intensity.name == "truncated_exponential"
    assert abs(refit.inclination.to_value(u.deg) - truth) < 0.5
    record = refit.output.fallback
    assert record["reason"] == "truncated" and record["profile"] == "exponential"
    assert record["evidence"] > 10 and record["refinement"].pedestal < -0.01
    table = refit.to_table()  # the flag stays: it says why the profile changed
    assert table["flag_truncated"][0] and table["intensity_profile"][0] == "truncated_exponential"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitQualityWarning)  # unresolved: 3" beam
        edged = galkin.fit(cube, intensity="truncated_exponential")
    assert not edged.flags()["truncated"]
    assert abs(edged.inclination.to_value(u.deg) - truth) < 0.5
    assert edged.intensity.name == "truncated_exponential"
    assert edged.value("r_trunc").to_value(u.arcsec) < 30  # moved in from the start


def test_a_failed_refit_with_an_edge_keeps_the_first_fit(monkeypatch):
    """The refit only tries to improve a fit that stands on its own: if it fails,
    the exponential fit is returned, with a warning that says so."""
    import galkin.refine.proxy

    cube = sharp_edged_disc(72.0)

    def broken(*args, **kwargs):
        raise RuntimeError("linalg.solve: the matrix is singular")

    monkeypatch.setattr(galkin.refine.proxy, "refine_from_proxy", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = galkin.fit(cube)
    assert result.intensity.name == "exponential" and result.output.fallback is None
    assert any("fits are returned" in str(w.message) for w in caught)
