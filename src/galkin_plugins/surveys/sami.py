"""SAMI Galaxy Survey emission-line maps (DR2/DR3 data model), with the thesis's cuts.

Data model (SAMI DR2, Scott et al. 2018; DR3, Croom et al. 2021): one FITS file
per quantity, named ``<CATID>_<bundle>_<product>_<binning>_<components>.fits``,
e.g. ``9011900128_A_gas-velocity_default_1-comp.fits``, with the map in the
primary HDU and its error in an extension:

=================  ==================================  ============
product            primary HDU                         error HDU
=================  ==================================  ============
``gas-velocity``   line-of-sight velocity (km/s)       ``V_ERR``
``Halpha``         Halpha flux (1e-16 erg/s/cm2/spx)   ``HALPHA_ERR``
``gas-vdisp``      velocity dispersion (km/s)          ``VDISP_ERR``
=================  ==================================  ============

on a 50 x 50 grid of 0.5" spaxels.  Multi-component fits (``recom-comp``,
``2-comp``, ...) store a 3-D array: for Halpha the first plane is the total
flux (then one plane per component); for velocity and dispersion the planes
are the components.  galkin uses the first plane of each (the total flux and
the first component's kinematics) and records it in ``meta``.  The velocities
are relative to the galaxy's redshift; SAMI's LZIFU fits model the
instrumental resolution, so the dispersion is used as given.  The units are
read from BUNIT when present; the values in the table are assumed otherwise.
The seeing (PSF FWHM, arcsec) is read from a ``PSFFWHM`` card when one of the
files has it (the cubes do; whether the map files do is not documented), else
``beam=`` is required.

galkin's tests use small synthetic files written to this data model: no SAMI
file is shipped with them.

The quality cuts are those of the thesis (§4.2.4), each an option that ``None``
disables: catalogue FLAG > 0 rejected (when a catalogue is given), spaxels with
Halpha S/N < 10 masked, fewer than 200 good spaxels rejected, max ``|v|`` < 10 km/s
rejected.  The stellar-mass cut (log M* >= 7.5) needs the mass catalogue and
belongs to the Tully-Fisher stage.
"""

import re
from pathlib import Path

import numpy as np
from astropy import units as u

from galkin.exceptions import GalkinError, RejectedGalaxy
from galkin.io.maps import KinematicMaps
from galkin.io.survey import SurveyAdapter
from galkin.units import KM_S

from ._common import (
    celestial_wcs,
    check_catalogue_flag,
    check_rotation,
    open_fits,
    parse_unit,
    quiet_fits,
    snr_cut,
    speed_threshold,
)

__all__ = ["SamiAdapter", "sami_files", "SAMI_PIXEL_SCALE"]

#: SAMI's spaxel size.
SAMI_PIXEL_SCALE = 0.5 * u.arcsec
_NAME = re.compile(
    r"^(?P<catid>\d+)_(?P<bundle>[A-Z0-9]+)_(?P<product>gas-velocity|gas-vdisp|Halpha)_"
    r"(?P<binning>[A-Za-z0-9]+)_(?P<components>[A-Za-z0-9-]+)(?P<ext>\.fits(?:\.gz)?)$"
)
_PRODUCTS = {  # product: (key in `files`, error extension, default unit)
    "gas-velocity": ("velocity", "V_ERR", KM_S),
    "Halpha": ("halpha", "HALPHA_ERR", 1e-16 * u.erg / u.s / u.cm**2),
    "gas-vdisp": ("dispersion", "VDISP_ERR", KM_S),
}


def _velocity_file(directory):
    found = sorted(
        p
        for p in directory.iterdir()
        if (m := _NAME.match(p.name)) and m["product"] == "gas-velocity"
    )
    if len(found) > 1:
        preferred = [p for p in found if "_default_1-comp." in p.name]
        if len(preferred) != 1:
            names = ", ".join(p.name for p in found)
            raise GalkinError(
                f"{directory} holds several SAMI velocity maps ({names}); pass the one to use."
            )
        found = preferred
    return found[0] if found else None


def sami_files(path):
    """The SAMI map files of one galaxy, from any of them or from its directory.

    Returns
    -------
    dict or None
        ``{"catid", "velocity", "halpha", "dispersion"}`` (paths; dispersion may be
        None), or None when ``path`` is not a SAMI map file or directory.
    """
    path = Path(path)
    if path.is_dir():
        path = _velocity_file(path)
        if path is None:
            return None
    match = _NAME.match(path.name)
    if match is None:
        return None
    files = {"catid": match["catid"]}
    for product, (key, _, _) in _PRODUCTS.items():
        sibling = path.with_name(
            f"{match['catid']}_{match['bundle']}_{product}_{match['binning']}_"
            f"{match['components']}{match['ext']}"
        )
        files[key] = sibling if sibling.is_file() else None
    return files


def _read(path, product):
    _, err_ext, default_unit = _PRODUCTS[product]
    with quiet_fits(), open_fits(path) as hdul:
        header = hdul[0].header.copy()
        data = np.asarray(hdul[0].data, dtype=float)
        err = np.asarray(hdul[err_ext].data, dtype=float) if err_ext in hdul else None
    n_planes = 1 if data.ndim == 2 else data.shape[0]
    if data.ndim == 3:
        data, err = data[0], None if err is None else err[0]
    if data.ndim != 2:
        raise GalkinError(f"{path.name}: expected a 2-D map or a (component, y, x) array.")
    unit = parse_unit(header.get("BUNIT"), default=default_unit)
    return data, err, unit, header, n_planes


