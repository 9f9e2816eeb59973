"""SAMI Galaxy Survey maps (DR2/DR3 data model): gas and stellar kinematics.

The data model (file names, products, extensions) is described in
:mod:`galkin_plugins.surveys.sami_products`.  Which kinematics are loaded
follows the file given (for a directory: gas when there is a gas velocity map,
else stellar; or ``kinematics=``), and ``meta`` says which.  The quality
cuts, each an option that ``None`` disables:

* gas (thesis §4.2.4): spaxels with Halpha S/N < ``snr_min`` (10) masked;
* stellar (van de Sande et al. 2017, the cuts SAMI recommends for two-moment
  velocities): spaxels with S/N (``SNR``) < ``stellar_snr_min`` (3) or a
  velocity error above ``max_velocity_error`` (30 km/s) masked;
* both: fewer than ``min_good_spaxels`` (200) good spaxels, or max ``|v|`` below
  ``min_velocity`` (10 km/s), rejected; with a ``catalogue`` (columns CATID and
  FLAG), FLAG > 0 rejected.

galkin's tests use small synthetic files written to this data model
(:mod:`galkin_plugins.surveys.writers`): no SAMI file is shipped with them.
"""

from pathlib import Path

import numpy as np
from astropy import units as u

from galkin.exceptions import GalkinError, RejectedGalaxy
from galkin.io.maps import KinematicMaps, celestial_wcs
from galkin.io.survey import SurveyAdapter
from galkin.units import KM_S

from ._common import (
    check_catalogue_flag,
    check_rotation,
    parse_unit,
    snr_cut,
    speed_threshold,
)
from .sami_products import (
    FLUX_UNIT,
    PRODUCTS,
    SAMI_INSTRUMENT,
    is_sami_header,
    product_of,
    read_product,
    sami_files,
)

__all__ = ["SamiAdapter", "sami_files", "SAMI_PIXEL_SCALE", "PRODUCTS", "SAMI_INSTRUMENT"]

#: SAMI's spaxel size.
SAMI_PIXEL_SCALE = 0.5 * u.arcsec


def _speed(values, unit):
    return None if values is None else (values * unit).to(KM_S)


def _seeing(beam, headers, catid):
    if beam is not None:
        return beam, "argument"
    fwhm = next((h["PSFFWHM"] for h in headers if "PSFFWHM" in h), None)
    if fwhm is None:
        raise GalkinError(
            f"The SAMI maps of {catid} carry no PSFFWHM card (the stellar maps never do): "
            "pass the seeing FWHM from the cube header or the SAMI catalogue, e.g. "
            "galkin.fit(path, beam=2.1*u.arcsec)."
        )
    return float(fwhm) * u.arcsec, "header PSFFWHM"


