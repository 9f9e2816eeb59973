"""Writing maps in the MaNGA DAP MAPS and SAMI DR2/DR3 data models.

The inverse of the :mod:`~galkin_plugins.surveys.manga` and
:mod:`~galkin_plugins.surveys.sami` readers, for mock surveys
(:mod:`galkin_plugins.mock_survey`) and tests: whatever these write, the
adapters read back through `galkin.load`.  Only what the readers (and a reader
of the real files) need is written: the Halpha channel of the ``EMLINE_*``
extensions with their ``_IVAR`` and ``_MASK`` companions, the instrumental
dispersion, the PSF and object cards of a MAPS file; the velocity, Halpha and
dispersion files of SAMI with their error extensions and ``PSFFWHM``.  Both
carry a celestial TAN WCS with north up and east left.
"""

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS

from galkin.exceptions import GalkinError
from galkin.units import KM_S, as_value

from .manga import DAPPIXMASK_BITS

__all__ = [
    "write_manga_maps",
    "write_sami_maps",
    "manga_maps_name",
    "sami_map_name",
    "MANGA_FLUX_UNIT",
    "SAMI_FLUX_UNIT",
    "MANGA_LINES",
    "NOCOV_MASK",
]

#: Unit of MaNGA's EMLINE_GFLUX (per spaxel).
MANGA_FLUX_UNIT = 1e-17 * u.erg / u.s / u.cm**2
#: Unit of SAMI's Halpha maps (per spaxel).
SAMI_FLUX_UNIT = 1e-16 * u.erg / u.s / u.cm**2
#: Emission-line channels written to a MAPS file (``C01``, ``C02``, ...); Halpha is filled.
MANGA_LINES = ("Hb-4862", "OIII-5008", "Ha-6564", "NII-6585")
#: MANGA_DAPPIXMASK value of a spaxel outside the fibre bundle: NOCOV and DONOTUSE.
NOCOV_MASK = (1 << DAPPIXMASK_BITS["NOCOV"]) | (1 << DAPPIXMASK_BITS["DONOTUSE"])
_NOVALUE = (1 << DAPPIXMASK_BITS["NOVALUE"]) | (1 << DAPPIXMASK_BITS["DONOTUSE"])


def _sky_header(shape, pixel_scale, sky_center):
    """A TAN celestial WCS centred on the map, north up, east left."""
    ny, nx = shape
    ra, dec = (150.0, 2.0) if sky_center is None else (sky_center.ra.deg, sky_center.dec.deg)
    h = fits.Header()
    for axis, name, value, sign, n in ((1, "RA", ra, -1, nx), (2, "DEC", dec, 1, ny)):
        h[f"CTYPE{axis}"] = f"{name:-<4}-TAN"
        h[f"CRVAL{axis}"] = value
        h[f"CDELT{axis}"] = sign * pixel_scale / 3600.0
        h[f"CRPIX{axis}"] = (n + 1) / 2.0
        h[f"CUNIT{axis}"] = "deg"
    h["RADESYS"] = "ICRS"
    return h


