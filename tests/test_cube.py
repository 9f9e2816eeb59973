"""Tests of `galkin.io.cube.maps_from_cube`: moment maps, noise and masks from spectral cubes.

The cubes are small rotating exponential discs built here (not with galkin.simulate_cube), observed
with a Gaussian beam and beam-correlated Gaussian noise, so every assertion compares a recovered
quantity with the truth that made the cube.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from radio_beam import Beam, Beams
from regions import CircleSkyRegion, EllipsePixelRegion, PixCoord
from scipy import ndimage

from galkin import GalkinError, GalkinWarning
from galkin.io.cube import (
    SpectralCube,
    StokesSpectralCube,
    VaryingResolutionSpectralCube,
    maps_from_cube,
)

# spectral-cube 0.7 emits an AstropyPendingDeprecationWarning when first imported, which
# filterwarnings=error would turn into a collection error; galkin.io.cube imports it with that
# one warning silenced, so the test takes the classes from there.
from galkin.io.fitscube import maps_from_fits
from galkin.io.noise import correlation_area

KMS = u.km / u.s
C_KMS = 299792.458
PIX = 2.0  # arcsec
BEAM_PX = 3.0  # beam FWHM in pixels
N, NCHAN, DV = 64, 48, 10.0
VSYS = 3000.0  # km/s: far enough that radio and optical velocities differ by v^2/c = 30 km/s
NOISE = 0.05  # Jy/beam, per channel; the disc peaks at 1 Jy/beam
R_SCALE = 6.0  # px
HI = 1.420405751768 * u.GHz
NGC2903 = Path(__file__).resolve().parents[2] / "shared" / "data" / "ngc2903"


def disc(*, noise=NOISE, seed=0, sigma_line=15.0, beam=True):
    """Rotating exponential disc (i = 60 deg, major axis along x), truncated at 4 r_scale.

    Returns a dict: ``data`` (NCHAN, N, N) in Jy/beam; the truth as observed, i.e. moments of
    the noiseless beam-smoothed cube over all channels (beam smearing pulls the line centres
    towards the systemic velocity and broadens the lines near the centre): ``vel`` (moment 1,
    km/s), ``disp`` (moment-2 width, km/s), ``peak`` (peak brightness); and ``empty``, the
    pixels more than three beams from any emission.
    """
    y, x = np.mgrid[:N, :N] - (N - 1) / 2
    inc = np.radians(60.0)
    r = np.hypot(x, y / np.cos(inc))
    vlos = VSYS + 2 * 150 / np.pi * np.arctan(r / 4.0) * np.sin(inc) * x / np.maximum(r, 1e-9)
    footprint = r < 4 * R_SCALE
    intensity = np.where(footprint, np.exp(-r / R_SCALE), 0.0)
    chan_v = VSYS + (np.arange(NCHAN) - NCHAN // 2) * DV
    data = intensity * np.exp(-0.5 * ((chan_v[:, None, None] - vlos) / sigma_line) ** 2)
    white = np.random.default_rng(seed).normal(size=data.shape)
    if beam:
        s = BEAM_PX / np.sqrt(8 * np.log(2))
        data = ndimage.gaussian_filter(data, (0, s, s))
        white = ndimage.gaussian_filter(white, (0, s, s))
    v = chan_v[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        vel = (data * v).sum(0) / data.sum(0)
        disp = np.sqrt((data * (v - vel) ** 2).sum(0) / data.sum(0))
    return dict(
        data=(data + noise * white / white.std()).astype(np.float32),
        vel=vel,
        disp=disp,
        peak=data.max(0),
        empty=ndimage.distance_transform_edt(~footprint) > 3 * BEAM_PX,
    )


def header(axis="VRAD-km/s", *, beam=True, restfrq=True):
    """Header for ``disc`` data with the given spectral axis (RA---SIN/DEC--SIN, CDELT1 < 0)."""
    h = fits.Header()
    h["CTYPE1"], h["CUNIT1"], h["CRVAL1"] = "RA---SIN", "deg", 150.0
    h["CDELT1"], h["CRPIX1"] = -PIX / 3600, (N + 1) / 2
    h["CTYPE2"], h["CUNIT2"], h["CRVAL2"] = "DEC--SIN", "deg", 20.0
    h["CDELT2"], h["CRPIX2"] = PIX / 3600, (N + 1) / 2
    h["CRPIX3"] = NCHAN // 2 + 1  # channel NCHAN // 2 (0-based) is at VSYS
    if axis in ("VRAD-km/s", "VRAD-m/s", "VELO-HEL"):
        scale = 1.0 if axis == "VRAD-km/s" else 1e3
        h["CTYPE3"] = axis[:4] if axis != "VELO-HEL" else axis
        h["CUNIT3"] = "km/s" if scale == 1 else "m/s"
        h["CRVAL3"], h["CDELT3"] = VSYS * scale, DV * scale
    elif axis == "FREQ":  # radio convention: f = f0 (1 - v / c), linear in v
        f0 = HI.to_value(u.Hz)
        h["CTYPE3"], h["CUNIT3"] = "FREQ", "Hz"
        h["CRVAL3"], h["CDELT3"] = f0 * (1 - VSYS / C_KMS), -f0 * DV / C_KMS
        if restfrq:
            h["RESTFRQ"] = f0
    elif axis == "WAVE":  # optical convention: lambda = lambda0 (1 + v / c)
        lam0 = 6562.8e-10
        h["CTYPE3"], h["CUNIT3"] = "WAVE", "m"
        h["CRVAL3"], h["CDELT3"] = lam0 * (1 + VSYS / C_KMS), lam0 * DV / C_KMS
        if restfrq:
            h["RESTWAV"] = lam0
    h["BUNIT"] = "Jy/beam"
    if beam:
        h["BMAJ"] = h["BMIN"] = BEAM_PX * PIX / 3600
        h["BPA"] = 0.0
    h["OBJECT"] = "DISC"
    return h


def make_cube(data, hdr):
    hdu = fits.PrimaryHDU(data, hdr)
    with warnings.catch_warnings():
        # astropy reports its WCS fixes (e.g. VELO-HEL -> VOPT) when the header is read.
        warnings.simplefilter("ignore", FITSFixedWarning)
        return SpectralCube.read(hdu)


@pytest.fixture(scope="module")
def truth():
    return disc()


@pytest.fixture(scope="module")
def cube(truth):
    return make_cube(truth["data"], header())


def bright(truth, level=0.3):
    """Pixels whose line peaks above ``level`` (6 sigma for the default noise)."""
    return truth["peak"] > level


# ---------------------------------------------------------------- spectral axes
@pytest.fixture(scope="module")
def clean():
    return disc(noise=0.02, seed=1)


@pytest.mark.parametrize(
    ("axis", "kwargs"),
    [
        ("VRAD-km/s", {}),
        ("VRAD-m/s", {}),
        ("VELO-HEL", {}),
        ("FREQ", {}),
        ("FREQ-no-restfrq", {"rest_frequency": HI}),
        ("FREQ-no-restfrq", {"rest_frequency": HI.to(u.cm, u.spectral())}),
        ("WAVE", {}),
    ],
)
def test_moment1_recovers_line_centres(clean, axis, kwargs):
    hdr = header(axis.replace("-no-restfrq", ""), restfrq="no-restfrq" not in axis)
    maps = maps_from_cube(make_cube(clean["data"], hdr), **kwargs)
    assert maps.moment1.unit == KMS
    assert maps.meta["channel_width"].to_value(KMS) == pytest.approx(DV, rel=1e-6)
    good = bright(clean) & maps.mask
    assert good.sum() > 0.98 * bright(clean).sum()
    err = (maps.moment1.value - clean["vel"])[good]
    # noise-limited (errors are correlated over a beam); the wrong convention would be off by
    # 30 km/s, an off-by-one reference pixel by 10
    assert abs(np.median(err)) < 2.0
    assert np.median(np.abs(err)) < 3.0


def test_spectral_axis_provenance(clean):
    freq = maps_from_cube(make_cube(clean["data"], header("FREQ")))
    assert freq.meta["spectral_axis"] == "FREQ"
    assert freq.meta["velocity_convention"] == "radio"
    assert u.isclose(freq.meta["rest_frequency"], HI)
    optical = maps_from_cube(
        make_cube(clean["data"], header("FREQ")), velocity_convention="optical"
    )
    shift = np.nanmedian(optical.moment1.value - freq.moment1.value)
    assert shift == pytest.approx(VSYS**2 / C_KMS, rel=0.05)  # v_opt - v_rad = v^2 / c
    hel = maps_from_cube(make_cube(clean["data"], header("VELO-HEL")))
    assert hel.meta["velocity_convention"] == "optical"  # astropy reads VELO-HEL as VOPT
    assert hel.meta["rest_frequency"] is None


def test_frequency_axis_without_rest_frequency_is_refused(truth):
    cube = make_cube(truth["data"], header("FREQ", restfrq=False))
    with pytest.raises(GalkinError, match=r"rest_frequency=.*GHz"):
        maps_from_cube(cube)
    with pytest.raises(GalkinError, match="rest_frequency must be a frequency"):
        maps_from_cube(cube, rest_frequency=1.42)
    with pytest.raises(GalkinError, match="rest_frequency must be a frequency"):
        maps_from_cube(cube, rest_frequency=3 * u.s)


def test_velocity_convention_is_checked(cube):
    with pytest.raises(GalkinError, match="already a velocity"):
        maps_from_cube(cube, velocity_convention="optical")
    with pytest.raises(GalkinError, match="velocity_convention must be"):
        maps_from_cube(cube, velocity_convention="doppler")
    assert maps_from_cube(cube, velocity_convention="radio").meta["velocity_convention"] == "radio"


# ---------------------------------------------------------------- noise
@pytest.mark.parametrize("beam", [True, False])
def test_noise_is_measured_in_line_free_channels(beam):
    data = disc(noise=0.08, beam=beam, seed=3)["data"]
    maps = maps_from_cube(make_cube(data, header()), mask="clip")
    assert maps.meta["noise_rms"].unit == u.Jy / u.beam
    assert maps.meta["noise_rms"].to_value(u.Jy / u.beam) == pytest.approx(0.08, rel=0.1)
    assert "line-free" in maps.meta["noise_method"]
    # the per-channel noise the mask used, also right in the channels of the bright line
    rms = maps.meta["channel_rms"].to_value(u.Jy / u.beam)
    assert np.median(rms) == pytest.approx(0.08, rel=0.1) and np.allclose(rms, 0.08, rtol=0.3)


@pytest.mark.parametrize("beam", [True, False])
def test_noise_correlation_area_is_measured_in_both_readers(beam, tmp_path):
    """White noise: one pixel; noise smoothed by the beam: ``4 pi sigma^2``."""
    data = disc(noise=0.05, beam=beam, seed=5)["data"]
    fast, reference = both_readers(data, header(beam=beam), tmp_path / "c.fits", mask="clip")
    s = BEAM_PX / np.sqrt(8 * np.log(2))
    expected = (4 * np.pi * s**2 if beam else 1.0) * PIX**2 * u.arcsec**2
    for maps in (fast, reference):
        area = maps.meta["noise_correlation_area"]
        # the sum stops where the correlation falls below 2%: a few per cent low
        assert area.unit == u.arcsec**2 and 0.88 < float(area / expected) < 1.04


def test_noise_correlation_area_leaves_the_emission_out():
    rng = np.random.default_rng(2)
    s = 2.0
    noise = ndimage.gaussian_filter(rng.normal(size=(24, 96, 96)), (0, s, s), mode="wrap")
    noise /= noise.std()
    y, x = np.mgrid[:96, :96] - 47.5
    blob = 20.0 * np.exp(-0.5 * np.hypot(x, y) ** 2 / 15.0**2)  # a bright, extended line
    data = noise.copy()
    data[8:16] += blob
    mask = np.zeros(data.shape, bool)
    mask[8:16] = blob > 0.5
    truth = correlation_area(noise)
    assert truth == pytest.approx(4 * np.pi * s**2, rel=0.1)
    assert correlation_area(data, mask) == pytest.approx(truth, rel=0.05)
    free = np.ones(24, bool)
    free[8:16] = False
    assert correlation_area(data, channels=free) == pytest.approx(truth, rel=0.1)
    assert correlation_area(data) > 2 * truth  # the emission's own extent, unless left out
    assert np.isnan(correlation_area(data[:1, :20, :20]))  # too few voxels to tell


def test_noise_that_varies_between_channels():
    data = disc(noise=0.05, seed=4)["data"]
    data[:8] = data[:8] / 2  # quieter band edge, e.g. a tapered bandpass
    maps = maps_from_cube(make_cube(data, header()), mask="clip")
    rms = maps.meta["channel_rms"].to_value(u.Jy / u.beam)
    assert np.median(rms[:8]) == pytest.approx(0.025, rel=0.1)
    assert np.median(rms[10:]) == pytest.approx(0.05, rel=0.1)
    assert np.allclose(rms[:8], 0.025, rtol=0.3) and np.allclose(rms[10:], 0.05, rtol=0.3)


def test_given_noise_is_used(cube):
    maps = maps_from_cube(cube, mask="clip", noise=0.1 * u.Jy / u.beam)
    assert maps.meta["noise_method"] == "given"
    assert u.isclose(maps.meta["noise_rms"], 0.1 * u.Jy / u.beam)
    # a 2x higher noise means a 2x higher clip level: fewer valid pixels
    assert maps.n_valid < maps_from_cube(cube, mask="clip").n_valid
    smooth = maps_from_cube(cube, noise=0.1 * u.Jy / u.beam)
    assert smooth.n_valid < maps_from_cube(cube).n_valid
    with pytest.raises(GalkinError, match="noise"):
        maps_from_cube(cube, noise=0.2)
    with pytest.raises(GalkinError, match="noise"):
        maps_from_cube(cube, noise=0.2 * KMS)


def test_cube_with_emission_in_every_channel_warns():
    data = disc(noise=0.01, sigma_line=300.0)["data"]
    with pytest.warns(GalkinWarning, match="no line-free channels"):
        maps = maps_from_cube(make_cube(data, header()), mask="clip")
    assert maps.meta["noise_rms"].value == pytest.approx(0.01, rel=0.2)


# ---------------------------------------------------------------- masks
@pytest.mark.parametrize("method", ["clip", "smooth"])
def test_masks_keep_the_disc_and_reject_noise(cube, truth, method):
    maps = maps_from_cube(cube, mask=method)
    assert maps.meta["mask_method"] == method
    assert maps.mask[bright(truth)].mean() > 0.98
    assert maps.mask[truth["empty"]].mean() < 0.01
    # invalid pixels are blank in every map
    assert np.isnan(maps.moment0.value[~maps.mask]).all()
    assert np.isnan(maps.moment1.value[~maps.mask]).all()
    err = (maps.moment1.value - truth["vel"])[bright(truth)]
    assert np.median(np.abs(err)) < 5.0  # half a channel, at S/N >= 6 per channel


def test_smooth_mask_recovers_faint_emission_better_than_clip(cube, truth):
    smooth = maps_from_cube(cube, mask="smooth")
    clip = maps_from_cube(cube, mask="clip")
    faint = (truth["peak"] > 0.1) & (truth["peak"] < 0.2)  # line peak at 2-4 sigma
    assert smooth.mask[faint].mean() > 0.9
    assert smooth.mask[faint].mean() > 2 * clip.mask[faint].mean()
    err = (smooth.moment1.value - truth["vel"])[faint & smooth.mask]
    assert np.median(np.abs(err)) < 6.0
    fainter = (truth["peak"] > 0.05) & (truth["peak"] < 0.1)  # 1-2 sigma: only smoothing helps
    assert smooth.mask[fainter].mean() > 0.3 and clip.mask[fainter].mean() < 0.1
    # clipping cuts the line wings, so its moment-2 width is biased low; the smooth mask's is not
    w = bright(truth)
    ratio = np.median(smooth.dispersion.value[w] / truth["disp"][w])
    assert ratio == pytest.approx(1.0, abs=0.15)
    assert np.median(clip.dispersion.value[w] / truth["disp"][w]) < 0.8


def test_no_mask_and_thresholds(cube, truth):
    none = maps_from_cube(cube, mask="none")
    assert none.meta["mask_threshold"] is None
    assert none.mask[truth["empty"]].mean() > 0.2  # noise: mom0 > 0 in about half the pixels
    strict = maps_from_cube(cube, mask="clip", clip_sigma=6)
    assert strict.meta["mask_threshold"] == 6.0
    assert strict.n_valid < maps_from_cube(cube, mask="clip").n_valid
    with pytest.raises(GalkinError, match="mask must be one of"):
        maps_from_cube(cube, mask="dame")
    with pytest.raises(GalkinError, match="clip_sigma must be a positive number"):
        maps_from_cube(cube, clip_sigma=-1)
    with pytest.raises(GalkinError, match="clip_sigma must be a positive number"):
        maps_from_cube(cube, clip_sigma=3 * u.km)


def test_nan_blanks_are_handled(truth):
    data = truth["data"].copy()
    y, x = np.mgrid[:N, :N] - (N - 1) / 2
    outside = np.hypot(x, y) > 28
    data[:, outside] = np.nan  # primary-beam cut-off
    data[30] = np.nan  # a flagged channel in the line
    maps = maps_from_cube(make_cube(data, header()))
    assert not maps.mask[outside].any()
    assert maps.mask[bright(truth)].mean() > 0.98
    assert maps.mask[truth["empty"] & ~outside].mean() < 0.01  # no false edge detections


# ---------------------------------------------------------------- region, beam, priors
def test_region_restricts_the_maps(cube):
    centre = PixCoord((N - 1) / 2, (N - 1) / 2)
    region = EllipsePixelRegion(centre, width=20, height=10)
    maps = maps_from_cube(cube, region=region)
    inside = region.to_mask(mode="center").to_image((N, N)).astype(bool)
    assert maps.mask.any() and not maps.mask[~inside].any()
    sky = CircleSkyRegion(SkyCoord(150 * u.deg, 20 * u.deg), radius=12 * u.arcsec)
    in_circle = maps_from_cube(cube, region=sky)
    y, x = np.mgrid[:N, :N] - (N - 1) / 2
    assert in_circle.n_valid > 16 and not in_circle.mask[np.hypot(x, y) > 6.5].any()
    with pytest.raises(GalkinError, match="region must be"):
        maps_from_cube(cube, region="circle")


def test_beam_from_header_argument_or_none(truth):
    data = truth["data"]
    header_beam = maps_from_cube(make_cube(data, header()))
    assert u.isclose(header_beam.beam.major, BEAM_PX * PIX * u.arcsec)
    assert header_beam.meta["beam_source"] == "cube"
    assert u.isclose(header_beam.meta["smooth_kernel_fwhm"], BEAM_PX * PIX * u.arcsec)

    beamless = make_cube(data, header(beam=False))
    maps = maps_from_cube(beamless)
    assert maps.beam is None and maps.meta["beam_source"] is None
    assert u.isclose(maps.meta["smooth_kernel_fwhm"], 2 * PIX * u.arcsec)  # 2 px default

    given = maps_from_cube(beamless, beam=Beam(8 * u.arcsec, 5 * u.arcsec, 30 * u.deg))
    assert u.isclose(given.beam.minor, 5 * u.arcsec) and given.meta["beam_source"] == "argument"
    circular = maps_from_cube(make_cube(data, header()), beam=10 * u.arcsec)  # overrides
    assert u.isclose(circular.beam.major, 10 * u.arcsec)
    assert u.isclose(circular.beam.minor, 10 * u.arcsec)
    with pytest.raises(GalkinError, match="beam"):
        maps_from_cube(beamless, beam=3.0)


def test_beam_from_aips_history_and_fits_file_without_beam(truth, tmp_path):
    hdr = header(beam=False)
    hdr["HISTORY"] = "AIPS   CLEAN BMAJ=  2.0000E-03 BMIN=  1.5000E-03 BPA=  30.00"
    fits.PrimaryHDU(truth["data"], hdr).writeto(tmp_path / "aips.fits")
    fits.PrimaryHDU(truth["data"], header(beam=False)).writeto(tmp_path / "nobeam.fits")
    # The user path: spectral-cube 0.7 reads a beam-less file without any warning.
    aips = maps_from_cube(SpectralCube.read(tmp_path / "aips.fits"))
    assert u.isclose(aips.beam.major, 7.2 * u.arcsec)
    assert u.isclose(aips.beam.pa, 30 * u.deg)
    assert maps_from_cube(SpectralCube.read(tmp_path / "nobeam.fits")).beam is None


def test_multibeam_cube_is_convolved_to_the_common_beam(truth):
    major = np.linspace(5.0, 7.0, NCHAN) * u.arcsec
    beams = Beams(major=major, minor=0.8 * major, pa=np.zeros(NCHAN) * u.deg)
    hdr = header(beam=False)
    cube = VaryingResolutionSpectralCube(
        truth["data"] * u.Jy / u.beam, WCS(hdr), beams=beams, header=hdr
    )
    maps = maps_from_cube(cube)
    assert maps.meta["convolved_to_common_beam"]
    assert u.isclose(maps.beam.major, 7.0 * u.arcsec, rtol=1e-3)
    # convolving to a coarser beam smears the velocities a little more than in the truth
    assert np.median(np.abs(maps.moment1.value - truth["vel"])[bright(truth)]) < 5.0


def test_stokes_axis_of_length_one(truth, tmp_path):
    from spectral_cube.utils import StokesWarning

    hdr = header()
    hdr["CTYPE4"], hdr["CRVAL4"], hdr["CDELT4"], hdr["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    fits.PrimaryHDU(truth["data"][None], hdr).writeto(tmp_path / "casa.fits")
    with pytest.warns(StokesWarning, match="returning spectral cube for I"):
        cube = SpectralCube.read(tmp_path / "casa.fits")  # drops the Stokes axis itself
    assert maps_from_cube(cube).mask[bright(truth)].all()
    stokes = maps_from_cube(StokesSpectralCube.read(tmp_path / "casa.fits"))
    assert stokes.meta["stokes"] == "I"
    assert stokes.mask[bright(truth)].all()


def test_priors_name_and_delegation(cube):
    maps = maps_from_cube(
        cube, center=(31.5, 31.5), position_angle=90 * u.deg, systemic_velocity=VSYS * KMS
    )
    assert maps.center == (31.5, 31.5) and u.isclose(maps.systemic_velocity, VSYS * KMS)
    assert maps.name == "DISC"
    assert maps_from_cube(cube, name="mine").name == "mine"
    assert u.isclose(maps.pixel_scale, PIX * u.arcsec)
    assert maps.wcs.naxis == 2 and maps.wcs.wcs.ctype[0] == "RA---SIN"
    assert maps.moment0.unit.is_equivalent(u.Jy / u.beam * KMS)
    with pytest.raises(GalkinError, match="systemic_velocity"):
        maps_from_cube(cube, systemic_velocity=50)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((10, 10)) * KMS, "galkin.KinematicMaps"),
        (np.zeros((5, 10, 10)), "SpectralCube.read"),
        (np.zeros((1, 5, 10, 10)), "Stokes"),
        ("cube.fits", "path"),
        (None, "NoneType"),
    ],
)
def test_non_cube_input_is_refused(bad, match):
    with pytest.raises(GalkinError, match=match):
        maps_from_cube(bad)


# ---------------------------------------------------------------- blanks written as a value
def test_maps_written_with_a_blank_fill_read_it_as_blanks():
    """Maps saved without NaN (0 or -1e30 around the galaxy, in both maps): the fill is
    not read as a velocity of 0 km/s over the sky (a fit of NGC 2903's SoFiA maps written
    so gave V_sys 0.1 km/s, i = 73 deg); the mask is the NaN-blanked maps' one."""
    from galkin.io.maps import KinematicMaps
    from galkin.simulation.analytic import thin_disc

    d = thin_disc(40.0, 60.0, n=64)
    inside = d["radius"] < 25.0
    m0, m1 = np.where(inside, d["intensity"], np.nan), np.where(inside, 900 + d["velocity"], np.nan)
    reference = KinematicMaps(m0 * u.Jy, m1 * KMS, pixel_scale=1 * u.arcsec)
    assert "blank_fill" not in reference.meta
    for fill in (0.0, -1e30):
        with pytest.warns(GalkinWarning, match="marks blanks"):
            maps = KinematicMaps(
                np.nan_to_num(m0, nan=0.0) * u.Jy,
                np.nan_to_num(m1, nan=fill) * KMS,
                pixel_scale=1 * u.arcsec,
            )
        np.testing.assert_array_equal(maps.mask, reference.mask)
        assert maps.meta["blank_fill"] == fill * KMS
    # a mask that already leaves the fill out: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error", GalkinWarning)
        masked = KinematicMaps(
            np.nan_to_num(m0) * u.Jy, np.nan_to_num(m1) * KMS, mask=inside, pixel_scale=1 * u.arcsec
        )
    np.testing.assert_array_equal(masked.mask, reference.mask)
    # real maps: NGC 2903's SoFiA pair written with zeros
    path = NGC2903 / "NGC_2903_mom1.fits"
    if not path.exists():
        pytest.skip(f"real data not present: {path}")
    import galkin

    sofia = galkin.load(path)
    v0 = np.where(sofia.mask, sofia.moment0.value, 0.0) * sofia.moment0.unit
    v1 = np.where(sofia.mask, sofia.moment1.value, 0.0) * sofia.moment1.unit
    with pytest.warns(GalkinWarning, match="marks blanks with the value 0 km/s"):
        zeros = KinematicMaps(v0, v1, beam=sofia.beam, wcs=sofia.wcs)
    np.testing.assert_array_equal(zeros.mask, sofia.mask)


