"""Survey files as they come: SAMI DR2 names, SAMI and MaNGA stellar kinematics, header cards.

The files are small synthetic ones written to the SAMI DR2/DR3 and MaNGA DAP data models
(:mod:`galkin_plugins.surveys.writers`); their layout is checked against the real MaNGA DR15
MAPS file in ``../shared/data`` when it is present.
"""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.wcs import FITSFixedWarning

import galkin
from galkin import GalkinError
from galkin.io.files import survey_files
from galkin.io.loading import identify
from galkin.quality import FitQualityWarning
from galkin_plugins.surveys import MangaAdapter, SamiAdapter
from galkin_plugins.surveys.writers import (
    MANGA_FLUX_UNIT,
    SAMI_FLUX_UNIT,
    write_manga_maps,
    write_sami_maps,
    write_sami_stellar_maps,
)

KMS = u.km / u.s
MANGA = Path(__file__).resolve().parents[2] / "shared" / "data" / "manga"
MANGA = MANGA / "manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz"
CATID = "105420"
INC, VMAX = 55.0, 180.0


def disc(n, *, rt=4.0, inc=INC, vmax=VMAX):
    """Velocity (km/s) of a disc with its major axis along x, and the disc radius (px)."""
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    r = np.hypot(x, y / np.cos(np.radians(inc)))
    v = vmax * 2 / np.pi * np.arctan(r / rt) * np.sin(np.radians(inc)) * x / np.maximum(r, 1e-9)
    return v, r


def stellar_sami(directory, *, bundle=None, dispersion=True):
    """DR2-named stellar maps: S/N 40 exp(-r/8) (>= 3 inside r = 20.7 px), VEL_ERR 120 / S/N."""
    v, r = disc(50)
    snr = 40 * np.exp(-r / 8)
    velocity_err = 120.0 / snr  # above 30 km/s for 3 <= S/N < 4
    files = write_sami_stellar_maps(
        directory,
        catid=CATID,
        flux=snr * 0.1 * SAMI_FLUX_UNIT,
        flux_err=np.full((50, 50), 0.1) * SAMI_FLUX_UNIT,
        velocity=v * KMS,
        velocity_err=velocity_err * KMS,
        snr=snr,
        dispersion=np.full((50, 50), 90.0) * KMS if dispersion else None,
        dispersion_err=np.full((50, 50), 5.0) * KMS,
        redshift=0.043,
        bundle=bundle,
    )
    good = (snr >= 3) & (velocity_err <= 30)
    return files, v, good, velocity_err


def test_sami_dr2_stellar_maps_load_by_name_and_by_header(tmp_path):
    files, v, good, velocity_err = stellar_sami(tmp_path)
    assert files["velocity"].name == f"{CATID}_stellar-velocity_default_two-moment.fits"
    assert identify(files["velocity"]) is SamiAdapter
    with pytest.raises(GalkinError, match=r"no PSFFWHM.*galkin.fit\(path, beam="):
        galkin.load(files["velocity"])  # the stellar maps carry no seeing
    maps = galkin.load(files["velocity"], beam=2.0 * u.arcsec)
    assert maps.meta["kinematics"] == "stellar" and maps.meta["survey"] == "sami"
    assert maps.name == CATID and maps.meta["redshift"] == pytest.approx(0.043)
    np.testing.assert_array_equal(maps.mask, good)  # S/N >= 3 and VEL_ERR <= 30 km/s
    np.testing.assert_allclose(maps.moment1.value[good], v[good], atol=1e-3)
    np.testing.assert_allclose(maps.moment1_err.value[good], velocity_err[good], rtol=1e-5)
    assert maps.moment0_err is not None and u.allclose(maps.dispersion[good], 90 * KMS)
    assert u.isclose(maps.pixel_scale, 0.5 * u.arcsec, rtol=1e-6)
    # renamed, the file is still SAMI's by its header cards (INSTRUME, CATID), and self-contained
    renamed = tmp_path / "renamed" / "galaxy.fits"
    renamed.parent.mkdir()
    shutil.copy(files["velocity"], renamed)
    assert identify(renamed) is SamiAdapter
    again = galkin.load(renamed, beam=2.0 * u.arcsec)
    assert again.name == CATID and np.array_equal(again.mask, good)
    assert again.dispersion is None  # its dispersion file is not found without SAMI's name
    relaxed = galkin.load(files["velocity"], beam=2 * u.arcsec, max_velocity_error=None)
    assert relaxed.n_valid > maps.n_valid


