"""Read gas particles of galaxies from EAGLE snapshots (thesis §2.2.2-2.2.3).

EAGLE snapshot files (``snap_028_z000p000.0.hdf5``...) hold ``PartType0`` (gas)
and ``PartType4`` (stars) groups with ``Coordinates``, ``Velocity``, ``Mass``,
``GroupNumber`` and ``SubGroupNumber`` (gas also ``StarFormationRate``), and a
``Header`` with ``HubbleParam`` (h), ``ExpansionFactor`` (a) and ``BoxSize``.

Units, as the EAGLE team documents them (McAlpine et al. 2016; The EAGLE team
2017): every dataset carries the attributes ``CGSConversionFactor``,
``aexp-scale-exponent`` and ``h-scale-exponent``, and its physical value in cgs is
``raw * a**aexp * h**hexp * CGSConversionFactor``. Coordinates are comoving
``Mpc/h`` (exponents 1, -1), velocities peculiar ``km/s * sqrt(a)`` (0.5, 0),
masses ``1e10 Msun/h`` (0, -1), star formation rates ``Msun/yr`` (0, 0).
galkin applies the attributes, so files with other unit choices read correctly.

The selection is the thesis's: for each subhalo (``GroupNumber``,
``SubGroupNumber``) with, inside a 30 kpc aperture, gas mass > 1e9 Msun,
stellar mass > 5e9 Msun and more than 200 star-forming (``SFR > 0``) gas
particles; those particles, centred and rotated so that their angular momentum
is +z, are the galaxy. The centre is the centre of potential when given
(``centres``); otherwise it is found by shrinking spheres on the stars.
"""

import numpy as np
from astropy import units as u

from ..exceptions import GalkinError
from ..units import KM_S, as_value
from .circularity import rotate_to_angular_momentum
from .particles import ParticleGalaxy

__all__ = ["read_eagle"]

_CM_PER_KPC = u.kpc.to(u.cm)
_G_PER_MSUN = u.Msun.to(u.g)
_UNBOUND = 2**30


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - depends on the environment
        raise GalkinError("Reading EAGLE snapshots needs h5py: pip install h5py.") from None
    return h5py


def _physical(dataset, a, h, to_cgs_unit):
    attrs = dataset.attrs
    factor = a ** float(attrs.get("aexp-scale-exponent", 0.0))
    factor *= h ** float(attrs.get("h-scale-exponent", 0.0))
    factor *= float(attrs.get("CGSConversionFactor", 1.0)) / to_cgs_unit
    return dataset[...] * factor


def _read(files, part, fields):
    h5py = _h5py()
    out = {k: [] for k in fields}
    for path in files:
        with h5py.File(path, "r") as f:
            head = f["Header"].attrs
            a, h = float(head["ExpansionFactor"]), float(head["HubbleParam"])
            box = float(head["BoxSize"]) * a / h * 1e3  # kpc, assuming Mpc/h comoving
            if part not in f:
                continue
            group = f[part]
            for name, cgs in fields.items():
                raw = group[name]
                out[name].append(raw[...] if cgs is None else _physical(raw, a, h, cgs))
    return {k: np.concatenate(v) if v else np.empty(0) for k, v in out.items()}, box


def _wrap(delta, box):
    return (delta + box / 2) % box - box / 2


def _centre(pos, mass, box, aperture):
    centre = np.average(pos, axis=0, weights=mass)
    for radius in (4 * aperture, 2 * aperture, aperture, aperture / 2):
        d = _wrap(pos - centre, box)
        near = np.einsum("ij,ij->i", d, d) < radius**2
        if not near.any():
            break
        centre = centre + np.average(d[near], axis=0, weights=mass[near])
    return centre


def read_eagle(
    files,
    *,
    aperture=30 * u.kpc,
    min_gas_mass=1e9 * u.Msun,
    min_stellar_mass=5e9 * u.Msun,
    min_particles=200,
    centres=None,
):
    """Star-forming gas of the EAGLE galaxies that pass the thesis selection.

    Parameters
    ----------
    files : str, `pathlib.Path` or list
        The snapshot's HDF5 files (all parts of one snapshot).
    aperture : `~astropy.units.Quantity`, optional
        Radius of the aperture around each centre.
    min_gas_mass, min_stellar_mass : `~astropy.units.Quantity`, optional
        Lower limits (exclusive) on the gas and stellar mass in the aperture.
    min_particles : int, optional
        More than this many star-forming gas particles are needed.
    centres : dict, optional
        ``{(group, subgroup): centre}`` with centres as length-3 Quantities
        (physical), e.g. EAGLE's ``CentreOfPotential``.

    Returns
    -------
    dict
        ``{(group, subgroup): ParticleGalaxy}`` (``kind="eagle"``), each centred,
        at rest, and rotated so that its angular momentum is +z.
    """
    files = [files] if isinstance(files, (str, bytes)) or hasattr(files, "__fspath__") else files
    r_ap = as_value(aperture, "aperture", u.kpc, scalar=True)
    gas_min = as_value(min_gas_mass, "min_gas_mass", u.Msun, scalar=True)
    star_min = as_value(min_stellar_mass, "min_stellar_mass", u.Msun, scalar=True)
    kin = {"Coordinates": _CM_PER_KPC, "Velocity": 1e5, "Mass": _G_PER_MSUN}
    ids = {"GroupNumber": None, "SubGroupNumber": None}
    gas, box = _read(files, "PartType0", {**kin, **ids, "StarFormationRate": 1.0})
    stars, _ = _read(files, "PartType4", {**kin, **ids})
    galaxies = {}
    keys = set(zip(stars["GroupNumber"].tolist(), stars["SubGroupNumber"].tolist(), strict=True))
    for key in sorted(k for k in keys if k[0] > 0 and k[1] < _UNBOUND):
        mine = (stars["GroupNumber"] == key[0]) & (stars["SubGroupNumber"] == key[1])
        if centres and key in centres:
            centre = as_value(centres[key], "centre", u.kpc)
        else:
            centre = _centre(stars["Coordinates"][mine], stars["Mass"][mine], box, r_ap)
        d_star = _wrap(stars["Coordinates"][mine] - centre, box)
        in_star = np.einsum("ij,ij->i", d_star, d_star) < r_ap**2
        gmine = (gas["GroupNumber"] == key[0]) & (gas["SubGroupNumber"] == key[1])
        d_gas = _wrap(gas["Coordinates"][gmine] - centre, box)
        in_gas = np.einsum("ij,ij->i", d_gas, d_gas) < r_ap**2
        sf = in_gas & (gas["StarFormationRate"][gmine] > 0)
        if (
            stars["Mass"][mine][in_star].sum() <= star_min
            or gas["Mass"][gmine][in_gas].sum() <= gas_min
            or sf.sum() <= min_particles
        ):
            continue
        mass = gas["Mass"][gmine][sf]
        pos, vel = rotate_to_angular_momentum(d_gas[sf], gas["Velocity"][gmine][sf], mass)
        galaxies[key] = ParticleGalaxy(pos * u.kpc, vel * KM_S, mass * u.Msun, "eagle")
    return galaxies