# ---------------------------------------------------------------- a real cube
def test_ngc2903_wsrt_cube():
    path = NGC2903 / "NGC_2903.fits"
    if not path.exists():
        pytest.skip(f"real data not present: {path}")
    with warnings.catch_warnings():
        # DATE-OBS as a year, 'DEGREE' units, NCP -> SIN, VELO-HEL -> VOPT: astropy fixes these
        warnings.simplefilter("ignore", FITSFixedWarning)
        cube = SpectralCube.read(path)
    maps = maps_from_cube(cube)
    assert maps.meta["spectral_axis"] == "VOPT" and maps.meta["spectral_unit"] == "m / s"
    assert maps.wcs.wcs.ctype[0] == "RA---SIN"  # NCP is SIN with PV2_2 = cot(dec0)
    assert u.isclose(maps.pixel_scale, 20 * u.arcsec, rtol=1e-3)
    # the header carries BMAJ/BMIN (57.4" x 48.3", also as WSRT's BMMAJ/BMMIN in arcsec)
    assert u.isclose(maps.beam.major, 57.416 * u.arcsec, rtol=1e-3)
    assert u.isclose(maps.beam.minor, 48.315 * u.arcsec, rtol=1e-3)
    # header FATNOISE = 3.2 mJy/beam
    assert maps.meta["noise_rms"].to_value(u.mJy / u.beam) == pytest.approx(3.2, rel=0.15)
    v = maps.moment1.to_value(KMS)[maps.mask]
    assert np.median(v) == pytest.approx(556, abs=15)  # published systemic velocity
    lo, hi = np.percentile(v, [2, 98])
    assert 150 < (hi - lo) / 2 < 230  # projected rotation, about +-185 km/s
    assert maps.n_valid > 1000
    # agree with the SoFiA moment-1 map (m/s) where both have emission
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        with fits.open(NGC2903 / "NGC_2903_mom1.fits") as hdul:
            sofia_wcs, sofia_data = WCS(hdul[0].header), hdul[0].data.copy()
    yy, xx = np.nonzero(maps.mask)
    px, py = sofia_wcs.world_to_pixel(maps.wcs.pixel_to_world(xx, yy))
    sofia = sofia_data[np.round(py).astype(int), np.round(px).astype(int)] / 1e3
    both = np.isfinite(sofia)
    assert both.mean() > 0.9  # our mask lies within SoFiA's
    assert np.median(np.abs(maps.moment1.value[yy, xx] - sofia)[both]) < 8.0

    bigger = maps_from_cube(cube, beam=60 * u.arcsec)
    assert u.isclose(bigger.beam.major, 60 * u.arcsec)
    assert bigger.meta["beam_source"] == "argument"


