"""Writing maps in the SAMI DR2/DR3 data model (:mod:`~galkin_plugins.surveys.sami_products`).

The inverse of the :mod:`~galkin_plugins.surveys.sami` reader, for mock surveys
and tests: the gas velocity, Halpha and dispersion files with their error
extensions and ``PSFFWHM``, and the stellar velocity and dispersion files
(``VEL_ERR``/``SIG_ERR``, ``FLUX``, ``FLUX_ERR``, ``SNR``), each with a celestial
TAN WCS (north up, east left) and SAMI's ``INSTRUME`` and ``CATID`` cards.
"""

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from galkin.units import KM_S, as_value

from ._maps_io import map_values, sky_header
from .sami_products import SAMI_INSTRUMENT

__all__ = ["write_sami_maps", "write_sami_stellar_maps", "sami_map_name", "SAMI_FLUX_UNIT"]

#: Unit of SAMI's Halpha maps (per spaxel).
SAMI_FLUX_UNIT = 1e-16 * u.erg / u.s / u.cm**2


def sami_map_name(catid, product, *, bundle="A", binning="default", components="1-comp"):
    """``<CATID>_<bundle>_<product>_<binning>_<components>.fits`` (DR3; DR2: ``bundle=None``)."""
    bundle = "" if bundle is None else f"_{bundle}"
    return f"{catid}{bundle}_{product}_{binning}_{components}.fits"