class SamiAdapter(SurveyAdapter):
    """SAMI DR2/DR3 Halpha maps -> `~galkin.KinematicMaps`, with the thesis's quality cuts.

    See the module docstring for the data model and the cuts.
    """

    name = "sami"

    @classmethod
    def identify(cls, path, header):
        """True for a SAMI velocity/Halpha/dispersion map file, or a directory holding one."""
        try:
            return sami_files(path) is not None
        except GalkinError:  # a directory with several candidates is still SAMI's
            return True

    def load(
        self,
        path,
        *,
        beam=None,
        snr_min=10.0,
        min_good_spaxels=200,
        min_velocity=10 * KM_S,
        catalogue=None,
        name=None,
        region=None,
        center=None,
        position_angle=None,
        systemic_velocity=None,
    ):
        """Read one galaxy's SAMI maps and apply the quality cuts.

        Parameters
        ----------
        path : `pathlib.Path`
            Any of the galaxy's map files, or its directory.
        beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
            The seeing; default the ``PSFFWHM`` card (required when absent).
        snr_min : float or None, optional
            Spaxels with Halpha flux / error below this are masked.
        min_good_spaxels : int or None, optional
            Fewer good spaxels than this: `~galkin.exceptions.RejectedGalaxy`.
        min_velocity : `~astropy.units.Quantity` or None, optional
            Max ``|v|`` over the good spaxels below this: rejected.
        catalogue : `astropy.table.Table`, optional
            With columns CATID and FLAG; FLAG > 0 (or no row) is rejected.
        name, region, center, position_angle, systemic_velocity : optional
            Passed to `~galkin.KinematicMaps` (``region`` restricts the mask).

        Returns
        -------
        `~galkin.KinematicMaps`
            Halpha flux, velocity and dispersion; ``meta`` records the files, the
            cuts, the number of good spaxels and the fill factor.

        Raises
        ------
        RejectedGalaxy
            When a cut rejects the galaxy (``reason`` says which).
        """
        files = sami_files(path)
        if files is None or files["velocity"] is None or files["halpha"] is None:
            raise GalkinError(
                f"{path} is not a complete SAMI map set: need <CATID>_<bundle>_gas-velocity_"
                "..._<components>.fits and the matching _Halpha_ file side by side."
            )
        catid = files["catid"]
        name = name or catid
        min_velocity = speed_threshold(min_velocity, "min_velocity")
        flag = check_catalogue_flag(catalogue, {"CATID": catid}, name)

        velocity, _, vunit, vheader, n_planes = _read(files["velocity"], "gas-velocity")
        flux, flux_err, funit, fheader, _ = _read(files["halpha"], "Halpha")
        if flux.shape != velocity.shape:
            raise GalkinError(f"{catid}: the Halpha and velocity maps differ in shape.")
        headers = [vheader, fheader]
        dispersion = None
        if files["dispersion"] is not None:
            disp, _, dunit, dheader, _ = _read(files["dispersion"], "gas-vdisp")
            dispersion = disp * dunit
            headers.append(dheader)
        velocity = (velocity * vunit).to(KM_S)

        good = np.isfinite(velocity.value) & np.isfinite(flux)
        if snr_min is not None and flux_err is None:
            raise GalkinError(
                f"{files['halpha'].name} has no HALPHA_ERR extension, so the S/N cut cannot be "
                "applied; pass snr_min=None to skip it."
            )
        good, _ = snr_cut(good, flux, flux_err, snr_min)
        n_good = int(good.sum())
        if min_good_spaxels is not None and n_good < min_good_spaxels:
            raise RejectedGalaxy(
                f"only {n_good} spaxels pass the S/N >= {snr_min:g} cut (need {min_good_spaxels})",
                name,
            )
        vmax = check_rotation(velocity.value, good, min_velocity, name)

        source = "argument"
        if beam is None:
            fwhm = next((h["PSFFWHM"] for h in headers if "PSFFWHM" in h), None)
            if fwhm is None:
                raise GalkinError(
                    f"The SAMI maps of {catid} carry no PSFFWHM card: pass the seeing FWHM "
                    "(from the cube header or the SAMI catalogue), e.g. beam=2.1*u.arcsec."
                )
            beam, source = float(fwhm) * u.arcsec, "header PSFFWHM"
        wcs = celestial_wcs(vheader)
        meta = {
            "survey": self.name,
            "catid": catid,
            "files": {k: str(v) for k, v in files.items() if k != "catid" and v is not None},
            "planes": n_planes,
            "plane_used": "first (total flux; first component's kinematics)",
            "cuts": {
                "snr_min": snr_min,
                "min_good_spaxels": min_good_spaxels,
                "min_velocity": None if min_velocity is None else min_velocity * KM_S,
                "catalogue_flag": flag,
            },
            "n_good_spaxels": n_good,
            "fill_factor": n_good / good.size,
            "max_abs_velocity": vmax * KM_S,
            "beam_source": source,
        }
        maps = KinematicMaps(
            flux * funit,
            velocity,
            dispersion=dispersion,
            mask=good,
            wcs=wcs,
            pixel_scale=SAMI_PIXEL_SCALE if wcs is None else None,
            beam=beam,
            center=center,
            position_angle=position_angle,
            systemic_velocity=systemic_velocity,
            name=name,
            meta=meta,
        )
        return maps if region is None else maps.restrict(region)