# ---------------------------------------------------------------- the direct FITS reader
MAPS = ("moment0", "moment1", "dispersion", "moment0_err", "moment1_err")


def both_readers(data, hdr, path, **kwargs):
    """Maps of the same cube from the direct FITS reader and through spectral-cube."""
    fits.PrimaryHDU(data, hdr).writeto(path, overwrite=True)
    return maps_from_fits(path, **kwargs), maps_from_cube(make_cube(data, hdr), **kwargs)


def assert_same_maps(fast, reference, rtol=1e-5):
    assert (fast.meta["reader"], reference.meta["reader"]) == ("fits", "spectral-cube")
    assert np.array_equal(fast.mask, reference.mask)
    for name in MAPS:
        a, b = getattr(fast, name), getattr(reference, name)
        if a is None or b is None:  # no errors without noise
            assert a is None and b is None, name
            continue
        assert a.unit == b.unit, name
        scale = np.nanmax(np.abs(b.value))
        np.testing.assert_allclose(a.value, b.value, rtol=rtol, atol=rtol * scale, err_msg=name)
    assert fast.beam == reference.beam and fast.wcs.wcs.compare(reference.wcs.wcs)
    for key, value in reference.meta.items():
        if key != "reader":
            assert (
                np.all(u.isclose(fast.meta[key], value, rtol=rtol, equal_nan=True))
                if isinstance(value, u.Quantity)
                else fast.meta[key] == value
            ), key


