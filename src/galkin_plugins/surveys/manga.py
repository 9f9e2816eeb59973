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

Stellar kinematics (``kinematics="stellar"``): ``STELLAR_VEL`` (km/s, relative to
``cz``), with its ``_IVAR`` and ``_MASK``; the flux is the bin's g-band-weighted
mean flux ``BIN_MFLUX`` (with ``_IVAR`` and ``_MASK``) and the S/N cut is on
``BIN_SNR``; the dispersion is ``sigma^2 = STELLAR_SIGMA^2 - STELLAR_SIGMACORR^2``
(the first channel of STELLAR_SIGMACORR where it has two, DR17, as the DAP
recommends), without the thesis's gas LSF factor.  ``meta["kinematics"]`` says
which kinematics were loaded.  The per-spaxel velocity and flux errors
(``1 / sqrt(IVAR)``) are carried as ``moment1_err`` and ``moment0_err``.

Tested on a real DR15 file (``manga-7815-3702-MAPS-HYB10-GAU-MILESHC``).
"""

import re
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
        kinematics="gas",
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
        """Read the gas (a line's) or stellar maps of a MAPS file and apply the quality cuts.

        Parameters
        ----------
        path : `pathlib.Path`
        kinematics : {'gas', 'stellar'}, optional
            The emission line's kinematics (``line``), or the stars'.
        line : str, optional
            The emission-line channel (a ``C<n>`` value), for gas kinematics.
        beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
            The PSF; default the primary header's RFWHM (then GFWHM, IFWHM, ZFWHM).
        snr_min : float or None, optional
            Spaxels below this S/N are masked: the line flux's (gas) or ``BIN_SNR`` (stellar).
        min_fill_factor : float or None, optional
            Good spaxels / all spaxels of the map below this: rejected.
        min_velocity : `~astropy.units.Quantity` or None, optional
            Max ``|v|`` over the good spaxels below this: rejected.
        lsf_factor : float or None, optional
            Gas: multiplies EMLINE_INSTSIGMA before it is subtracted in quadrature;
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
            Flux, velocity and corrected dispersion with their errors, the WCS and
            the PSF; ``meta["kinematics"]`` says which were loaded.

        Raises
        ------
        RejectedGalaxy
            When a cut rejects the galaxy (``reason`` says which).
        """
        if kinematics not in ("gas", "stellar"):
            raise GalkinError(f"kinematics must be 'gas' or 'stellar'; got {kinematics!r}.")
        bits = _bitmask(mask_bits)
        min_velocity = speed_threshold(min_velocity, "min_velocity")
        with quiet_fits(), open_fits(path) as hdul:
            primary = hdul[0].header.copy()
            plateifu = str(primary.get("PLATEIFU", "")).strip() or Path(path).name.split("-MAPS")[0]
            name = name or plateifu
            ids = {"PLATEIFU": plateifu, "MANGAID": str(primary.get("MANGAID", "")).strip()}
            flag = check_catalogue_flag(catalogue, ids, name)
            if kinematics == "gas":
                data = _gas_planes(hdul, path, line, bits, lsf_factor)
            else:
                data = _stellar_planes(hdul, path, bits)

        flux_err, velocity_err = _error(data["flux_ivar"]), _error(data["velocity_ivar"])
        good = ~data["bad"] & np.isfinite(data["velocity"]) & np.isfinite(data["flux"])
        snr = data["flux"] / flux_err if data["snr"] is None else data["snr"]
        good, _ = snr_cut(good, snr, np.ones_like(snr), snr_min)
        n_good = int(good.sum())
        fill = n_good / good.size
        if min_fill_factor is not None and fill < min_fill_factor:
            raise RejectedGalaxy(
                f"fill factor {fill:.1%} ({n_good} good spaxels of {good.size}) is below "
                f"{min_fill_factor:.0%}",
                name,
            )
        vel_unit = data["velocity_unit"]
        velocity = (data["velocity"] * vel_unit).to(KM_S)
        vmax = check_rotation(velocity.value, good, min_velocity, name)
        source = "argument"
        if beam is None:
            card = next((c for c in _PSF_CARDS if float(primary.get(c, 0) or 0) > 0), None)
            if card is None:
                raise GalkinError(
                    f"{path} has no PSF FWHM card ({'/'.join(_PSF_CARDS)}): pass the PSF, "
                    "e.g. galkin.fit(path, beam=2.5*u.arcsec)."
                )
            beam, source = float(primary[card]) * u.arcsec, f"header {card}"
        wcs = data["wcs"]
        if center is None and wcs is not None and "OBJRA" in primary and "OBJDEC" in primary:
            x, y = wcs.world_to_pixel_values(float(primary["OBJRA"]), float(primary["OBJDEC"]))
            center = (float(x), float(y))
        meta = {
            "survey": self.name,
            "kinematics": kinematics,
            "plateifu": plateifu,
            "mangaid": ids["MANGAID"] or None,
            "daptype": str(primary.get("DAPTYPE", "")).strip() or None,
            "dap_version": str(primary.get("VERSDAP", "")).strip() or None,
            "files": {"maps": str(path)},
            **data["meta"],
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
            "coverage_fraction": float((~data["nocov"]).mean()),
            "max_abs_velocity": vmax * KM_S,
            "n_negative_dispersion": int((data["negative"] & good).sum()),
            "beam_source": source,
        }
        flux_unit = data["flux_unit"]
        maps = KinematicMaps(
            data["flux"] * flux_unit,
            velocity,
            dispersion=data["dispersion"],
            moment0_err=flux_err * flux_unit,
            moment1_err=(velocity_err * vel_unit).to(KM_S),
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


def _error(ivar):
    """1-sigma errors from inverse variances (NaN where the variance is unknown)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ivar > 0, 1 / np.sqrt(ivar), np.nan)