class SamiAdapter(SurveyAdapter):
    """SAMI DR2/DR3 gas (Halpha) and stellar kinematic maps -> `~galkin.KinematicMaps`.

    See the module docstring for the data model and the cuts.
    """

    name = "sami"

    @classmethod
    def identify(cls, path, header):
        """True for a SAMI map file (by name or header), or a directory holding one."""
        path = Path(path)
        if path.is_file() and is_sami_header(header):
            return True
        try:
            return path.is_dir() and sami_files(path) is not None or product_of(path) is not None
        except GalkinError:  # a directory with several candidates is still SAMI's
            return True

    @classmethod
    def primary(cls, path):
        """Only the velocity maps stand for their galaxy (not Halpha or dispersion maps)."""
        product = product_of(path)
        return product is None or PRODUCTS[product][1] == "velocity"

    def load(
        self,
        path,
        *,
        kinematics=None,
        beam=None,
        snr_min=10.0,
        stellar_snr_min=3.0,
        max_velocity_error=30 * KM_S,
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
        kinematics : {None, 'gas', 'stellar'}, optional
            Which to load; default that of the file given (a directory: gas first).
        beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
            The seeing; default the ``PSFFWHM`` card (required when absent).
        snr_min : float or None, optional
            Gas: spaxels with Halpha flux / error below this are masked.
        stellar_snr_min : float or None, optional
            Stellar: spaxels with ``SNR`` below this are masked.
        max_velocity_error : `~astropy.units.Quantity` or None, optional
            Stellar: spaxels with ``VEL_ERR`` above this are masked.
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
            Flux (Halpha, or the stellar continuum), velocity, dispersion and
            their errors; ``meta["kinematics"]`` is ``"gas"`` or ``"stellar"``,
            and records the files, the cuts, the good spaxels and the fill factor.

        Raises
        ------
        RejectedGalaxy
            When a cut rejects the galaxy (``reason`` says which).
        """
        path = Path(path)
        if kinematics not in (None, "gas", "stellar"):
            raise GalkinError(f"kinematics must be 'gas' or 'stellar'; got {kinematics!r}.")
        files = self._files(path, kinematics)
        if files["velocity"] is None:
            raise GalkinError(
                f"{path} has no SAMI {files['kinematics']} velocity map: need "
                f"<CATID>[_<bundle>]_{files['kinematics']}-velocity_... beside it."
            )
        if files["kinematics"] == "gas":
            read = self._gas(files, snr_min)
        else:
            read = self._stellar(files, stellar_snr_min, max_velocity_error)
        flux, velocity, good, headers = (
            read["flux"],
            read["velocity"],
            read["good"],
            read["headers"],
        )
        catid = files["catid"] or str(headers[0].get("CATID", "")).strip() or path.stem
        name = name or catid
        min_velocity = speed_threshold(min_velocity, "min_velocity")
        flag = check_catalogue_flag(catalogue, {"CATID": catid}, name)
        n_good = int(good.sum())
        if min_good_spaxels is not None and n_good < min_good_spaxels:
            raise RejectedGalaxy(
                f"only {n_good} spaxels pass the {read['description']} (need {min_good_spaxels})",
                name,
            )
        vmax = check_rotation(velocity[0].to_value(KM_S), good, min_velocity, name)
        beam, source = _seeing(beam, headers, catid)
        wcs = celestial_wcs(headers[0])
        meta = {
            "survey": self.name,
            "catid": catid,
            "kinematics": files["kinematics"],
            "redshift": headers[0].get("Z_PPXF"),
            "files": {k: str(v) for k, v in files.items() if isinstance(v, Path)},
            "cuts": {
                **read["cuts"],
                "min_good_spaxels": min_good_spaxels,
                "min_velocity": None if min_velocity is None else min_velocity * KM_S,
                "catalogue_flag": flag,
            },
            "n_good_spaxels": n_good,
            "fill_factor": n_good / good.size,
            "max_abs_velocity": vmax * KM_S,
            "beam_source": source,
        }
        meta.update(read["meta"])
        maps = KinematicMaps(
            flux[0],
            velocity[0],
            dispersion=read["dispersion"],
            moment0_err=flux[1],
            moment1_err=velocity[1],
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

    @staticmethod
    def _files(path, kinematics):
        files = sami_files(path)
        if files is None:
            raise GalkinError(f"{path} is not a SAMI map file or directory.")
        if kinematics is not None and files["kinematics"] != kinematics and path.is_dir():
            other = sorted(p for p in path.iterdir() if f"_{kinematics}-velocity_" in p.name)
            files = sami_files(other[0]) if other else files
        if kinematics is not None and files["kinematics"] != kinematics:
            raise GalkinError(f"{path} holds SAMI {files['kinematics']} maps, not {kinematics}.")
        return files

    @staticmethod
    def _gas(files, snr_min):
        if files.get("flux") is None:
            raise GalkinError(
                f"{files['velocity'].name} has no Halpha map beside it: a SAMI gas map set "
                "needs <CATID>[_<bundle>]_Halpha_..._<components>.fits next to the velocity."
            )
        velocity, v_ext, vunit, vheader, n_planes = read_product(files["velocity"], "gas-velocity")
        flux, f_ext, funit, fheader, _ = read_product(files["flux"], "Halpha")
        if flux.shape != velocity.shape:
            raise GalkinError(f"{files['velocity'].name}: the Halpha and velocity maps differ.")
        flux_err = f_ext.get("HALPHA_ERR")
        if snr_min is not None and flux_err is None:
            raise GalkinError(
                f"{files['flux'].name} has no HALPHA_ERR extension, so the S/N cut cannot be "
                "applied; pass snr_min=None to skip it."
            )
        headers, dispersion = [vheader, fheader], None
        if files.get("dispersion") is not None:
            disp, _, dunit, dheader, _ = read_product(files["dispersion"], "gas-vdisp")
            dispersion = (disp * dunit).to(KM_S)
            headers.append(dheader)
        good = np.isfinite(velocity) & np.isfinite(flux)
        good, _ = snr_cut(good, flux, flux_err, snr_min)
        v_err = v_ext.get("V_ERR")
        return {
            "flux": (flux * funit, None if flux_err is None else flux_err * funit),
            "velocity": (_speed(velocity, vunit), _speed(v_err, vunit)),
            "dispersion": dispersion,
            "good": good,
            "headers": headers,
            "description": f"S/N >= {snr_min:g} cut" if snr_min else "finite-value cut",
            "cuts": {"snr_min": snr_min},
            "meta": {
                "planes": n_planes,
                "plane_used": "first (total flux; first component's kinematics)",
            },
        }

    @staticmethod
    def _stellar(files, stellar_snr_min, max_velocity_error):
        velocity, ext, vunit, header, n_planes = read_product(
            files["velocity"], "stellar-velocity", "FLUX", "FLUX_ERR", "SNR", "SN"
        )
        if "FLUX" not in ext:
            raise GalkinError(f"{files['velocity'].name} has no FLUX extension: not SAMI's.")
        flux_unit = parse_unit(ext["units"].get("FLUX"), default=FLUX_UNIT)
        snr = ext.get("SNR", ext.get("SN"))
        v_err = ext.get("VEL_ERR")
        good = np.isfinite(velocity) & np.isfinite(ext["FLUX"])
        if stellar_snr_min is not None:
            if snr is None:
                raise GalkinError(
                    f"{files['velocity'].name} has no SNR extension, so the S/N cut cannot be "
                    "applied; pass stellar_snr_min=None to skip it."
                )
            good &= np.nan_to_num(snr, nan=-np.inf) >= float(stellar_snr_min)
        max_err = speed_threshold(max_velocity_error, "max_velocity_error")
        if max_err is not None and v_err is not None:
            good &= np.nan_to_num((v_err * vunit).to_value(KM_S), nan=np.inf) <= max_err
        headers, dispersion = [header], None
        if files.get("dispersion") is not None:
            disp, _, dunit, dheader, _ = read_product(
                files["dispersion"], "stellar-velocity-dispersion"
            )
            dispersion = (disp * dunit).to(KM_S)
            headers.append(dheader)
        flux_err = ext.get("FLUX_ERR")
        return {
            "flux": (ext["FLUX"] * flux_unit, None if flux_err is None else flux_err * flux_unit),
            "velocity": (_speed(velocity, vunit), _speed(v_err, vunit)),
            "dispersion": dispersion,
            "good": good,
            "headers": headers,
            "description": f"S/N >= {stellar_snr_min} and velocity-error cuts",
            "cuts": {
                "stellar_snr_min": stellar_snr_min,
                "max_velocity_error": None if max_err is None else max_err * KM_S,
            },
            "meta": {"planes": n_planes, "flux": "stellar continuum (FLUX extension)"},
        }
