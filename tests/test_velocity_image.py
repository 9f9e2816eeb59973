"""Real-map robustness of the network image: sizes, blanks, outliers, offsets, systemic velocity."""

import numpy as np
import pytest
from scipy import ndimage

from galkin.exceptions import GalkinError
from galkin.simulation.analytic import thin_disc
from galkin.velocity_image import roughness, valid_velocities, velocity_image


def _disc_map(n, pa=60.0, inclination=55.0, *, fill=0.45, offset=(0.0, 0.0)):
    """A thin disc of radius ``fill * n`` pixels on an ``n x n`` grid, blank outside."""
    disc = thin_disc(pa, inclination, n=n, r_turn=0.1 * n, r_scale=0.2 * n, offset=offset)
    vel = disc["velocity"]
    vel[disc["radius"] > fill * n] = np.nan
    return vel


def _image_error(image, reference, mask):
    return float(np.median(np.abs(image - reference)[mask]))


@pytest.mark.parametrize("n", [16, 40, 128, 400])
def test_any_size_gives_the_same_image(n):
    reference, ref_mask, _ = velocity_image(_disc_map(64))
    image, mask, _ = velocity_image(_disc_map(n))
    assert image.shape == (64, 64) and mask.dtype == bool
    both = mask & ref_mask
    assert both.sum() > 0.8 * ref_mask.sum()
    # the same disc: the images agree to a few percent (a 16-pixel map samples the
    # steep inner rotation curve, r_turn = 1.6 pixels, coarsely)
    assert _image_error(image, reference, both) < (0.15 if n == 16 else 0.03)


def test_outliers_are_rejected_and_do_not_change_the_image():
    rng = np.random.default_rng(0)
    clean = _disc_map(200) * 1.5
    reference, ref_mask, ref_scale = velocity_image(clean)
    dirty = clean.copy()
    rows, cols = np.nonzero(np.isfinite(dirty))
    pick = rng.choice(rows.size, 60, replace=False)
    dirty[rows[pick[:20]], cols[pick[:20]]] = rng.choice([-5e4, 5e4], 20)  # wild values
    dirty[rows[pick[20:]], cols[pick[20:]]] += rng.choice([-1, 1], 40) * rng.uniform(150, 400, 40)
    # a streak of adjacent outliers, as in a real map
    dirty[100, 60:70] = 3e4
    kept = valid_velocities(dirty, np.isfinite(dirty))
    assert not kept[rows[pick], cols[pick]].any() and not kept[100, 60:70].any()
    assert kept.sum() > 0.97 * np.isfinite(clean).sum()  # the real pixels stay
    image, mask, scale = velocity_image(dirty)
    assert scale == pytest.approx(ref_scale, rel=0.02)
    assert _image_error(image, reference, mask & ref_mask) < 0.01


def test_isolated_noise_pixels_are_dropped():
    vel = _disc_map(100)
    noise = np.full_like(vel, np.nan)
    noise[5, 5], noise[90, 8], noise[8, 92] = 10.0, -30.0, 50.0  # lone pixels in the blank corners
    merged = np.where(np.isfinite(vel), vel, noise)
    kept = valid_velocities(merged, np.isfinite(merged))
    assert not kept[5, 5] and not kept[90, 8] and not kept[8, 92]
    assert velocity_image(merged)[2] == pytest.approx(velocity_image(vel)[2], rel=1e-6)


@pytest.mark.parametrize(("blank", "inclination"), [(0.26, 20.0), (0.6, 55.0), (0.94, 55.0)])
def test_patchy_maps_with_many_blanks(blank, inclination):
    """Blank fractions of real CO maps: the valid pixels keep their normalised velocities."""
    rng = np.random.default_rng(1)
    vel = _disc_map(160, inclination=inclination, fill=0.5)
    disc = np.isfinite(vel)
    # patchy emission: smooth random field thresholded to leave ``blank`` of the map empty
    field = ndimage.gaussian_filter(rng.normal(size=vel.shape), 4)
    level = np.quantile(field[disc], max(0.0, 1 - (1 - blank) / disc.mean()))
    patchy = np.where(disc & (field >= level), vel, np.nan)
    assert np.isnan(patchy).mean() == pytest.approx(blank, abs=0.03)
    image, mask, scale = velocity_image(patchy)
    reference, ref_mask, ref_scale = velocity_image(vel)
    assert mask.sum() > 0
    # the same velocity scale within 10% and, pixel by pixel, the same field
    assert scale == pytest.approx(ref_scale, rel=0.1)
    v_max = np.nanmax(np.abs(vel))
    assert np.nanmax(np.abs(patchy)) / scale <= v_max / ref_scale * 1.1


def test_off_centre_galaxy_and_systemic_velocity_are_removed():
    centred = _disc_map(64, fill=0.4)
    big = np.full((300, 300), np.nan)
    big[30:94, 200:264] = centred + 1523.0  # far from the middle, V_sys not subtracted
    image, mask, _ = velocity_image(big)
    reference, ref_mask, _ = velocity_image(centred)
    assert _image_error(image, reference, mask & ref_mask) < 1e-6


def test_systemic_velocity_is_not_biased_by_one_sided_coverage():
    vel = _disc_map(100, pa=90.0, inclination=60.0)
    east = -(np.arange(100) - 49.5)
    one_sided = np.where(east[None, :] > -25, vel, np.nan)  # most of the approaching side lost
    image, mask, scale = velocity_image(one_sided + 200.0)
    # the systemic velocity stays 0 (200 in the input): the largest receding and approaching
    # speeds keep their symmetric values, so the field is not shifted
    raw = (image[mask] * scale).max(), (image[mask] * scale).min()
    assert raw[0] == pytest.approx(-raw[1], rel=0.1)


def test_hopeless_maps_raise_a_clear_error():
    with pytest.raises(GalkinError, match="valid pixels"):
        velocity_image(np.full((10, 10), np.nan))
    with pytest.raises(GalkinError, match="2-D"):
        velocity_image(np.zeros((3, 4, 5)))
    with pytest.raises(GalkinError, match="constant"):
        velocity_image(np.full((20, 20), 7.0))


def test_roughness_measures_pixel_noise_not_rotation():
    disc = thin_disc(40.0, 60.0, n=80, r_turn=6.0, r_scale=10.0)
    mask = disc["radius"] < 35
    smooth = disc["velocity"] / 200.0
    assert roughness(smooth, mask) < 0.02
    rng = np.random.default_rng(3)
    sigma = 0.1
    noisy = smooth + rng.normal(0, sigma, smooth.shape)
    # v minus the median of 8 noisy neighbours (variance ~ pi/2 sigma^2 / 8): 1.09 sigma
    assert roughness(noisy, mask) == pytest.approx(1.094 * sigma, rel=0.1)
    assert roughness(noisy, np.zeros_like(mask)) == 0.0
