"""The mock survey's galaxies: an injected Tully-Fisher relation and what observers see of it.

The distributions are described in :mod:`galkin_plugins.mock_survey`.
"""

import dataclasses

import numpy as np
from astropy import units as u
from astropy.cosmology import Planck18
from astropy.table import QTable

from galkin.exceptions import GalkinError
from galkin.units import KM_S, as_value

__all__ = ["InjectedTFR", "THESIS_TFR", "MANGA_BUNDLES", "SAMI_BUNDLE", "draw_population"]


@dataclasses.dataclass(frozen=True)
class InjectedTFR:
    """A reverse TFR, ``log V_c = slope (log M* - pivot) + intercept``, scatter in log V.

    All numbers are in dex: ``pivot`` of Msun, ``intercept`` and ``scatter`` of km/s.
    """

    slope: float = 0.258
    intercept: float = 2.265
    pivot: float = 10.09
    scatter: float = 0.05

    def log_v(self, log_mstar):
        """The relation's log10(V_c / (km/s)) at ``log_mstar`` (no scatter)."""
        return self.slope * (np.asarray(log_mstar, dtype=float) - self.pivot) + self.intercept


#: Thesis Eq. 4.5 (slope, intercept, pivot) with a 0.05 dex intrinsic scatter.
THESIS_TFR = InjectedTFR()
#: MaNGA fibre bundles: fibres -> (hexagon diameter in arcsec, map side in spaxels).
MANGA_BUNDLES = {19: (12.5, 34), 37: (17.5, 44), 61: (22.5, 54), 91: (27.5, 64), 127: (32.5, 74)}
#: SAMI hexabundle: (radius in arcsec, map side in spaxels).
SAMI_BUNDLE = (7.5, 50)
_RE_PER_SCALE = 1.678  # r_e / r_scale of an exponential disc


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def draw_population(
    n,
    *,
    relation=THESIS_TFR,
    surveys=("manga", "sami"),
    log_mstar_range=(9.0, 11.5),
    mass_err=0.1 * u.dex,
    inclination_range=(0, 85) * u.deg,
    seed=None,
):
    """Draw the galaxies of a mock survey (see the module notes for the distributions).

    Parameters
    ----------
    n : int
        Number of galaxies.
    relation : InjectedTFR, optional
        The TFR the circular speeds follow.
    surveys : sequence of {"manga", "sami"}, optional
        Galaxy ``k`` goes to ``surveys[k % len(surveys)]``.
    log_mstar_range : tuple of float, optional
        log10(M*/Msun) range (uniform).
    mass_err : `~astropy.units.Quantity`, optional
        Error of the catalogue masses (dex).
    inclination_range : `~astropy.units.Quantity`, optional
        Inclinations are isotropic (``cos i`` uniform) within this range.
    seed : int or `numpy.random.Generator`, optional

    Returns
    -------
    `~astropy.table.QTable`
        One row per galaxy: ``name``, ``survey``, ``log_mstar_true``,
        ``log_mstar`` (catalogue), ``log_mstar_err``, ``v_circ``, ``r_e``,
        ``r_e_kpc``, ``redshift``, ``r_scale``, ``r_turn``, ``inclination``,
        ``position_angle``, ``dispersion_drawn``, ``psf_fwhm``, ``bundle_radius``,
        ``shape`` (map side), ``r_snr10`` (radius of S/N = 10) and
        ``center_offset`` (pixels).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise GalkinError(f"n must be a positive integer (the number of galaxies); got {n!r}.")
    unknown = set(surveys) - {"manga", "sami"}
    if not surveys or unknown:
        raise GalkinError(f'surveys must be a sequence of "manga" and "sami"; got {surveys!r}.')
    dm = as_value(mass_err, "mass_err", u.dex, scalar=True)
    i_lo, i_hi = as_value(inclination_range, "inclination_range", u.deg)
    if not 0 <= i_lo < i_hi <= 90:
        raise GalkinError(
            f"inclination_range must be (low, high) within [0, 90] deg; got {inclination_range}."
        )
    rng = _rng(seed)
    survey = np.array([surveys[k % len(surveys)] for k in range(n)])
    logm = rng.uniform(*log_mstar_range, n)
    log_v = relation.log_v(logm) + rng.normal(0.0, relation.scatter, n)
    re_kpc = 10 ** (0.22 * (logm - 10.0) + 0.6 + rng.normal(0.0, 0.12, n))
    manga = survey == "manga"
    re = np.clip(np.where(manga, 5.0, 4.0) * 10 ** rng.normal(0.0, 0.15, n), 1.5, 9.0)
    # the redshift at which r_e_kpc subtends re (D_A rises monotonically to z ~ 1.6)
    grid = np.linspace(0.001, 0.5, 2000)
    d_a = Planck18.angular_diameter_distance(grid).to_value(u.kpc)
    z = np.clip(np.interp(re_kpc / np.radians(re / 3600.0), d_a, grid), 0.005, 0.15)
    re = (re_kpc * u.kpc / Planck18.angular_diameter_distance(z)).to_value(
        u.arcsec, u.dimensionless_angles()
    )
    re = np.clip(re, 1.5, 9.0)  # the few galaxies whose redshift was clipped
    r_scale = re / _RE_PER_SCALE * 10 ** rng.normal(0.0, 0.05, n)
    cos_i = rng.uniform(np.cos(np.radians(i_hi)), np.cos(np.radians(i_lo)), n)
    fibres = [next((f for f, (d, _) in MANGA_BUNDLES.items() if d / 2 >= 1.5 * r), 127) for r in re]
    bundle = np.where(manga, [MANGA_BUNDLES[f][0] / 2 for f in fibres], SAMI_BUNDLE[0])
    side = np.where(manga, [MANGA_BUNDLES[f][1] for f in fibres], SAMI_BUNDLE[1])
    plates = 8000 + np.arange(n)
    names = [
        f"{plates[k]}-{fibres[k]}{k % 4 + 1:02d}" if manga[k] else str(9_000_000_000 + 137 * k)
        for k in range(n)
    ]
    return QTable(
        {
            "name": names,
            "survey": survey,
            "log_mstar_true": logm * u.dex(u.Msun),
            "log_mstar": (logm + rng.normal(0.0, dm, n)) * u.dex(u.Msun),
            "log_mstar_err": np.full(n, dm) * u.dex,
            "v_circ": 10**log_v * KM_S,
            "r_e": re * u.arcsec,
            "r_e_kpc": re_kpc * u.kpc,
            "redshift": z,
            "r_scale": r_scale * u.arcsec,
            "r_turn": r_scale * rng.uniform(0.2, 0.8, n) * u.arcsec,
            "inclination": np.degrees(np.arccos(cos_i)) * u.deg,
            "position_angle": rng.uniform(0.0, 360.0, n) * u.deg,
            "dispersion_drawn": rng.uniform(15.0, 30.0, n) * KM_S,
            "psf_fwhm": np.where(
                manga, np.clip(rng.normal(2.5, 0.15, n), 2.1, 2.9), rng.uniform(1.6, 2.6, n)
            )
            * u.arcsec,
            "bundle_radius": bundle * u.arcsec,
            "shape": side.astype(int),
            "r_snr10": r_scale * rng.uniform(2.5, 4.5, n) * u.arcsec,
            "center_offset": rng.uniform(-0.5, 0.5, (n, 2)),
        }
    )
