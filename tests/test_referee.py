"""The referee benchmark (benchmarks/referee): its metrics, and KinMS's conventions.

The convention tests need KinMS (the ``bench`` extra) and are skipped without it;
the 3D-Barolo test also needs pyBBarolo (about 6 s). They check, on cubes the
referee writes, that what the truth JSON says is what the FITS file shows.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from referee.conditions import SETS, draw_galaxy  # noqa: E402
from referee.metrics import angle_difference, galaxy_metrics, summarise  # noqa: E402
from referee.report import TARGETS, Target  # noqa: E402
from referee.run_galkin import parse_option  # noqa: E402

from galkin.quality import FitQualityWarning  # noqa: E402

# ----------------------------------------------------------------------------- metrics


def _truth(kind="arctan"):
    return {
        "inclination_deg": 60.0,
        "position_angle_deg": 359.0,
        "systemic_velocity_kms": 1000.0,
        "center_px": [32.0, 32.0],
        "velocity_profile": {"kind": kind},
        "v_max_kms": 200.0,
        "v_sin_i_kms": 200.0 * np.sin(np.radians(60.0)),
        "radius_arcsec": [2.0, 4.0, 6.0],
        "v_rot_kms": [100.0, 150.0, 200.0],
    }


def _estimate(**changes):
    est = {
        "ok": True,
        "inclination": 62.0,
        "inclination_err": 1.0,
        "position_angle": 1.0,
        "position_angle_err": 3.0,
        "systemic_velocity": 1001.0,
        "systemic_velocity_err": None,
        "center_px": [35.0, 36.0],
        "v_max": 220.0,
        "v_max_err": 30.0,
        "curve_v": [110.0, 150.0, 180.0],
        "curve_v_err": [5.0, 5.0, 5.0],
        "runtime_s": 2.0,
    }
    return est | changes


def test_angle_difference_wraps():
    assert angle_difference(1.0, 359.0) == pytest.approx(2.0)
    assert angle_difference(359.0, 1.0) == pytest.approx(-2.0)
    assert angle_difference(180.0, 0.0) == pytest.approx(-180.0)


def test_galaxy_metrics_against_hand_computed_values():
    m = galaxy_metrics(_truth(), _estimate())
    assert m["inclination"] == {"res": 2.0, "abs": 2.0, "cover": (0, 1)}
    assert m["position_angle"]["res"] == pytest.approx(2.0)  # across 0/360
    assert m["position_angle"]["cover"] == (1, 1)
    assert m["systemic_velocity"]["cover"] is None
    assert m["center"]["res"] == pytest.approx(5.0)
    assert m["v_max"]["res"] == pytest.approx(10.0)
    assert m["v_max"]["cover"] == (1, 1)  # 10% within 30/200 = 15%
    sin62, sin60 = np.sin(np.radians(62)), np.sin(np.radians(60))
    assert m["v_sin_i"]["res"] == pytest.approx(100 * (220 * sin62 / (200 * sin60) - 1))
    # curve: +10%, 0%, -10% -> signed median 0, median |dV/V| 10%; 1 of 3 within 5 km/s
    assert m["curve"]["res"] == pytest.approx(0.0)
    assert m["curve"]["abs"] == pytest.approx(10.0)
    assert m["curve"]["cover"] == (1, 3)


def test_galaxy_metrics_skips_what_does_not_apply():
    assert galaxy_metrics(_truth(), {"ok": False, "error": "boom"}) == {}
    peaked = galaxy_metrics(_truth("peaked"), _estimate())
    assert "v_max" not in peaked and "v_sin_i" not in peaked  # no V_max in the truth
    barolo = galaxy_metrics(_truth(), _estimate(v_max=None, curve_v_err=None))
    assert "v_max" not in barolo and barolo["curve"]["cover"] is None


def test_summarise_robust_scatter_and_coverage():
    rng = np.random.default_rng(0)
    res = rng.normal(1.0, 2.0, 4000)
    res[:100] = 1e3  # outliers move the std, not the robust scatter
    entries = [{"res": r, "abs": abs(r), "cover": (int(abs(r) <= 2.0), 1)} for r in res]
    s = summarise(entries)
    assert s["n"] == 4000
    assert s["bias"] == pytest.approx(1.0, abs=0.15)
    assert s["scatter"] == pytest.approx(2.0, rel=0.07)
    assert s["std"] > 100
    # P(|N(1, 2)| <= 2) = Phi(0.5) - Phi(-1.5) = 0.625, for the 97.5% that are not outliers
    assert s["cover"] == pytest.approx(0.625 * 0.975, abs=0.03)
    assert summarise([])["n"] == 0


def test_targets_pass_fail_and_vs_barolo():
    stats = {
        "galkin": {"inclination": {"med_abs": 1.0, "cover": 0.7}},
        "barolo": {"inclination": {"med_abs": 2.0, "cover": None}},
    }
    assert Target("i", "galkin", "inclination", "cover", 0.55, 0.8).check(stats)[2] is True
    assert Target("i", "galkin", "inclination", "med_abs", high=0.5).check(stats)[2] is False
    vs = Target("i", "galkin", "inclination", "med_abs", vs_barolo=True).check(stats)
    assert vs[2] is True
    assert Target("i", "barolo", "inclination", "cover", 0.5, 0.9).check(stats)[2] is None
    assert all(key in TARGETS for s in SETS.values() for key in s.targets)


def test_parse_option():
    assert parse_option("mode=solo") == ("mode", "solo")
    assert parse_option("refine=False") == ("refine", False)
    assert parse_option("mc_samples = 200") == ("mc_samples", 200)
    key, value = parse_option("position_angle=30 deg")
    assert key == "position_angle" and value == 30 * u.deg
    with pytest.raises(ValueError, match="key=value"):
        parse_option("solo")


def test_draw_galaxy_is_reproducible_and_applies_the_resolution_cut():
    a, b = draw_galaxy(SETS["hard"], 3, 7), draw_galaxy(SETS["hard"], 3, 7)
    assert a == b and a != draw_galaxy(SETS["hard"], 4, 7)
    for k in range(30):
        g = draw_galaxy(SETS["noiseless"], k, 1)
        projected = g["velocity_profile"]["r_turn"] * np.cos(np.radians(g["inclination_deg"]))
        assert projected >= 1.5 * g["beam_fwhm_arcsec"]
        assert g["snr"] is None
        assert "r_edge" not in g["density_profile"]


def test_edge_set_cuts_the_gas_at_its_edge():
    from referee.profiles import density_extent, surface_density

    for k in range(10):
        density = draw_galaxy(SETS["edge"], k, 1)["density_profile"]
        edge = density["r_edge"]
        assert 2.0 <= edge / density["r_scale"] <= 4.0
        assert density_extent(density) == edge
        inside, outside = surface_density(density, [0.99 * edge, 1.01 * edge])
        assert inside > 0 and outside == 0
    plain = {"kind": "exponential", "r_scale": 5.0}
    assert density_extent(plain) == 60.0 and surface_density(plain, 60.0) < 1e-5


# ------------------------------------------------------- KinMS and GALMOD conventions


@pytest.fixture(params=["kinms", "galmod"])
def simulator(request):
    """Each forward model the referee can make cubes with (skipped when not installed)."""
    pytest.importorskip({"kinms": "kinms", "galmod": "pyBBarolo"}[request.param])
    return request.param


def _spec(simulator="kinms", **changes):
    spec = draw_galaxy(SETS["thin"], 0, 1)
    spec.update(n_particles=300_000, snr=None, dispersion_kms=5.0)
    spec.update(changes)
    if simulator != "kinms":
        spec["simulator"] = simulator
    return spec


def _moments(data, header):
    """Moment 0 and 1 (km/s, from the FITS spectral WCS) of a cube."""
    from astropy.wcs import WCS

    n_chan = data.shape[0]
    velocity = WCS(header).spectral.pixel_to_world(np.arange(n_chan)).to_value(u.km / u.s)
    m0 = data.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        m1 = np.tensordot(velocity, data, axes=1) / m0
    return m0, m1, velocity


def _sky_offsets(header, truth):
    """(east, north) offsets in arcsec of every pixel from the true centre, via the WCS."""
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS

    ny, nx = truth["shape"]
    y, x = np.mgrid[:ny, :nx]
    sky = WCS(header).celestial.pixel_to_world(x, y)
    centre = SkyCoord(*truth["center_sky_deg"], unit="deg", frame=sky.frame)
    east, north = centre.spherical_offsets_to(sky)
    return east.to_value(u.arcsec), north.to_value(u.arcsec)


@pytest.mark.parametrize("pa", [30.0, 200.0, 300.0])
def test_simulator_position_angle_is_east_of_north_to_the_receding_side(pa, simulator):
    from referee.cubes import make_cube

    data, header, truth = make_cube(_spec(simulator, position_angle_deg=pa))
    assert header["CDELT1"] < 0 and header["CTYPE3"] == "VRAD" and header["CUNIT3"] == "km/s"
    m0, m1, _ = _moments(data, header)
    east, north = _sky_offsets(header, truth)
    use = m0 > 0.05 * m0.max()
    # velocity-weighted mean position: points to the receding half of the major axis
    w = (m1 - truth["systemic_velocity_kms"])[use] * m0[use]
    measured = np.degrees(np.arctan2(np.sum(w * east[use]), np.sum(w * north[use])))
    assert abs(angle_difference(measured, pa)) < 2.0


def test_simulator_centre_systemic_velocity_and_wcs_agree_with_the_truth(simulator):
    from referee.cubes import make_cube

    spec = _spec(
        simulator, density_profile={"kind": "exponential", "r_scale": 4.0}, channel_phase=0.37
    )
    data, header, truth = make_cube(spec)
    m0 = data.sum(axis=0)
    y, x = np.mgrid[: m0.shape[0], : m0.shape[1]]
    centroid = [np.sum(x * m0) / m0.sum(), np.sum(y * m0) / m0.sum()]
    np.testing.assert_allclose(centroid, truth["center_px"], atol=0.05)
    east, north = _sky_offsets(header, truth)
    cx, cy = (int(round(c)) for c in truth["center_px"])
    offset = np.hypot(east[cy, cx], north[cy, cx])
    assert offset <= 0.71 * spec["pixel_scale_arcsec"]  # the centre pixel is the true centre
    _, _, velocity = _moments(data, header)
    mean_v = np.sum(velocity * data.sum(axis=(1, 2))) / data.sum()
    # a half-channel error in the spectral WCS would be 5 km/s
    assert mean_v == pytest.approx(truth["systemic_velocity_kms"], abs=0.5)
    peaks = data.max(axis=(1, 2))
    assert peaks[0] == 0 and peaks[-1] == 0  # line-free channels are exactly zero


@pytest.mark.parametrize("inclination", [30.0, 60.0])
def test_simulator_projects_the_rotation_by_sin_i(inclination, simulator):
    from referee.cubes import make_cube
    from referee.profiles import rotation_velocity

    velocity = {"kind": "arctan", "v_max": 200.0, "r_turn": 1.0}
    spec = _spec(
        simulator, inclination_deg=inclination, position_angle_deg=0.0, velocity_profile=velocity
    )
    data, header, truth = make_cube(spec)
    _, m1, _ = _moments(data, header)
    cx, cy = truth["center_px"]
    r = 15.0  # receding side, due north (PA 0)
    v_los = np.interp(cy + r, np.arange(m1.shape[0]), m1[:, int(round(cx))])
    expected = rotation_velocity(velocity, r) * np.sin(np.radians(inclination))
    assert v_los - truth["systemic_velocity_kms"] == pytest.approx(expected, rel=0.04)


def test_simulator_disc_thickness_is_an_exponential_scale_height(simulator):
    from referee.cubes import make_cube

    spec = _spec(
        simulator,
        inclination_deg=90.0,
        position_angle_deg=90.0,
        scale_height_arcsec=3.0,
        beam_fwhm_arcsec=0.5,
    )
    data, _, truth = make_cube(spec)
    profile = data.sum(axis=(0, 2))  # along north, the edge-on disc's z
    z = np.arange(profile.size) - truth["center_px"][1]
    mean_abs_z = np.sum(np.abs(z) * profile) / profile.sum()
    assert mean_abs_z == pytest.approx(3.0, rel=0.08)  # <|z|> = h for exp(-|z| / h)


@pytest.mark.parametrize("edge", [None, 40.0])
def test_simulator_gas_reaches_the_field_unless_the_disc_has_an_edge(edge, simulator):
    """Near edge-on, the minor axis sees radii far beyond the field's corner.

    A thin exponential disc at i = 80 deg: along the minor axis the sky intensity
    falls as exp(-|x| / (r_scale cos i)), out to de-projected radii of 70" in a
    64" field (generator version 1 cut the gas at 54"). With ``r_edge`` the gas
    stops there.
    """
    from referee.cubes import make_cube

    density = {"kind": "exponential", "r_scale": 20.0} | ({"r_edge": edge} if edge else {})
    spec = _spec(
        simulator,
        inclination_deg=80.0,
        position_angle_deg=0.0,  # major axis north: the minor axis is along x
        scale_height_arcsec=0.0,
        beam_fwhm_arcsec=0.5,
        density_profile=density,
        n_particles=1_000_000,
    )
    data, _, truth = make_cube(spec)
    m0 = data.sum(axis=0)
    cx, cy = truth["center_px"]
    row = m0[int(round(cy)) - 1 : int(round(cy)) + 2].mean(axis=0)
    x = np.arange(row.size) - cx

    def intensity(offset):  # both sides of the minor axis
        return (np.interp(offset, x, row) + np.interp(-offset, x, row)) / 2

    cos_i = np.cos(np.radians(80.0))
    for offset in (8.0, 10.0, 12.0):  # de-projected 46", 58", 69"
        radius = offset / cos_i
        expected = np.exp(-(radius - 4.0 / cos_i) / 20.0)
        observed = intensity(offset) / intensity(4.0)
        if edge is None or radius < edge - 2.0:
            assert observed == pytest.approx(expected, rel=0.12)
        else:
            assert observed < 0.05 * expected


def test_galkin_reads_a_referee_cube_in_the_same_convention(tmp_path, simulator):
    from astropy.io import fits
    from referee.cubes import make_cube

    import galkin

    data, header, truth = make_cube(_spec(simulator, position_angle_deg=230.0, snr=20.0))
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    with warnings.catch_warnings():  # this test is about conventions, not the flags
        warnings.simplefilter("ignore", FitQualityWarning)
        result = galkin.fit(path, mc_samples=20)  # as a user would
    assert abs(angle_difference(result.position_angle.to_value(u.deg), 230.0)) < 3.0
    np.testing.assert_allclose(result.prepared.scales.center, truth["center_px"], atol=0.5)
    assert result.systemic_velocity.to_value(u.km / u.s) == pytest.approx(
        truth["systemic_velocity_kms"], abs=2.0
    )


def test_barolo_reads_the_same_position_angle_and_centre(tmp_path):
    pytest.importorskip("kinms")
    pytest.importorskip("pyBBarolo")
    from astropy.io import fits
    from referee.cubes import make_cube
    from referee.run_barolo import run_barolo

    data, header, truth = make_cube(_spec(position_angle_deg=200.0, snr=20.0))
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    result = run_barolo(path, truth)
    assert result["ok"], result["error"]
    assert abs(angle_difference(result["position_angle"], 200.0)) < 3.0
    np.testing.assert_allclose(result["center_px"], truth["center_px"], atol=0.5)
    assert result["systemic_velocity"] == pytest.approx(truth["systemic_velocity_kms"], abs=2.0)


def test_barolo_rings_file_parsing(tmp_path):
    from referee.run_barolo import _estimate, _read_rings

    header = "#RAD(Kpc) RAD(arcs) VROT(km/s) INC(deg) P.A.(deg) XPOS(pix) YPOS(pix) VSYS(km/s)\n"
    empty = tmp_path / "rings_final1.txt"
    empty.write_text(header)  # what 3D-Barolo leaves when it stops before any ring
    assert _read_rings(empty) is None
    assert _read_rings(tmp_path / "missing.txt") is None
    rings = tmp_path / "rings_final2.txt"
    rows = ["0.1 2.0 100.0 60.0 359.0 31.5 32.5 1000.0", "0.2 4.0 200.0 60.0 1.0 31.5 32.5 1000.0"]
    rings.write_text(header + "\n".join(rows) + "\n")
    final = _read_rings(rings)
    est = _estimate(final, final, {"radius_arcsec": [1.0, 3.0, 6.0]})
    # linear from V(0) = 0 through the rings, flat beyond the last one
    np.testing.assert_allclose(est["curve_v"], [50.0, 150.0, 200.0])
    assert est["curve_extrapolated"] == 1
    assert abs(angle_difference(est["position_angle"], 0.0)) < 1e-6  # circular mean of 359, 1
    assert est["center_px"] == [31.5, 32.5] and est["inclination_err"] is None
