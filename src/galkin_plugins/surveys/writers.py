"""Writing maps in the MaNGA DAP MAPS and SAMI DR2/DR3 data models.

The inverse of the :mod:`~galkin_plugins.surveys.manga` and
:mod:`~galkin_plugins.surveys.sami` readers, for mock surveys
(:mod:`galkin_plugins.mock_survey`) and tests: whatever these write, the
adapters read back through `galkin.load`.  Only what the readers (and a reader
of the real files) need is written, with the extension names, types and BUNITs
of the real files: the Halpha channel of the ``EMLINE_*`` extensions with their
``_IVAR`` and ``_MASK`` companions, the instrumental dispersion, optionally the
stellar kinematics (``STELLAR_*``, ``BIN_MFLUX``, ``BIN_SNR``), the PSF and
object cards of a MAPS file.  The SAMI writers live in
:mod:`~galkin_plugins.surveys.sami_writer` and are imported here.  Both carry a
celestial TAN WCS with north up and east left.
"""

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS

from galkin.exceptions import GalkinError
from galkin.units import KM_S, as_value

from ._maps_io import map_values, sky_header
from .manga import DAPPIXMASK_BITS
from .sami_writer import SAMI_FLUX_UNIT, sami_map_name, write_sami_maps, write_sami_stellar_maps

__all__ = [
    "write_manga_maps",
    "write_sami_maps",
    "write_sami_stellar_maps",
    "manga_maps_name",
    "sami_map_name",
    "MANGA_FLUX_UNIT",
    "SAMI_FLUX_UNIT",
    "MANGA_LINES",
    "NOCOV_MASK",
]

#: Unit of MaNGA's EMLINE_GFLUX (per spaxel).
MANGA_FLUX_UNIT = 1e-17 * u.erg / u.s / u.cm**2
#: Emission-line channels written to a MAPS file (``C01``, ``C02``, ...); Halpha is filled.
MANGA_LINES = ("Hb-4862", "OIII-5008", "Ha-6564", "NII-6585")
#: MANGA_DAPPIXMASK value of a spaxel outside the fibre bundle: NOCOV and DONOTUSE.
NOCOV_MASK = (1 << DAPPIXMASK_BITS["NOCOV"]) | (1 << DAPPIXMASK_BITS["DONOTUSE"])
_NOVALUE = (1 << DAPPIXMASK_BITS["NOVALUE"]) | (1 << DAPPIXMASK_BITS["DONOTUSE"])
#: BUNIT of the inverse-variance extensions, as the DAP writes them.
_IVAR_UNITS = {
    "flux": "(1E-17 erg/s/cm^2/spaxel)^{-2}",
    "flux density": "(1E-17 erg/s/cm^2/ang/spaxel)^{-2}",
    "speed": "(km/s)^{-2}",
}


def _errors_to_ivar(err):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(err) & (err > 0), 1.0 / err**2, 0.0)


def manga_maps_name(plateifu, daptype="HYB10-MILESHC-MASTARHC2", compressed=True):
    """The DAP file name ``manga-<plate>-<ifu>-MAPS-<daptype>.fits[.gz]``."""
    return f"manga-{plateifu}-MAPS-{daptype}.fits" + (".gz" if compressed else "")