@pytest.mark.parametrize("method", ["smooth", "clip", "none"])
@pytest.mark.parametrize("axis", ["VRAD-km/s", "VRAD-m/s", "VELO-HEL", "FREQ", "WAVE"])
def test_fits_reader_gives_the_spectral_cube_maps(truth, tmp_path, axis, method):
    fast, reference = both_readers(truth["data"], header(axis), tmp_path / "c.fits", mask=method)
    assert_same_maps(fast, reference)


def test_fits_reader_with_blanks_given_noise_and_no_beam(truth, tmp_path):
    data = truth["data"].copy()
    y, x = np.mgrid[:N, :N] - (N - 1) / 2
    data[:, np.hypot(x, y) > 28] = np.nan  # primary-beam cut-off
    data[30] = np.nan  # a flagged channel in the line
    assert_same_maps(*both_readers(data, header(), tmp_path / "blanks.fits"))
    noise = dict(noise=0.06 * u.Jy / u.beam)
    for method in ("smooth", "clip"):
        assert_same_maps(*both_readers(data, header(), tmp_path / "n.fits", mask=method, **noise))
    assert_same_maps(*both_readers(data, header(beam=False), tmp_path / "nobeam.fits"))
    # a frequency axis read in the optical convention is not linear in velocity:
    # spectral-cube takes every channel as wide as the reference one, galkin each as wide as
    # it is, and the moment-0 maps differ by the channel widths' spread (v / c ~ 0.2%)
    fast, reference = both_readers(
        data, header("FREQ"), tmp_path / "opt.fits", velocity_convention="optical"
    )
    assert_same_maps(fast, reference, rtol=3e-3)