def _flagged(hdul, ext, bits, channel=None):
    values = hdul[ext].data if channel is None else hdul[ext].data[channel]
    return (np.asarray(values).astype(np.int64) & bits) != 0


def _corrected(sigma, flagged, correction):
    """``sqrt(sigma^2 - correction^2)`` (km/s), NaN where flagged or negative."""
    sigma = np.where(flagged, np.nan, sigma)
    if correction is None:
        return sigma * KM_S, np.zeros(sigma.shape, bool)
    with np.errstate(invalid="ignore"):
        squared = sigma**2 - correction**2
        negative = squared < 0
        return np.sqrt(np.where(negative, np.nan, squared)) * KM_S, negative


def _gas_planes(hdul, path, line, bits, lsf_factor):
    """The emission line's planes of a MAPS file."""
    try:
        vel_hdu = hdul["EMLINE_GVEL"]
    except KeyError:
        raise GalkinError(f"{path} has no EMLINE_GVEL extension: not a DAP MAPS file.") from None
    channel = line_channel(vel_hdu.header, line)

    def plane(ext):
        return np.asarray(hdul[ext].data[channel], dtype=float)

    bad = _flagged(hdul, "EMLINE_GVEL_MASK", bits, channel) | _flagged(
        hdul, "EMLINE_GFLUX_MASK", bits, channel
    )
    correction = None
    if lsf_factor is not None:
        correction = float(lsf_factor) * plane("EMLINE_INSTSIGMA")
    dispersion, negative = _corrected(
        plane("EMLINE_GSIGMA"), _flagged(hdul, "EMLINE_GSIGMA_MASK", bits, channel), correction
    )
    return {
        "velocity": plane("EMLINE_GVEL"),
        "velocity_ivar": plane("EMLINE_GVEL_IVAR"),
        "velocity_unit": parse_unit(vel_hdu.header.get("BUNIT"), KM_S),
        "flux": plane("EMLINE_GFLUX"),
        "flux_ivar": plane("EMLINE_GFLUX_IVAR"),
        "flux_unit": parse_unit(
            hdul["EMLINE_GFLUX"].header.get("BUNIT"), u.Unit("1e-17 erg / (s cm2)")
        ),
        "snr": None,
        "bad": bad,
        "nocov": _flagged(hdul, "EMLINE_GVEL_MASK", 1, channel),
        "dispersion": dispersion,
        "negative": negative,
        "wcs": celestial_wcs(vel_hdu.header),
        "meta": {
            "line": line,
            "channel": channel,
            "lsf_factor": lsf_factor,
            "dispersion_corrected": lsf_factor is not None,
        },
    }


def _stellar_planes(hdul, path, bits):
    """The stellar-kinematics planes of a MAPS file."""
    try:
        vel_hdu = hdul["STELLAR_VEL"]
    except KeyError:
        raise GalkinError(f"{path} has no STELLAR_VEL extension: not a DAP MAPS file.") from None

    def image(ext):
        return np.asarray(hdul[ext].data, dtype=float)

    correction = image("STELLAR_SIGMACORR")
    if correction.ndim == 3:  # DR17: two corrections; the DAP recommends the first
        correction = correction[0]
    dispersion, negative = _corrected(
        image("STELLAR_SIGMA"), _flagged(hdul, "STELLAR_SIGMA_MASK", bits), correction
    )
    return {
        "velocity": image("STELLAR_VEL"),
        "velocity_ivar": image("STELLAR_VEL_IVAR"),
        "velocity_unit": parse_unit(vel_hdu.header.get("BUNIT"), KM_S),
        "flux": image("BIN_MFLUX"),
        "flux_ivar": image("BIN_MFLUX_IVAR"),
        "flux_unit": parse_unit(
            hdul["BIN_MFLUX"].header.get("BUNIT"), u.Unit("1e-17 erg / (s cm2 Angstrom)")
        ),
        "snr": image("BIN_SNR"),
        "bad": _flagged(hdul, "STELLAR_VEL_MASK", bits) | _flagged(hdul, "BIN_MFLUX_MASK", bits),
        "nocov": _flagged(hdul, "STELLAR_VEL_MASK", 1),
        "dispersion": dispersion,
        "negative": negative,
        "wcs": celestial_wcs(vel_hdu.header),
        "meta": {
            "flux": "BIN_MFLUX (g-band-weighted mean flux of the bin)",
            "dispersion_corrected": True,
        },
    }