def write_manga_maps(
    path,
    *,
    flux,
    flux_err,
    velocity,
    velocity_err,
    sigma,
    sigma_err,
    instrumental_sigma,
    mask=None,
    plateifu,
    mangaid="",
    psf_fwhm=2.5 * u.arcsec,
    pixel_scale=0.5 * u.arcsec,
    sky_center=None,
    object_center=None,
    cz=0 * KM_S,
    daptype="HYB10-MILESHC-MASTARHC2",
    stellar=None,
    overwrite=False,
):
    """Write Halpha (and stellar) maps as a MaNGA DAP MAPS file that `galkin.load` reads.

    Parameters
    ----------
    path : str or `pathlib.Path`
        Output file; name it with :func:`manga_maps_name` for the adapter to
        recognise it by name too (it also recognises ``DAPFRMT = 'MAPS'``).
    flux, flux_err : `~astropy.units.Quantity`
        Halpha flux per spaxel and its 1-sigma error (2-D, a flux such as
        :data:`MANGA_FLUX_UNIT`); the errors become ``EMLINE_GFLUX_IVAR``.
    velocity, velocity_err : `~astropy.units.Quantity`
        Line-of-sight velocity relative to ``cz`` and its error.
    sigma, sigma_err : `~astropy.units.Quantity`
        *Observed* Gaussian line width (``EMLINE_GSIGMA``, instrument included)
        and its error.
    instrumental_sigma : `~astropy.units.Quantity`
        ``EMLINE_INSTSIGMA``, the DAP's instrumental dispersion (the adapter
        subtracts ``1.045 * INSTSIGMA`` in quadrature).
    mask : array of int, optional
        ``MANGA_DAPPIXMASK`` bits per spaxel (``DAPPIXMASK_BITS``), used for
        the flux, velocity and width; e.g. :data:`NOCOV_MASK` outside the bundle.
        Non-finite values are written as 0 with NOVALUE | DONOTUSE.
    plateifu : str
        ``"<plate>-<ifudesign>"``.
    mangaid : str, optional
    psf_fwhm : `~astropy.units.Quantity`, optional
        Reconstructed r-band PSF FWHM (``RFWHM``; also written as GFWHM, IFWHM, ZFWHM).
    pixel_scale : `~astropy.units.Quantity`, optional
        Spaxel size (MaNGA: 0.5").
    sky_center : `~astropy.coordinates.SkyCoord`, optional
        Sky position of the map centre (default RA 150, Dec 2 deg).
    object_center : tuple of float, optional
        ``(x, y)`` 0-based pixel of the galaxy; written as OBJRA/OBJDEC (the
        adapter's default centre). Default the map centre.
    cz : `~astropy.units.Quantity`, optional
        The input redshift velocity (``SCINPVEL``).
    daptype : str, optional
    stellar : dict, optional
        Stellar kinematics: ``velocity``, ``velocity_err``, ``sigma`` (observed),
        ``sigma_err``, ``sigmacorr`` (the instrumental correction; a 3-D
        ``(2, y, x)`` array is written as DR17's two channels), ``flux`` and
        ``flux_err`` (the bin's mean flux, per angstrom) and ``snr``, written as
        ``STELLAR_VEL``, ``STELLAR_SIGMA``, ``STELLAR_SIGMACORR``, ``BIN_MFLUX``
        and ``BIN_SNR`` with their ``_IVAR`` and ``_MASK`` companions (``mask``
        applies to them too).
    overwrite : bool, optional

    Returns
    -------
    `pathlib.Path`
    """
    path = Path(path)
    flux_v = map_values(flux, "flux", MANGA_FLUX_UNIT)
    shape = flux_v.shape
    if flux_v.ndim != 2:
        raise GalkinError(f"flux must be a 2-D map; got shape {shape}.")
    planes = {
        "flux_err": map_values(flux_err, "flux_err", MANGA_FLUX_UNIT, shape),
        "velocity": map_values(velocity, "velocity", KM_S, shape),
        "velocity_err": map_values(velocity_err, "velocity_err", KM_S, shape),
        "sigma": map_values(sigma, "sigma", KM_S, shape),
        "sigma_err": map_values(sigma_err, "sigma_err", KM_S, shape),
        "inst": map_values(instrumental_sigma, "instrumental_sigma", KM_S, shape),
    }
    bits = np.zeros(shape, np.int64) if mask is None else np.asarray(mask, np.int64)
    if bits.shape != shape:
        raise GalkinError(f"mask must have the maps' shape {shape}; got {bits.shape}.")
    blank = ~(np.isfinite(flux_v) & np.isfinite(planes["velocity"]))
    bits = np.where(blank & (bits == 0), _NOVALUE, bits)
    pix = as_value(pixel_scale, "pixel_scale", u.arcsec, scalar=True)
    psf = as_value(psf_fwhm, "psf_fwhm", u.arcsec, scalar=True)
    sky = sky_header(shape, pix, sky_center)
    cx, cy = ((shape[1] - 1) / 2, (shape[0] - 1) / 2) if object_center is None else object_center
    obj_ra, obj_dec = (float(c) for c in WCS(sky).pixel_to_world_values(cx, cy))

    primary = fits.Header()
    primary.update(DAPFRMT="MAPS", DAPTYPE=daptype, VERSDAP="galkin-mock", PLATEIFU=plateifu)
    primary.update(MANGAID=mangaid, OBJRA=obj_ra, OBJDEC=obj_dec)
    primary["SCINPVEL"] = (as_value(cz, "cz", KM_S, scalar=True), "km/s")
    for card in ("RFWHM", "GFWHM", "IFWHM", "ZFWHM"):
        primary[card] = (psf, "arcsec")
    channel = MANGA_LINES.index("Ha-6564")

    def ext(name, plane, bunit=None):
        dtype = "i4" if name.endswith("_MASK") else "f4"
        fill = _NOVALUE if name.endswith("_MASK") else 0.0
        cube = np.full((len(MANGA_LINES), *shape), fill, dtype=float)
        cube[channel] = np.where(np.isfinite(plane), plane, 0.0)
        h = sky.copy()
        for k, line in enumerate(MANGA_LINES, start=1):
            h[f"C{k:02d}"] = line
        if bunit:
            h["BUNIT"] = bunit
        return fits.ImageHDU(cube.astype(dtype), h, name=name)

    hdus = [
        fits.PrimaryHDU(header=primary),
        ext("EMLINE_GFLUX", flux_v, "1E-17 erg/s/cm^2/spaxel"),
        ext("EMLINE_GFLUX_IVAR", _errors_to_ivar(planes["flux_err"]), _IVAR_UNITS["flux"]),
        ext("EMLINE_GFLUX_MASK", bits),
        ext("EMLINE_GVEL", planes["velocity"], "km/s"),
        ext("EMLINE_GVEL_IVAR", _errors_to_ivar(planes["velocity_err"]), _IVAR_UNITS["speed"]),
        ext("EMLINE_GVEL_MASK", bits),
        ext("EMLINE_GSIGMA", planes["sigma"], "km/s"),
        ext("EMLINE_GSIGMA_IVAR", _errors_to_ivar(planes["sigma_err"]), _IVAR_UNITS["speed"]),
        ext("EMLINE_GSIGMA_MASK", bits),
        ext("EMLINE_INSTSIGMA", planes["inst"], "km/s"),
    ]
    if stellar is not None:
        hdus += _manga_stellar(stellar, shape, bits, sky)
    fits.HDUList(hdus).writeto(path, overwrite=overwrite)
    return path