def test_fits_reader_leaves_what_it_does_not_read_to_spectral_cube(truth, tmp_path):
    # a Stokes axis of length one is dropped by both readers
    hdr = header()
    hdr["CTYPE4"], hdr["CRVAL4"], hdr["CDELT4"], hdr["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    fits.PrimaryHDU(truth["data"][None], hdr).writeto(tmp_path / "casa.fits")
    stokes = maps_from_fits(tmp_path / "casa.fits")
    assert stokes.meta["reader"] == "fits" and stokes.mask[bright(truth)].all()
    # a cube with a beam table is a multi-beam cube: spectral-cube convolves it
    beams = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="BMAJ", format="E", unit="arcsec", array=np.full(NCHAN, 6.0)),
            fits.Column(name="BMIN", format="E", unit="arcsec", array=np.full(NCHAN, 5.0)),
            fits.Column(name="BPA", format="E", unit="deg", array=np.zeros(NCHAN)),
            fits.Column(name="CHAN", format="J", array=np.arange(NCHAN)),
            fits.Column(name="POL", format="J", array=np.zeros(NCHAN, int)),
        ],
        name="BEAMS",
    )
    hdr = header(beam=False)
    hdr["CASAMBM"] = True
    fits.HDUList([fits.PrimaryHDU(truth["data"], hdr), beams]).writeto(tmp_path / "mb.fits")
    multibeam = maps_from_fits(tmp_path / "mb.fits")
    assert multibeam.meta["reader"] == "spectral-cube"
    assert multibeam.meta["convolved_to_common_beam"]
    assert u.isclose(multibeam.beam.major, 6 * u.arcsec, rtol=1e-3)
    with pytest.raises(GalkinError, match="not a readable FITS file"):
        (tmp_path / "junk.fits").write_bytes(b"<html>not found</html>")
        maps_from_fits(tmp_path / "junk.fits")


