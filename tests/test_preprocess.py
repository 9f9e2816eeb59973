"""Preprocessing: centring, de-rotation, resampling and normalisation."""

import numpy as np
import pytest
from astropy import units as u
from radio_beam import Beam

from galkin import GalkinError, KinematicMaps
from galkin.preprocess import prepare
from galkin.simulation.analytic import thin_disc


def disc_maps(pa_deg, inc_deg=60.0, n=64, pixel=1.0, vsys=1000.0, beam=None, center=None):
    """Analytic thin-disc moment maps in the standard orientation (east = -x)."""
    c = (n - 1) / 2
    offset = (0.0, 0.0) if center is None else (center[0] - c, center[1] - c)
    d = thin_disc(pa_deg, inc_deg, n=n, pixel=pixel, offset=offset)
    m0, m1 = d["intensity"], vsys + d["velocity"]
    mask = d["radius"] < 25.0
    return KinematicMaps(
        m0 * u.Jy / u.beam * u.km / u.s,
        m1 * u.km / u.s,
        mask=mask,
        pixel_scale=pixel * u.arcsec,
        beam=beam,
    )


@pytest.mark.parametrize("pa", [0.0, 90.0, 200.0, 315.0])
def test_derotation_puts_receding_side_on_plus_x(pa):
    prep = prepare(disc_maps(pa), position_angle=pa * u.deg)
    mid = prep.moment1.shape[0] // 2
    row = prep.moment1[mid]
    assert row[mid + 10] > 0.5 and row[mid - 11] < -0.5
    # The minor axis is the zero-velocity line.
    assert np.abs(prep.moment1[:, mid]).max() < 0.1
    assert prep.scales.position_angle == pytest.approx(pa)


def test_normalisation_and_scales_round_trip():
    maps = disc_maps(30.0, vsys=1234.0)
    prep = prepare(maps, position_angle=30 * u.deg)
    valid = prep.mask > 0
    assert prep.moment0[valid].max() == pytest.approx(1.0)
    assert np.percentile(np.abs(prep.moment1[valid]), 99) == pytest.approx(1.0)
    assert prep.scales.systemic_velocity == pytest.approx(1234.0, abs=1.0)
    # Undoing the scales gives back the physical peak of moment 0 (less the few per
    # cent that bilinear resampling takes off the exponential's cusp) and the velocities.
    assert prep.moment0.max() * prep.scales.flux == pytest.approx(
        np.nanmax(maps.moment0.value), rel=0.05
    )
    vmax_phys = np.abs(prep.moment1[valid]).max() * prep.scales.velocity
    assert vmax_phys == pytest.approx(
        np.abs(maps.moment1.value - 1234.0)[maps.mask].max(), rel=0.02
    )
    assert np.all(prep.moment0[~valid] == 0) and np.all(prep.moment1[~valid] == 0)


def test_centre_from_moment0_centroid():
    maps = disc_maps(45.0, center=(30.0, 34.0))
    prep = prepare(maps, position_angle=45 * u.deg)
    assert prep.scales.center == pytest.approx((30.0, 34.0), abs=0.3)


def test_input_grid_maps_pixels_to_the_disc_frame():
    maps = disc_maps(90.0)
    prep = prepare(maps, position_angle=90 * u.deg)
    origin, steps = prep.scales.input_grid(maps.shape)
    cx, cy = prep.scales.center
    centre = origin + steps @ np.array([cx, cy])
    np.testing.assert_allclose(centre, 0, atol=1e-9)
    # PA = 90 deg: receding side to the east, i.e. towards -x in the image.
    left = origin + steps @ np.array([cx - 10, cy])
    assert left[0] == pytest.approx(10 / prep.scales.field) and abs(left[1]) < 1e-9


def test_beam_in_network_frame_and_downsampling():
    beam = Beam(major=6 * u.arcsec, minor=3 * u.arcsec, pa=30 * u.deg)
    coarse = prepare(disc_maps(120.0, beam=beam), position_angle=120 * u.deg)
    smaj, smin, angle = coarse.scales.beam
    field = coarse.scales.field
    # the bilinear resampling adds a tent of one input pixel: variance (1/6 + 1/12) px^2
    pixel = coarse.maps.pixel_scale.to_value(u.arcsec)
    blur = pixel**2 * (1 / 6 + 1 / 12)
    assert (smaj * field) ** 2 == pytest.approx((6.0 / 2.3548) ** 2 + blur, rel=1e-3)
    assert (smin * field) ** 2 == pytest.approx((3.0 / 2.3548) ** 2 + blur, rel=1e-3)
    assert np.degrees(angle) == pytest.approx(30 - 120)
    # A finely sampled map is smoothed before downsampling; the smoothing joins the beam.
    fine = prepare(disc_maps(120.0, n=256, pixel=0.25, beam=beam), position_angle=120 * u.deg)
    assert fine.scales.field == pytest.approx(field, rel=0.05)
    step = fine.scales.field / fine.scales.size
    smoothing = 0.5 * step  # anti-aliasing sigma: half an output pixel
    expected = (3.0 / 2.3548) ** 2 + smoothing**2 + 0.25**2 * (1 / 6 + 1 / 12)
    assert (fine.scales.beam[1] * fine.scales.field) ** 2 == pytest.approx(expected, rel=1e-3)


def test_clip_percentile_limits_outliers():
    maps = disc_maps(10.0)
    m1 = maps.moment1.value.copy()
    m1[32, 40] = 5000.0
    prep = prepare(
        maps.replace(moment1=m1 * u.km / u.s), position_angle=10 * u.deg, clip_percentile=96
    )
    assert np.abs(prep.moment1).max() <= 1.0 + 1e-6


def test_bad_arguments():
    maps = disc_maps(0.0)
    with pytest.raises(GalkinError, match="position_angle"):
        prepare(maps, position_angle=30)
    with pytest.raises(GalkinError, match="clip_percentile"):
        prepare(maps, position_angle=0 * u.deg, clip_percentile=0)
    with pytest.raises(GalkinError, match="KinematicMaps"):
        prepare(np.zeros((4, 4)))
    flat = maps.replace(moment1=np.full(maps.shape, 100.0) * u.km / u.s)
    with pytest.raises(GalkinError, match="no rotation"):
        prepare(flat, position_angle=0 * u.deg)