def _manga_stellar(stellar, shape, bits, sky):
    """The stellar-kinematics and bin-flux extensions of a MAPS file (2-D images)."""
    missing = {"velocity", "velocity_err", "sigma", "sigma_err", "sigmacorr", "flux"} - set(stellar)
    if missing:
        raise GalkinError(f"stellar lacks {sorted(missing)} for a MaNGA MAPS file.")

    def image(name, data, bunit=None):
        data = np.asarray(data)
        masked = name.endswith("_MASK")
        values = data if masked else np.where(np.isfinite(data), data, 0.0)
        h = sky.copy()
        if bunit:
            h["BUNIT"] = bunit
        if values.ndim == 3:  # DR17's two STELLAR_SIGMACORR channels
            h["C01"], h["C02"] = "resolution_difference", "fit"
        return fits.ImageHDU(values.astype("i4" if masked else "f4"), h, name=name)

    flux_unit = u.Unit("1e-17 erg / (s cm2 Angstrom)")
    speed = {
        k: map_values(stellar[k], k, KM_S, shape) for k in ("velocity", "velocity_err", "sigma")
    }
    speed["sigma_err"] = map_values(stellar["sigma_err"], "sigma_err", KM_S, shape)
    correction = np.asarray(as_value(stellar["sigmacorr"], "sigmacorr", KM_S), dtype=float)
    flux = map_values(stellar["flux"], "stellar flux", flux_unit, shape)
    flux_err = map_values(
        stellar.get("flux_err", 0.01 * np.abs(flux) * flux_unit), "flux_err", flux_unit, shape
    )
    snr = np.asarray(stellar.get("snr", np.where(flux_err > 0, flux / flux_err, 0.0)), float)
    return [
        image("BIN_MFLUX", flux, "1E-17 erg/s/cm^2/ang/spaxel"),
        image("BIN_MFLUX_IVAR", _errors_to_ivar(flux_err), _IVAR_UNITS["flux density"]),
        image("BIN_MFLUX_MASK", bits),
        image("BIN_SNR", snr),
        image("STELLAR_VEL", speed["velocity"], "km/s"),
        image("STELLAR_VEL_IVAR", _errors_to_ivar(speed["velocity_err"]), _IVAR_UNITS["speed"]),
        image("STELLAR_VEL_MASK", bits),
        image("STELLAR_SIGMA", speed["sigma"], "km/s"),
        image("STELLAR_SIGMA_IVAR", _errors_to_ivar(speed["sigma_err"]), _IVAR_UNITS["speed"]),
        image("STELLAR_SIGMA_MASK", bits),
        image("STELLAR_SIGMACORR", correction, "km/s"),
    ]