def test_sami_gas_and_stellar_in_one_directory(tmp_path):
    stellar_sami(tmp_path, bundle="A")  # DR3 names
    v, r = disc(50)
    write_sami_maps(
        tmp_path,
        catid=CATID,
        flux=5.0 * np.exp(-r / 6) * SAMI_FLUX_UNIT,
        flux_err=np.full((50, 50), 0.05) * SAMI_FLUX_UNIT,
        velocity=v * KMS,
        velocity_err=np.full((50, 50), 3.0) * KMS,
    )
    gas = galkin.load(tmp_path)  # the directory: gas first
    assert gas.meta["kinematics"] == "gas" and gas.meta["beam_source"] == "header PSFFWHM"
    assert u.allclose(gas.moment1_err[gas.mask], 3 * KMS)  # V_ERR
    stellar = galkin.load(tmp_path, kinematics="stellar", beam=2 * u.arcsec)
    assert stellar.meta["kinematics"] == "stellar"
    assert stellar.meta["files"]["velocity"].endswith("_A_stellar-velocity_default_two-moment.fits")
    with pytest.raises(GalkinError, match="kinematics must be"):
        galkin.load(tmp_path, kinematics="dark")
    # a scan keeps the velocity maps only: one gas and one stellar map of this galaxy
    names = sorted(p.name for p in survey_files([tmp_path]))
    assert names == [
        f"{CATID}_A_gas-velocity_default_1-comp.fits",
        f"{CATID}_A_stellar-velocity_default_two-moment.fits",
    ]


def test_sami_dr2_gas_and_stellar_maps_fit(tmp_path):
    v, r = disc(50)
    write_sami_maps(
        tmp_path / "gas",
        catid=CATID,
        flux=5.0 * np.exp(-r / 6) * SAMI_FLUX_UNIT,
        flux_err=np.full((50, 50), 0.05) * SAMI_FLUX_UNIT,
        velocity=v * KMS,
        velocity_err=np.full((50, 50), 3.0) * KMS,
        bundle=None,
    )
    gas_file = tmp_path / "gas" / f"{CATID}_gas-velocity_default_1-comp.fits"
    assert gas_file.is_file() and identify(gas_file) is SamiAdapter
    files, *_ = stellar_sami(tmp_path / "stars")
    table = galkin.fit_many(
        [gas_file, files["velocity"]], beam=2.0 * u.arcsec, workers=1, mc_samples=20, seed=0
    )
    assert list(table["status"]) == ["ok", "ok"], list(table["error"])
    for row in table:
        assert abs(row["inclination"].to_value(u.deg) - INC) < 8
        assert abs(row["v_max"].to_value(KMS) / VMAX - 1) < 0.2