# ---------------------------------------------------------------- moment errors
def test_moment_errors_match_the_scatter_over_noise_realisations(tmp_path):
    """The propagated errors against the scatter of the moments of 60 noisy copies.

    With the default smooth mask the mask hardly depends on the noise where the line
    is bright, and the first-order errors match the scatter.  (With ``mask="clip"``
    which wing channels pass depends on the noise, and the scatter is 1.4x (moment 0)
    and 2x (moment 1) the errors on these cubes: the docstring of moment_errors says so.)
    """
    clean = disc(noise=0.0)
    signal = 3 * clean["data"].astype(float)  # line peaks up to S/N 22
    s = BEAM_PX / np.sqrt(8 * np.log(2))
    rng = np.random.default_rng(11)
    runs = []
    for _ in range(60):
        white = ndimage.gaussian_filter(rng.normal(size=signal.shape), (0, s, s))
        data = (signal + NOISE * white / white.std()).astype(np.float32)
        fits.PrimaryHDU(data, header()).writeto(tmp_path / "r.fits", overwrite=True)
        maps = maps_from_fits(tmp_path / "r.fits")
        runs.append([getattr(maps, name).value for name in MAPS])
    m0, m1, _, e0, e1 = (np.array(r) for r in zip(*runs, strict=True))
    # pixels detected in every copy, whose line peaks at S/N > 6
    always = np.isfinite(m1).all(axis=0) & (3 * clean["peak"] > 6 * NOISE)
    assert always.sum() > 200
    for values, errors in ((m0, e0), (m1, e1)):
        ratio = np.median(errors, axis=0)[always] / values.std(axis=0, ddof=1)[always]
        # 60 copies measure each pixel's scatter to +-9%; the median over pixels to ~1-2%
        assert np.median(ratio) == pytest.approx(1.0, abs=0.1)
        assert np.percentile(ratio, 16) > 0.8 and np.percentile(ratio, 84) < 1.2


