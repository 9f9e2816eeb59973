"""The SAMI map files (DR2/DR3 data model): names, products, and reading one product.

Data model (SAMI DR2, Scott et al. 2018; DR3, Croom et al. 2021): one FITS file
per quantity, named ``<CATID>_<product>_<binning>_<components>.fits`` in DR2
and ``<CATID>_<bundle>_<product>_<binning>_<components>.fits`` in DR3 (e.g.
``9011900128_A_gas-velocity_default_1-comp.fits``), with the map in the
primary HDU and the rest in extensions:

================================  ==============================  ===========================
product                           primary HDU                     extensions used
================================  ==============================  ===========================
``gas-velocity``                  gas velocity (km/s)             ``V_ERR``
``Halpha``                        Halpha flux (1e-16 erg/s/cm2)   ``HALPHA_ERR``
``gas-vdisp``                     gas dispersion (km/s)           ``VDISP_ERR``
``stellar-velocity``              stellar velocity (km/s)         ``VEL_ERR``, ``FLUX``,
                                                                  ``FLUX_ERR``, ``SNR`` (``SN``)
``stellar-velocity-dispersion``   stellar dispersion (km/s)       ``SIG_ERR``
================================  ==============================  ===========================

on a 50 x 50 grid of 0.5" spaxels with a celestial WCS; the primary header
carries ``INSTRUME = 'AAOMEGA-SAMI'`` and ``CATID`` (and ``Z_PPXF``, the
redshift, in the stellar files), so a file is recognised by its header as
well as its name.  The gas products come from LZIFU fits with 1, 2 or
``recom`` components: a 3-D ``(plane, y, x)`` array whose first plane galkin
uses (Halpha: the total flux; velocity and dispersion: the first component).
The stellar products come from pPXF fits (``two-moment`` or ``four-moment``),
one map each.  Velocities are relative to the galaxy's redshift; dispersions
are intrinsic (the fits model the instrument).  The units are read from BUNIT
when present.  The seeing (PSF FWHM, arcsec) is read from a ``PSFFWHM`` card
when one of the files has one; the stellar maps have none, so ``beam=`` is
then required.
"""

import re
from pathlib import Path

import numpy as np
from astropy import units as u

from galkin.exceptions import GalkinError
from galkin.units import KM_S

from ._common import open_fits, parse_unit, quiet_fits

__all__ = [
    "PRODUCTS",
    "SAMI_INSTRUMENT",
    "sami_files",
    "is_sami_header",
    "read_product",
    "product_of",
]

#: SAMI's instrument card.
SAMI_INSTRUMENT = "AAOMEGA-SAMI"
#: The unit of the Halpha and stellar flux maps without a BUNIT.
FLUX_UNIT = u.Unit("1e-16 erg / (s cm2)")
#: product: (kinematics, role, error extension, default unit of the map)
PRODUCTS = {
    "gas-velocity": ("gas", "velocity", "V_ERR", KM_S),
    "Halpha": ("gas", "flux", "HALPHA_ERR", FLUX_UNIT),
    "gas-vdisp": ("gas", "dispersion", "VDISP_ERR", KM_S),
    "stellar-velocity": ("stellar", "velocity", "VEL_ERR", KM_S),
    "stellar-velocity-dispersion": ("stellar", "dispersion", "SIG_ERR", KM_S),
}
_NAME = re.compile(
    r"^(?P<catid>\d+)(?:_(?P<bundle>[A-Z]))?_"
    r"(?P<product>stellar-velocity-dispersion|stellar-velocity|gas-velocity|gas-vdisp|Halpha)_"
    r"(?P<binning>[A-Za-z0-9-]+)_(?P<components>[A-Za-z0-9-]+)(?P<ext>\.fits(?:\.gz)?)$"
)
_PRODUCT_OF_EXTENSION = {"VEL_ERR": "stellar-velocity", "V_ERR": "gas-velocity"}


def _velocity_files(directory):
    found = sorted(
        p
        for p in directory.iterdir()
        if (m := _NAME.match(p.name)) and PRODUCTS[m["product"]][1] == "velocity"
    )
    if len(found) > 1:  # prefer the unbinned gas map, then the unbinned stellar one
        for preferred in ("_gas-velocity_default_1-comp.", "_stellar-velocity_default_two-moment."):
            chosen = [p for p in found if preferred in p.name]
            if len(chosen) == 1:
                return chosen
        names = ", ".join(p.name for p in found)
        raise GalkinError(
            f"{directory} holds several SAMI velocity maps ({names}); pass the one to use."
        )
    return found


def _product_from_extensions(path):
    """The product of a SAMI file whose name is not SAMI's, from its extensions."""
    with quiet_fits(), open_fits(path) as hdul:
        names = {hdu.name for hdu in hdul}
    return next((p for ext, p in _PRODUCT_OF_EXTENSION.items() if ext in names), None)


def sami_files(path):
    """The SAMI map files of one galaxy, from any of them or from its directory.

    Returns
    -------
    dict or None
        ``{"catid", "kinematics", "velocity", "flux", "dispersion"}`` (paths, None
        where missing; for stellar kinematics the flux is in the velocity file),
        or None when ``path`` is not a SAMI map file or directory.
    """
    path = Path(path)
    if path.is_dir():
        found = _velocity_files(path)
        if not found:
            return None
        path = found[0]
    match = _NAME.match(path.name)
    if match is None:  # identified by its header: a self-contained stellar map
        product = _product_from_extensions(path)
        if product is None:
            return None
        return {"catid": None, "kinematics": PRODUCTS[product][0], "velocity": path}
    kinematics = PRODUCTS[match["product"]][0]
    files = {"catid": match["catid"], "kinematics": kinematics}
    bundle = f"_{match['bundle']}" if match["bundle"] else ""
    for product, (kind, role, _, _) in PRODUCTS.items():
        if kind == kinematics:
            sibling = path.with_name(
                f"{match['catid']}{bundle}_{product}_{match['binning']}_"
                f"{match['components']}{match['ext']}"
            )
            files[role] = sibling if sibling.is_file() else None
    return files


def is_sami_header(header):
    """A SAMI map (not a cube) by its primary header: INSTRUME and at most a few planes."""
    if header is None or SAMI_INSTRUMENT not in str(header.get("INSTRUME", "")).upper():
        return False
    naxis = int(header.get("NAXIS", 0))
    return naxis == 2 or (naxis == 3 and int(header.get("NAXIS3", 0)) <= 10)


def read_product(path, product, *extensions):
    """``(first plane of the map, {extension: first plane}, unit, header, planes)``."""
    _, _, err_ext, default_unit = PRODUCTS[product]
    with quiet_fits(), open_fits(path) as hdul:
        header = hdul[0].header.copy()
        data = np.asarray(hdul[0].data, dtype=float)
        extra = {
            name: np.asarray(hdul[name].data, dtype=float)
            for name in (err_ext, *extensions)
            if name in hdul
        }
        units = {name: hdul[name].header.get("BUNIT") for name in extra}
    n_planes = 1 if data.ndim == 2 else data.shape[0]
    if data.ndim == 3:
        data = data[0]
        extra = {k: v[0] if v.ndim == 3 else v for k, v in extra.items()}
    if data.ndim != 2:
        raise GalkinError(f"{path.name}: expected a 2-D map or a (component, y, x) array.")
    extra["units"] = units
    return data, extra, parse_unit(header.get("BUNIT"), default=default_unit), header, n_planes


def product_of(path):
    """The product of a file named as SAMI names them (e.g. ``"stellar-velocity"``), or None."""
    match = _NAME.match(Path(path).name)
    return None if match is None else match["product"]