# ------------------------------------------------------------------ MaNGA stellar
def write_manga(path, *, channels=1):
    n = 30
    v, r = disc(n, rt=3.0)
    flux = 100 * np.exp(-r / 5)
    mask = np.where(r > 12, (1 << 0) | (1 << 30), 0)
    correction = np.full((n, n), 30.0)
    stellar = {
        "velocity": 0.9 * v * KMS,
        "velocity_err": np.full((n, n), 4.0) * KMS,
        "sigma": np.full((n, n), np.hypot(80.0, 30.0)) * KMS,  # intrinsic 80 km/s
        "sigma_err": np.full((n, n), 5.0) * KMS,
        "sigmacorr": (np.stack([correction, correction + 10]) if channels == 2 else correction)
        * KMS,
        "flux": 0.5 * flux * 1e-17 * u.erg / u.s / u.cm**2 / u.AA,
        "flux_err": np.full((n, n), 0.5) * 1e-17 * u.erg / u.s / u.cm**2 / u.AA,
        "snr": flux / 2,
    }
    write_manga_maps(
        path,
        flux=flux * MANGA_FLUX_UNIT,
        flux_err=np.ones((n, n)) * MANGA_FLUX_UNIT,
        velocity=v * KMS,
        velocity_err=np.full((n, n), 2.0) * KMS,
        sigma=np.full((n, n), 90.0) * KMS,
        sigma_err=np.ones((n, n)) * KMS,
        instrumental_sigma=np.full((n, n), 60.0) * KMS,
        mask=mask,
        plateifu="8000-1901",
        stellar=stellar,
    )
    return v, (mask == 0) & (flux / 2 >= 10)


@pytest.mark.parametrize("channels", [1, 2])
def test_manga_stellar_kinematics(tmp_path, channels):
    path = tmp_path / "manga-8000-1901-MAPS-HYB10-MILESHC-MASTARHC2.fits.gz"
    v, good = write_manga(path, channels=channels)
    assert identify(path) is MangaAdapter
    gas = galkin.load(path)
    assert gas.meta["kinematics"] == "gas" and u.allclose(gas.moment1_err[gas.mask], 2 * KMS)
    stars = galkin.load(path, kinematics="stellar")
    assert stars.meta["kinematics"] == "stellar"
    np.testing.assert_array_equal(stars.mask, good)  # DONOTUSE clear and BIN_SNR >= 10
    np.testing.assert_allclose(stars.moment1.value[good], 0.9 * v[good], atol=1e-3)
    assert u.allclose(stars.moment1_err[good], 4 * KMS)
    # sigma^2 - SIGMACORR^2, with the first channel of a DR17 two-channel correction
    np.testing.assert_allclose(stars.dispersion.value[good], 80.0, rtol=1e-5)
    assert stars.moment0.unit.is_equivalent(u.erg / u.s / u.cm**2 / u.AA)
    # the S/N >= 10 stars reach 2.7 r_turn (77% of V_max): whether the fitted curve
    # flattens inside the data depends on the fit, so the flag is not asserted here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitQualityWarning)
        result = galkin.fit(stars, mc_samples=20, seed=0)
    # receding side along +x (west): PA 270 deg; the projected speed is what a small,
    # unsmeared map pins down
    assert abs(result.position_angle.to_value(u.deg) - 270) < 5
    vsini = result.v_max * np.sin(result.inclination)
    assert vsini.to_value(KMS) == pytest.approx(0.9 * VMAX * np.sin(np.radians(INC)), rel=0.1)


def test_manga_fixture_follows_the_real_data_model(tmp_path):
    if not MANGA.exists():
        pytest.skip(f"real data not present: {MANGA}")
    path = tmp_path / "manga-8000-1901-MAPS-HYB10-MILESHC-MASTARHC2.fits"
    write_manga(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        with fits.open(MANGA) as real, fits.open(path) as mock:
            assert real[0].header["DAPFRMT"] == mock[0].header["DAPFRMT"] == "MAPS"
            for hdu in mock[1:]:
                ref = real[hdu.name]
                assert hdu.data.ndim == ref.data.ndim, hdu.name
                assert hdu.data.dtype.kind == ref.data.dtype.kind, hdu.name
                unit = str(ref.header.get("BUNIT", "")).replace(" ", "")
                assert str(hdu.header.get("BUNIT", "")).replace(" ", "") == unit, hdu.name
    real = galkin.load(MANGA, kinematics="stellar")
    assert real.meta["kinematics"] == "stellar" and real.n_valid > 300
    assert np.nanmedian(real.moment1_err.value[real.mask]) < 10  # km/s
    v = real.moment1.to_value(KMS)[real.mask]
    lo, hi = np.percentile(v, [5, 95])
    assert hi - lo > 80  # the stars rotate too