def test_a_single_channel_line_has_the_channels_quantisation_as_its_velocity_error():
    """Where the mask keeps one channel, moment 1 is that channel's velocity whatever
    its noise (first-order error zero), yet the line centre is only known to within
    the channel: dv / sqrt(12). A zero error made the reduced chi-square of moment 1
    ~1e13 on 3D-Barolo GALMOD cubes with narrow lines."""
    from galkin.io.moments import take_moments

    v = np.arange(0.0, 200.0, 20.0)  # km/s
    cube = np.zeros((v.size, 1, 3))
    cube[4, 0, 0] = 1.0  # a line inside one channel
    cube[3:6, 0, 1] = [0.5, 1.0, 0.5]  # three channels
    cube[4, 0, 2] = 1.0
    mask = cube > 0
    m = take_moments(cube, v, mask=mask, channel_rms=np.full(v.size, 0.01))
    assert m.moment1[0, 0] == 80.0
    assert m.moment1_err[0, 0] == pytest.approx(20.0 / np.sqrt(12))
    # several channels: the propagated noise, sqrt(2 * (20 * 0.01 * 20)^2) / 40
    assert m.moment1_err[0, 1] == pytest.approx(np.sqrt(2) * 4.0 / 40.0)


# ---------------------------------------------------------------- noiseless cubes
def test_a_cube_filled_with_zeros_beyond_its_edge_keeps_its_noise(tmp_path):
    """Zeros beyond a primary beam or a mosaic's edge are not noise samples: read as
    such, over 44% of the sky they made the noise five times smaller (and the mask
    and the moment errors followed). Constant spectra are blank; both readers agree."""
    g = disc()
    y, x = np.mgrid[:N, :N] - (N - 1) / 2
    beyond = np.hypot(x, y) > 0.42 * N
    assert beyond.mean() > 0.4
    maps = {}
    for fill in (np.nan, 0.0):
        data = g["data"].copy()
        data[:, beyond] = fill
        fast, reference = both_readers(data, header(), tmp_path / "edge.fits")
        assert_same_maps(fast, reference)
        maps[fill] = fast
    nan, zeros = maps[np.nan], maps[0.0]
    assert zeros.meta["constant_spectra"] == beyond.sum() and nan.meta["constant_spectra"] == 0
    assert zeros.meta["noise_rms"] == nan.meta["noise_rms"]
    assert nan.meta["noise_rms"].value == pytest.approx(NOISE, rel=0.1)
    assert np.array_equal(zeros.mask, nan.mask)
    np.testing.assert_allclose(zeros.moment1_err.value[zeros.mask], nan.moment1_err.value[nan.mask])