def _map(value, name, unit, shape=None):
    """A 2-D (or SAMI multi-component 3-D) Quantity as floats in ``unit``."""
    out = np.asarray(as_value(value, name, unit), dtype=float)
    if out.ndim not in (2, 3) or (shape is not None and out.shape[-2:] != shape):
        want = f"shape {shape}" if shape is not None else "a 2-D map"
        raise GalkinError(f"{name} must be {want}; got shape {out.shape}.")
    return out


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
    overwrite=False,
):
    """Write Halpha maps as a MaNGA DAP MAPS file that `galkin.load` reads.

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
    overwrite : bool, optional

    Returns
    -------
    `pathlib.Path`
    """
    path = Path(path)
    flux_v = _map(flux, "flux", MANGA_FLUX_UNIT)
    shape = flux_v.shape
    if flux_v.ndim != 2:
        raise GalkinError(f"flux must be a 2-D map; got shape {shape}.")
    planes = {
        "flux_err": _map(flux_err, "flux_err", MANGA_FLUX_UNIT, shape),
        "velocity": _map(velocity, "velocity", KM_S, shape),
        "velocity_err": _map(velocity_err, "velocity_err", KM_S, shape),
        "sigma": _map(sigma, "sigma", KM_S, shape),
        "sigma_err": _map(sigma_err, "sigma_err", KM_S, shape),
        "inst": _map(instrumental_sigma, "instrumental_sigma", KM_S, shape),
    }
    bits = np.zeros(shape, np.int64) if mask is None else np.asarray(mask, np.int64)
    if bits.shape != shape:
        raise GalkinError(f"mask must have the maps' shape {shape}; got {bits.shape}.")
    blank = ~(np.isfinite(flux_v) & np.isfinite(planes["velocity"]))
    bits = np.where(blank & (bits == 0), _NOVALUE, bits)
    pix = as_value(pixel_scale, "pixel_scale", u.arcsec, scalar=True)
    psf = as_value(psf_fwhm, "psf_fwhm", u.arcsec, scalar=True)
    sky = _sky_header(shape, pix, sky_center)
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
        ext("EMLINE_GFLUX_IVAR", _errors_to_ivar(planes["flux_err"])),
        ext("EMLINE_GFLUX_MASK", bits),
        ext("EMLINE_GVEL", planes["velocity"], "km/s"),
        ext("EMLINE_GVEL_IVAR", _errors_to_ivar(planes["velocity_err"])),
        ext("EMLINE_GVEL_MASK", bits),
        ext("EMLINE_GSIGMA", planes["sigma"], "km/s"),
        ext("EMLINE_GSIGMA_IVAR", _errors_to_ivar(planes["sigma_err"])),
        ext("EMLINE_GSIGMA_MASK", bits),
        ext("EMLINE_INSTSIGMA", planes["inst"], "km/s"),
    ]
    fits.HDUList(hdus).writeto(path, overwrite=overwrite)
    return path


def sami_map_name(catid, product, *, bundle="A", binning="default", components="1-comp"):
    """``<CATID>_<bundle>_<product>_<binning>_<components>.fits`` (SAMI DR2/DR3)."""
    return f"{catid}_{bundle}_{product}_{binning}_{components}.fits"


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
        Parts of the file names.
    overwrite : bool, optional

    Returns
    -------
    dict
        ``{"velocity", "halpha", "dispersion"}``: the paths written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flux_v = _map(flux, "flux", SAMI_FLUX_UNIT)
    shape = flux_v.shape[-2:]
    products = {
        "gas-velocity": (
            "velocity",
            _map(velocity, "velocity", KM_S, shape),
            _map(velocity_err, "velocity_err", KM_S, shape),
            "V_ERR",
            "km/s",
        ),
        "Halpha": (
            "halpha",
            flux_v,
            _map(flux_err, "flux_err", SAMI_FLUX_UNIT, shape),
            "HALPHA_ERR",
            "10**(-16) erg/s/cm**2/pixel",
        ),
    }
    if dispersion is not None:
        err = dispersion_err if dispersion_err is not None else np.zeros(shape) * KM_S
        products["gas-vdisp"] = (
            "dispersion",
            _map(dispersion, "dispersion", KM_S, shape),
            _map(err, "dispersion_err", KM_S, shape),
            "VDISP_ERR",
            "km/s",
        )
    pix = as_value(pixel_scale, "pixel_scale", u.arcsec, scalar=True)
    psf = as_value(psf_fwhm, "psf_fwhm", u.arcsec, scalar=True, allow_none=True)
    written = {}
    for product, (key, data, err, err_ext, bunit) in products.items():
        h = _sky_header(shape, pix, sky_center)
        h.update(CATID=str(catid), BUNIT=bunit)
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