def write_sami_maps(
    directory,
    *,
    catid,
    flux,
    flux_err,
    velocity,
    velocity_err,
    dispersion=None,
    dispersion_err=None,
    psf_fwhm=2.1 * u.arcsec,
    pixel_scale=0.5 * u.arcsec,
    sky_center=None,
    bundle="A",
    binning="default",
    components="1-comp",
    overwrite=False,
):
    """Write one galaxy's SAMI velocity, Halpha and dispersion map files.

    Each map goes in the primary HDU of its own file, its error in an extension
    (``V_ERR``, ``HALPHA_ERR``, ``VDISP_ERR``). NaN marks spaxels outside the
    bundle or without a fit, as in the released maps. A 3-D ``(component, y,
    x)`` array is written as a multi-component map.

    Parameters
    ----------
    directory : str or `pathlib.Path`
        Where the files go (created if missing).
    catid : int or str
        The SAMI catalogue id.
    flux, flux_err : `~astropy.units.Quantity`
        Halpha flux per spaxel and error (a flux, e.g. :data:`SAMI_FLUX_UNIT`).
    velocity, velocity_err : `~astropy.units.Quantity`
        Velocity relative to the galaxy's redshift, and error.
    dispersion, dispersion_err : `~astropy.units.Quantity`, optional
        Intrinsic (instrument-corrected) dispersion and error; no file without it.
    psf_fwhm : `~astropy.units.Quantity` or None, optional
        Seeing FWHM, written as ``PSFFWHM`` in the velocity file (None: omitted,
        and ``galkin.load`` then needs ``beam=``).
    pixel_scale : `~astropy.units.Quantity`, optional
    sky_center : `~astropy.coordinates.SkyCoord`, optional
    bundle, binning, components : str, optional
        Parts of the file names (``bundle=None``: DR2 names, without one).
    overwrite : bool, optional

    Returns
    -------
    dict
        ``{"velocity", "halpha", "dispersion"}``: the paths written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flux_v = map_values(flux, "flux", SAMI_FLUX_UNIT)
    shape = flux_v.shape[-2:]
    products = {
        "gas-velocity": (
            "velocity",
            map_values(velocity, "velocity", KM_S, shape),
            map_values(velocity_err, "velocity_err", KM_S, shape),
            "V_ERR",
            "km/s",
        ),
        "Halpha": (
            "halpha",
            flux_v,
            map_values(flux_err, "flux_err", SAMI_FLUX_UNIT, shape),
            "HALPHA_ERR",
            "10**(-16) erg/s/cm**2/pixel",
        ),
    }
    if dispersion is not None:
        err = dispersion_err if dispersion_err is not None else np.zeros(shape) * KM_S
        products["gas-vdisp"] = (
            "dispersion",
            map_values(dispersion, "dispersion", KM_S, shape),
            map_values(err, "dispersion_err", KM_S, shape),
            "VDISP_ERR",
            "km/s",
        )
    pix = as_value(pixel_scale, "pixel_scale", u.arcsec, scalar=True)
    psf = as_value(psf_fwhm, "psf_fwhm", u.arcsec, scalar=True, allow_none=True)
    written = {}
    for product, (key, data, err, err_ext, bunit) in products.items():
        h = sky_header(shape, pix, sky_center)
        h.update(INSTRUME=SAMI_INSTRUMENT, CATID=str(catid), BUNIT=bunit)
        if psf is not None and product == "gas-velocity":
            h["PSFFWHM"] = (psf, "arcsec")
        hdus = [
            fits.PrimaryHDU(data.astype("f4"), h),
            fits.ImageHDU(err.astype("f4"), name=err_ext),
        ]
        name = sami_map_name(catid, product, bundle=bundle, binning=binning, components=components)
        fits.HDUList(hdus).writeto(directory / name, overwrite=overwrite)
        written[key] = directory / name
    return written


def write_sami_stellar_maps(
    directory,
    *,
    catid,
    flux,
    flux_err,
    velocity,
    velocity_err,
    snr,
    dispersion=None,
    dispersion_err=None,
    redshift=0.05,
    pixel_scale=0.5 * u.arcsec,
    sky_center=None,
    bundle=None,
    binning="default",
    components="two-moment",
    overwrite=False,
):
    """Write one galaxy's SAMI stellar-kinematics maps (pPXF, DR2/DR3 data model).

    ``<CATID>[_<bundle>]_stellar-velocity_<binning>_<components>.fits``: the
    velocity in the primary HDU, then ``VEL_ERR``, ``FLUX`` (the continuum),
    ``FLUX_ERR`` and ``SNR``; and, with a dispersion, the
    ``stellar-velocity-dispersion`` file (``SIG_ERR`` and the same others).
    The primary headers carry ``INSTRUME = 'AAOMEGA-SAMI'``, ``CATID`` and
    ``Z_PPXF`` and no seeing card, as the released maps do.

    Parameters
    ----------
    directory : str or `pathlib.Path`
    catid : int or str
    flux, flux_err : `~astropy.units.Quantity`
        Stellar continuum flux per spaxel and error.
    velocity, velocity_err : `~astropy.units.Quantity`
        Velocity relative to the redshift, and error.
    snr : array-like
        S/N per spaxel.
    dispersion, dispersion_err : `~astropy.units.Quantity`, optional
    redshift : float, optional
        ``Z_PPXF``.
    pixel_scale : `~astropy.units.Quantity`, optional
    sky_center : `~astropy.coordinates.SkyCoord`, optional
    bundle : str or None, optional
        None (default) for DR2 names, a letter for DR3's.
    binning, components : str, optional
    overwrite : bool, optional

    Returns
    -------
    dict
        ``{"velocity", "dispersion"}``: the paths written (dispersion None without one).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flux_v = map_values(flux, "flux", SAMI_FLUX_UNIT)
    shape = flux_v.shape
    common = [
        fits.ImageHDU(
            flux_v.astype("f4"), fits.Header({"BUNIT": "10**(-16) erg/s/cm**2/pixel"}), name="FLUX"
        ),
        fits.ImageHDU(
            map_values(flux_err, "flux_err", SAMI_FLUX_UNIT, shape).astype("f4"), name="FLUX_ERR"
        ),
        fits.ImageHDU(np.asarray(snr, dtype="f4"), name="SNR"),
    ]
    pix = as_value(pixel_scale, "pixel_scale", u.arcsec, scalar=True)
    products = {"stellar-velocity": (velocity, velocity_err, "VEL_ERR")}
    if dispersion is not None:
        err = dispersion_err if dispersion_err is not None else np.zeros(shape) * KM_S
        products["stellar-velocity-dispersion"] = (dispersion, err, "SIG_ERR")
    written = {"velocity": None, "dispersion": None}
    for product, (data, err, err_ext) in products.items():
        h = sky_header(shape, pix, sky_center)
        h.update(INSTRUME=SAMI_INSTRUMENT, CATID=str(catid), Z_PPXF=float(redshift), BUNIT="km/s")
        hdus = [
            fits.PrimaryHDU(map_values(data, product, KM_S, shape).astype("f4"), h),
            fits.ImageHDU(
                map_values(err, f"{product} error", KM_S, shape).astype("f4"), name=err_ext
            ),
            *(hdu.copy() for hdu in common),
        ]
        name = sami_map_name(catid, product, bundle=bundle, binning=binning, components=components)
        fits.HDUList(hdus).writeto(directory / name, overwrite=overwrite)
        written["velocity" if product == "stellar-velocity" else "dispersion"] = directory / name
    return written