def test_noiseless_cube_uses_its_emission_as_the_mask(tmp_path):
    clean = disc(noise=0.0)  # line-free voxels exactly zero (float32 underflow of the wings)
    assert clean["data"].min() == 0 and (clean["data"] == 0).mean() > 0.5
    fast, reference = both_readers(clean["data"], header(), tmp_path / "model.fits")
    assert_same_maps(fast, reference)
    assert fast.meta["noise_method"].startswith("none: a noiseless cube")
    assert fast.meta["mask_method"].startswith("emission")
    assert fast.meta["requested_mask_method"] == "smooth" and fast.meta["noise_rms"] == 0
    assert fast.moment0_err is None and fast.moment1_err is None
    # every pixel with emission down to 1e-4 of the brightest pixel's (fainter, the beam's
    # far wings beyond the 4 sigma the decoder renders decide the map), and its moments
    # are those of the whole line
    data = clean["data"]
    total = np.where(data > 1e-6 * data.max(), data, 0.0).sum(axis=0)
    emission = total >= 1e-4 * total.max()
    assert np.array_equal(fast.mask, emission)
    assert (total > 0).sum() > 1.1 * emission.sum()  # far wings there were, and are left out
    # where the line peaks above 1e-3 of the cube's peak, its wings below 1e-6 do not count
    lit = clean["peak"] > 1e-3 * clean["peak"].max()
    assert np.max(np.abs(fast.moment1.value - clean["vel"])[lit]) < 0.05  # km/s
    assert np.max(np.abs(fast.dispersion.value / clean["disp"] - 1)[lit]) < 5e-3
    none = maps_from_fits(tmp_path / "model.fits", mask="none")
    assert none.meta["mask_method"] == "none"  # no mask: every pixel with flux
    assert np.array_equal(none.mask, clean["data"].max(axis=0) > 0)
    # a given noise level is used: clipped at 3x, or at 4x its smoothed value
    noise = 0.02 * u.Jy / u.beam
    for method in ("clip", "smooth"):
        fast, reference = both_readers(
            clean["data"], header(), tmp_path / "n.fits", mask=method, noise=noise
        )
        assert_same_maps(fast, reference)
        assert fast.meta["noise_method"] == "given"
        assert fast.mask[clean["peak"] > 0.1].all() and fast.n_valid < emission.sum()
    with pytest.raises(GalkinError, match="zero everywhere"):
        both_readers(np.zeros_like(clean["data"]), header(), tmp_path / "zero.fits")
