"""MaNGA DAP MAPS files (``manga-<plate>-<ifu>-MAPS-<bintype>-<model>.fits.gz``).

Conventions (the MaNGA Data Analysis Pipeline's MAPS data model, DR15-DR17,
Westfall et al. 2019): each ``EMLINE_*`` extension is a ``(line, y, x)`` cube
whose channels are named by the header cards ``C01``, ``C02``, ... (Halpha is
``'Ha-6564'``); ``<EXT>_IVAR`` holds inverse variances and ``<EXT>_MASK`` the
``MANGA_DAPPIXMASK`` bits, of which bit 30, DONOTUSE, marks spaxels "not to be
used for science" (it is set with NOCOV, NOVALUE, MATHERROR, FITFAILED,
NEARBOUND...).  Velocities (``EMLINE_GVEL``, km/s) are relative to the input
redshift (``cz`` = SCINPVEL in the primary header); ``EMLINE_GSIGMA`` is the
observed Gaussian width, not corrected for the instrumental dispersion
``EMLINE_INSTSIGMA``.  The spaxels are 0.5", and each extension carries the
celestial WCS.  The reconstructed PSF FWHM (arcsec) is in the primary header:
RFWHM (r band, which holds Halpha), GFWHM, IFWHM, ZFWHM.

The thesis's cuts (§4.2.4), each an option that ``None`` disables: spaxels
flagged DONOTUSE in the Halpha flux or velocity, or with Halpha S/N
(GFLUX * sqrt(GFLUX_IVAR)) < 10, are masked (one mask for all maps, as the
thesis did with Marvin); a fill factor (good spaxels / all spaxels of the map's
field of view) < 10 % is rejected, and so is max ``|v|`` < 10 km/s; with a
``catalogue`` (columns PLATEIFU or MANGAID, and FLAG), FLAG > 0 is rejected.

The dispersion is corrected for the instrument, with the thesis's LSF factor:
``sigma^2 = GSIGMA^2 - (1.045 * INSTSIGMA)^2``.  The thesis (§4.3, after Eq. 4.4)
increases the MaNGA LSF values (the instrumental dispersion) by 4.5 %, taking
them to be ~95.5 % of those of later DAP versions (Law et al. 2021, Fig. 13);
spaxels where the correction is negative are blank in the dispersion map.

Tested on a real DR15 file (``manga-7815-3702-MAPS-HYB10-GAU-MILESHC``).
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

__all__ = ["MangaAdapter", "DAPPIXMASK_BITS", "LSF_FACTOR", "line_channel"]

#: Bits of the MANGA_DAPPIXMASK (DR15-DR17 DAP), by name.
DAPPIXMASK_BITS = {
    "NOCOV": 0,
    "LOWCOV": 1,
    "DEADFIBER": 2,
    "FORESTAR": 3,
    "NOVALUE": 4,
    "UNRELIABLE": 5,
    "MATHERROR": 6,
    "FITFAILED": 7,
    "NEARBOUND": 8,
    "NOCORRECTION": 9,
    "MULTICOMP": 10,
    "DONOTUSE": 30,
}
#: The thesis's factor on MaNGA's instrumental dispersion (§4.3).
LSF_FACTOR = 1.045
_NAME = re.compile(r"^manga-\d+-\d+-MAPS-.+\.fits(\.gz)?$")
_PSF_CARDS = ("RFWHM", "GFWHM", "IFWHM", "ZFWHM")


def line_channel(header, line="Ha-6564"):
    """0-based index of the channel called ``line`` in an ``EMLINE_*`` extension header."""
    names = {
        int(key[1:]): str(value).strip()
        for key, value in header.items()
        if re.fullmatch(r"C\d+", key)
    }
    for number, channel in names.items():
        if channel == line:
            return number - 1
    raise GalkinError(
        f"No emission-line channel {line!r} in {header.get('EXTNAME', 'the extension')}; "
        f"available: {', '.join(names.values()) or '(none: no C<n> cards)'}."
    )


def _bitmask(mask_bits):
    try:
        return sum(1 << DAPPIXMASK_BITS[bit.upper()] for bit in mask_bits)
    except (KeyError, AttributeError):
        raise GalkinError(
            f"mask_bits must be names of MANGA_DAPPIXMASK bits ({', '.join(DAPPIXMASK_BITS)}); "
            f"got {mask_bits!r}."
        ) from None


class MangaAdapter(SurveyAdapter):
    """MaNGA DAP MAPS files -> Halpha `~galkin.KinematicMaps`, with the thesis's cuts.

    See the module docstring for the data model, the cuts and the LSF correction.
    """

    name = "manga"

    @classmethod
    def identify(cls, path, header):
        """True for ``manga-*-MAPS-*.fits[.gz]`` or a primary header with DAPFRMT = 'MAPS'."""
        if header is not None and str(header.get("DAPFRMT", "")).strip().upper() == "MAPS":
            return True
        return Path(path).is_file() and _NAME.match(Path(path).name) is not None

    def load(
        self,
        path,
        *,
        line="Ha-6564",
        beam=None,
        snr_min=10.0,
        min_fill_factor=0.1,
        min_velocity=10 * KM_S,
        lsf_factor=LSF_FACTOR,
        mask_bits=("DONOTUSE",),
        catalogue=None,
        name=None,
        region=None,
        center=None,
        position_angle=None,
        systemic_velocity=None,
    ):
        """Read the Halpha maps of a MAPS file and apply the quality cuts.

        Parameters
        ----------
        path : `pathlib.Path`
        line : str, optional
            The emission-line channel (a ``C<n>`` value).
        beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
            The PSF; default the primary header's RFWHM (then GFWHM, IFWHM, ZFWHM).
        snr_min : float or None, optional
            Spaxels with flux S/N below this are masked.
        min_fill_factor : float or None, optional
            Good spaxels / all spaxels of the map below this: rejected.
        min_velocity : `~astropy.units.Quantity` or None, optional
            Max ``|v|`` over the good spaxels below this: rejected.
        lsf_factor : float or None, optional
            Multiplies EMLINE_INSTSIGMA before it is subtracted in quadrature;
            None leaves the dispersion uncorrected.
        mask_bits : sequence of str, optional
            MANGA_DAPPIXMASK bits that mask a spaxel (e.g. add "UNRELIABLE").
        catalogue : `astropy.table.Table`, optional
            With PLATEIFU (or MANGAID) and FLAG columns; FLAG > 0 is rejected.
        name, region, position_angle, systemic_velocity : optional
            Passed to `~galkin.KinematicMaps`.
        center : tuple of float, optional
            ``(x, y)`` pixel centre; default the object's OBJRA/OBJDEC.

        Returns
        -------
        `~galkin.KinematicMaps`
            Halpha flux, velocity and corrected dispersion, with the WCS and PSF.

        Raises
        ------
        RejectedGalaxy
            When a cut rejects the galaxy (``reason`` says which).
        """
        bits = _bitmask(mask_bits)
        min_velocity = speed_threshold(min_velocity, "min_velocity")
        with quiet_fits(), open_fits(path) as hdul:
            primary = hdul[0].header.copy()
            plateifu = str(primary.get("PLATEIFU", "")).strip() or Path(path).name.split("-MAPS")[0]
            name = name or plateifu
            ids = {"PLATEIFU": plateifu, "MANGAID": str(primary.get("MANGAID", "")).strip()}
            flag = check_catalogue_flag(catalogue, ids, name)
            try:
                vel_hdu = hdul["EMLINE_GVEL"]
            except KeyError:
                raise GalkinError(
                    f"{path} has no EMLINE_GVEL extension: not a DAP MAPS file."
                ) from None
            channel = line_channel(vel_hdu.header, line)

            def plane(ext):
                return np.asarray(hdul[ext].data[channel], dtype=float)

            velocity, flux = plane("EMLINE_GVEL"), plane("EMLINE_GFLUX")
            flux_ivar = plane("EMLINE_GFLUX_IVAR")
            bad = ((plane("EMLINE_GVEL_MASK").astype(np.int64) & bits) != 0) | (
                (plane("EMLINE_GFLUX_MASK").astype(np.int64) & bits) != 0
            )
            nocov = (plane("EMLINE_GVEL_MASK").astype(np.int64) & 1) != 0
            sigma, sigma_bad = plane("EMLINE_GSIGMA"), plane("EMLINE_GSIGMA_MASK")
            instsigma = plane("EMLINE_INSTSIGMA") if lsf_factor is not None else None
            flux_unit = parse_unit(
                hdul["EMLINE_GFLUX"].header.get("BUNIT"), 1e-17 * u.erg / u.s / u.cm**2
            )
            vel_unit = parse_unit(vel_hdu.header.get("BUNIT"), KM_S)
            wcs = celestial_wcs(vel_hdu.header)

        good = ~bad & np.isfinite(velocity) & np.isfinite(flux)
        with np.errstate(divide="ignore", invalid="ignore"):
            flux_err = np.where(flux_ivar > 0, 1 / np.sqrt(flux_ivar), np.nan)
        good, _ = snr_cut(good, flux, flux_err, snr_min)
        n_good = int(good.sum())
        fill = n_good / good.size
        if min_fill_factor is not None and fill < min_fill_factor:
            raise RejectedGalaxy(
                f"fill factor {fill:.1%} ({n_good} good spaxels of {good.size}) is below "
                f"{min_fill_factor:.0%}",
                name,
            )
        velocity = (velocity * vel_unit).to_value(KM_S)
        vmax = check_rotation(velocity, good, min_velocity, name)

        dispersion, negative = self._dispersion(
            sigma, (sigma_bad.astype(np.int64) & bits) != 0, instsigma, lsf_factor
        )
        source = "argument"
        if beam is None:
            card = next((c for c in _PSF_CARDS if float(primary.get(c, 0) or 0) > 0), None)
            if card is None:
                raise GalkinError(
                    f"{path} has no PSF FWHM card ({'/'.join(_PSF_CARDS)}): pass beam=, e.g. "
                    "beam=2.5*u.arcsec."
                )
            beam, source = float(primary[card]) * u.arcsec, f"header {card}"
        if center is None and wcs is not None and "OBJRA" in primary and "OBJDEC" in primary:
            x, y = wcs.world_to_pixel_values(float(primary["OBJRA"]), float(primary["OBJDEC"]))
            center = (float(x), float(y))
        meta = {
            "survey": self.name,
            "plateifu": plateifu,
            "mangaid": ids["MANGAID"] or None,
            "daptype": str(primary.get("DAPTYPE", "")).strip() or None,
            "dap_version": str(primary.get("VERSDAP", "")).strip() or None,
            "files": {"maps": str(path)},
            "line": line,
            "channel": channel,
            "cz_input": float(primary["SCINPVEL"]) * KM_S if "SCINPVEL" in primary else None,
            "cuts": {
                "mask_bits": tuple(mask_bits),
                "snr_min": snr_min,
                "min_fill_factor": min_fill_factor,
                "min_velocity": None if min_velocity is None else min_velocity * KM_S,
                "catalogue_flag": flag,
            },
            "n_good_spaxels": n_good,
            "fill_factor": fill,
            "coverage_fraction": float((~nocov).mean()),
            "max_abs_velocity": vmax * KM_S,
            "lsf_factor": lsf_factor,
            "dispersion_corrected": lsf_factor is not None,
            "n_negative_dispersion": int((negative & good).sum()),
            "beam_source": source,
        }
        maps = KinematicMaps(
            flux * flux_unit,
            velocity * KM_S,
            dispersion=dispersion,
            mask=good,
            wcs=wcs,
            pixel_scale=0.5 * u.arcsec if wcs is None else None,
            beam=beam,
            center=center,
            position_angle=position_angle,
            systemic_velocity=systemic_velocity,
            name=name,
            meta=meta,
        )
        return maps if region is None else maps.restrict(region)

    @staticmethod
    def _dispersion(sigma, flagged, instsigma, lsf_factor):
        """Instrument-corrected dispersion (km/s) and where the correction is negative."""
        sigma = np.where(flagged, np.nan, sigma)
        if lsf_factor is None:
            return sigma * KM_S, np.zeros(sigma.shape, bool)
        with np.errstate(invalid="ignore"):
            squared = sigma**2 - (float(lsf_factor) * instsigma) ** 2
            negative = squared < 0
            corrected = np.sqrt(np.where(negative, np.nan, squared))
        return corrected * KM_S, negative
