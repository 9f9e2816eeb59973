import numpy as np
import pytest
from astropy import units as u

h5py = pytest.importorskip("h5py")

from galkin.simulation.eagle import read_eagle  # noqa: E402

A, H = 0.8, 0.6777  # expansion factor and Hubble parameter written in the header
MPC_CM, KMS_CM, MSUN_G = 3.085678e24, 1e5, 1.989e33


def _write(path, particles):
    """Write ``particles`` (physical kpc, km/s, Msun) in EAGLE's snapshot units."""
    to_raw = {  # name: (aexp, hexp, CGSConversionFactor, physical unit in cgs)
        "Coordinates": (1.0, -1.0, MPC_CM, MPC_CM / 1e3),
        "Velocity": (0.5, 0.0, KMS_CM, KMS_CM),
        "Mass": (0.0, -1.0, 1e10 * MSUN_G, MSUN_G),
        "StarFormationRate": (0.0, 0.0, MSUN_G / 3.15576e7, MSUN_G / 3.15576e7),
    }
    with h5py.File(path, "w") as f:
        f.create_group("Header").attrs.update(
            {"HubbleParam": H, "ExpansionFactor": A, "BoxSize": 25.0 * H}
        )
        for part, fields in particles.items():
            g = f.create_group(part)
            for name, value in fields.items():
                if name in to_raw:
                    aexp, hexp, cgs, unit = to_raw[name]
                    raw = value * unit / (A**aexp * H**hexp * cgs)
                    ds = g.create_dataset(name, data=raw)
                    ds.attrs.update(
                        {
                            "aexp-scale-exponent": aexp,
                            "h-scale-exponent": hexp,
                            "CGSConversionFactor": cgs,
                        }
                    )
                else:
                    g.create_dataset(name, data=value)


def _disc(rng, n, centre, group, tilt):
    r, phi = rng.uniform(1, 20, n), rng.uniform(0, 2 * np.pi, n)
    pos = np.stack([r * np.cos(phi), r * np.sin(phi), np.zeros(n)], 1)
    vel = 180 * np.stack([-np.sin(phi), np.cos(phi), np.zeros(n)], 1)
    c, s = np.cos(tilt), np.sin(tilt)
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return pos @ rot.T + centre, vel @ rot.T + [50.0, -20, 10], np.full(n, group)


def test_reader_applies_units_selection_and_rotation(tmp_path):
    rng = np.random.default_rng(0)
    centre = np.array([5000.0, 7000.0, 9000.0])  # physical kpc
    gp, gv, gg = _disc(rng, 400, centre, 1, 0.7)
    sfr = np.where(np.arange(400) < 300, 0.1, 0.0)  # 300 star-forming particles
    far = (np.arange(400) >= 250) & (np.arange(400) < 300)  # 50 SF ones outside 30 kpc
    gp[far] = centre + [60.0, 0, 0]
    sp = centre + rng.normal(0, 2, (500, 3))
    # group 2: a dwarf with too little stellar mass
    gp2, gv2, gg2 = _disc(rng, 400, centre + 3000, 2, 0.0)
    sp2 = centre + 3000 + rng.normal(0, 2, (50, 3))
    gas = {
        "Coordinates": np.concatenate([gp, gp2]),
        "Velocity": np.concatenate([gv, gv2]),
        "Mass": np.full(800, 1e7),
        "StarFormationRate": np.concatenate([sfr, sfr]),
        "GroupNumber": np.concatenate([gg, gg2]),
        "SubGroupNumber": np.zeros(800, int),
    }
    stars = {
        "Coordinates": np.concatenate([sp, sp2]),
        "Velocity": np.zeros((550, 3)),
        "Mass": np.full(550, 2e7),
        "GroupNumber": np.r_[np.ones(500, int), np.full(50, 2)],
        "SubGroupNumber": np.zeros(550, int),
    }
    path = tmp_path / "snap_028_z000p000.0.hdf5"
    _write(path, {"PartType0": gas, "PartType4": stars})
    galaxies = read_eagle(path)
    assert list(galaxies) == [(1, 0)]
    g = galaxies[(1, 0)]
    assert len(g.masses) == 250  # star-forming and inside the aperture
    assert g.masses.sum().to_value(u.Msun) == pytest.approx(2.5e9, rel=1e-3)
    radius = np.linalg.norm(g.positions.to_value(u.kpc), axis=1)
    assert radius.max() < 30 and radius.min() > 0.5  # physical kpc after a and h scaling
    assert g.kappa == pytest.approx(1.0, abs=0.02)  # about the centre of mass, not the disc centre
    vel = g.velocities.to_value(u.km / u.s)
    assert np.allclose(np.abs(vel[:, 2]), 0, atol=1e-6)  # rotated into the disc plane
    assert np.median(np.hypot(vel[:, 0], vel[:, 1])) == pytest.approx(180, rel=0.03)
    assert not read_eagle([path], min_particles=250)
