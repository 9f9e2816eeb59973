"""Named condition sets: how the referee's galaxies and cubes are drawn.

Every set describes a population as ranges; :func:`draw_galaxy` turns a set, a
seed and an index into one galaxy's full specification (a JSON-able dict),
reproducibly: galaxy ``k`` of a set depends only on ``(set, seed, k)``, so a run
with ``--n 5`` reuses the cubes of an earlier ``--n 20``.

A range is a number (fixed), a ``(low, high)`` tuple (uniform), or a
:class:`LogUniform`. Sizes are fractions of the map (64 x 64 pixels of 1 arcsec);
the disc scale height is a fraction of the disc's ``r_scale``. Every cube has a
random position angle (0-360 deg), a centre up to 2 pixels from the map centre,
a systemic velocity of 500-3000 km/s at a random sub-channel position, and
line-free channels on both sides of the line.
"""

import zlib
from dataclasses import dataclass, replace

import numpy as np

from .profiles import peak_velocity

__all__ = ["ConditionSet", "LogUniform", "SETS", "MAP_SIZE", "draw_galaxy"]

#: Pixels on a side of every referee cube (1 arcsec each).
MAP_SIZE = 64


@dataclass(frozen=True)
class LogUniform:
    """A range drawn uniformly in the logarithm (for S/N)."""

    low: float
    high: float


@dataclass(frozen=True)
class ConditionSet:
    """The population of one named benchmark set.

    Attributes
    ----------
    name, summary : str
        The ``--set`` name and a one-line description printed with the results.
    n : int
        Default number of galaxies.
    snr : range or None
        S/N per channel of thesis Eq. 2.2; None for noiseless cubes.
    beam : range
        Circular beam FWHM in pixels.
    channel_width : range or "auto"
        km/s; "auto" gives about 40 channels across the line, 5-10 km/s (as
        ``galkin.simulate_cube``).
    dispersion : range
        Isotropic gas velocity dispersion, km/s.
    thickness : range
        Exponential scale height as a fraction of ``r_scale`` (0: razor thin).
    correlated_noise : float
        Probability that a cube's noise is beam-correlated (as an
        interferometer's) rather than independent per pixel.
    inclination : range
        Degrees.
    velocity, density : tuple of str
        Profile kinds drawn with equal probability (see :mod:`.profiles`).
    v_max, v_sin_i : range
        The arctan asymptote (km/s), or -- when ``v_sin_i`` is set -- its
        projection ``V_max sin i`` (thesis Table 3.2 draws the projection).
    r_scale, r_turn : range
        Fractions of the map size (arctan and exponential kinds).
    edge : range or None
        A sharp outer edge of the gas disc, in units of its ``r_scale`` (None: the
        disc fades out exponentially).
    min_rturn_beams : float
        Redraw arctan galaxies whose projected turnover ``r_turn cos i`` is
        below this many beams (the thesis's resolution cut; 0 keeps all).
    n_particles : int
        KinMS cloudlets per cube (its shot noise is a floor under any S/N).
    targets : tuple of str
        Keys of :data:`.report.TARGETS` checked for this set.
    """

    name: str
    summary: str
    n: int
    snr: object
    beam: object
    channel_width: object
    dispersion: object
    thickness: object
    correlated_noise: float = 0.0
    inclination: object = (20.0, 80.0)
    velocity: tuple = ("arctan",)
    density: tuple = ("exponential",)
    v_max: object = (80.0, 300.0)
    v_sin_i: object = None
    r_scale: object = (0.10, 0.25)
    r_turn: object = (0.02, 0.25)
    edge: object = None
    min_rturn_beams: float = 0.0
    n_particles: int = 500_000
    targets: tuple = ()


_NOISELESS = ConditionSet(
    name="noiseless",
    summary="thesis Table 3.2: noiseless, beam 2 px, i 10-90 deg, V_max sin i 50-500 "
    "km/s, r_scale 0.1-0.35 and r_turn 0.01-0.8 of the map, projected r_turn >= 1.5 "
    "beams, random PA",
    n=100,
    snr=None,
    beam=2.0,
    channel_width="auto",
    dispersion=10.0,
    thickness=0.1,
    inclination=(10.0, 90.0),
    v_sin_i=(50.0, 500.0),
    r_scale=(0.10, 0.35),
    r_turn=(0.01, 0.80),
    min_rturn_beams=1.5,
    n_particles=1_000_000,
    targets=("issue11_noiseless",),
)

SETS = {
    s.name: s
    for s in (
        ConditionSet(
            name="thin",
            summary="S/N 20, beam 3 px, 10 km/s channels, 8 km/s dispersion, thin disc, "
            "arctan + exponential",
            n=20,
            snr=20.0,
            beam=3.0,
            channel_width=10.0,
            dispersion=8.0,
            thickness=0.0,
            targets=("issue11_accuracy", "issue11_vs_barolo"),
        ),
        ConditionSet(
            name="hard",
            summary="S/N 8-30, beams 2-5 px, 20 km/s channels, 15 km/s dispersion, "
            "thick disc (h = 0.1-0.3 r_scale), arctan + exponential",
            n=40,
            snr=LogUniform(8.0, 30.0),
            beam=(2.0, 5.0),
            channel_width=20.0,
            dispersion=15.0,
            thickness=(0.1, 0.3),
            targets=("issue11_accuracy", "issue11_vs_barolo"),
        ),
        _NOISELESS,
        replace(
            _NOISELESS,
            name="edge",
            summary="thesis Table 3.2 as 'noiseless', i 50-90 deg, but the gas ends at a sharp "
            "edge 2-4 r_scale out (a known limitation: galkin's discs fade out)",
            n=40,
            inclination=(50.0, 90.0),
            edge=(2.0, 4.0),
            targets=(),
        ),
        ConditionSet(
            name="rings",
            summary="S/N 20, beam 3 px, 10 km/s channels, 8 km/s dispersion, thin disc; curves "
            "that rise, peak and decline; gas in rings with holes",
            n=20,
            snr=20.0,
            beam=3.0,
            channel_width=10.0,
            dispersion=8.0,
            thickness=0.0,
            velocity=("peaked",),
            density=("rings",),
            targets=("issue12_rings",),
        ),
        ConditionSet(
            name="mixed",
            summary="domain-randomised: channels 2-30 km/s, dispersion 5-40 km/s, beams 1.5-8 "
            "px, S/N 3-100, half beam-correlated noise, any profile kind",
            n=50,
            snr=LogUniform(3.0, 100.0),
            beam=(1.5, 8.0),
            channel_width=(2.0, 30.0),
            dispersion=(5.0, 40.0),
            thickness=(0.0, 0.3),
            correlated_noise=0.5,
            inclination=(15.0, 85.0),
            velocity=("arctan", "peaked"),
            density=("exponential", "rings"),
            v_max=(50.0, 350.0),
            r_scale=(0.05, 0.30),
            r_turn=(0.02, 0.30),
        ),
    )
}


def _draw(rng, spec):
    """One value from a range (see the module docstring)."""
    if isinstance(spec, LogUniform):
        return float(np.exp(rng.uniform(np.log(spec.low), np.log(spec.high))))
    if isinstance(spec, tuple):
        return float(rng.uniform(*spec))
    return spec


def _velocity_profile(rng, cset, kind, inclination):
    size = MAP_SIZE
    if kind == "arctan":
        if cset.v_sin_i is not None:
            v_max = _draw(rng, cset.v_sin_i) / np.sin(np.radians(inclination))
        else:
            v_max = _draw(rng, cset.v_max)
        return {"kind": "arctan", "v_max": v_max, "r_turn": _draw(rng, cset.r_turn) * size}
    # peaked: a bulge peak at 2-6 px, an outer disc at 50-85% of the bulge's speed
    v_bulge = _draw(rng, cset.v_max)
    return {
        "kind": "peaked",
        "v_bulge": v_bulge,
        "a_bulge": rng.uniform(0.03, 0.10) * size,
        "v_outer": rng.uniform(0.50, 0.85) * v_bulge,
        "r_outer": rng.uniform(0.05, 0.15) * size,
    }


def _density_profile(rng, cset, kind):
    profile = _density_shape(rng, cset, kind)
    if cset.edge is not None:
        profile["r_edge"] = _draw(rng, cset.edge) * profile["r_scale"]
    return profile


def _density_shape(rng, cset, kind):
    size = MAP_SIZE
    if kind == "exponential":
        return {"kind": "exponential", "r_scale": _draw(rng, cset.r_scale) * size}
    # rings: one or two Gaussian rings on a 10-30% exponential floor, half with a hole
    n_rings = int(rng.integers(1, 3))
    radii = np.sort(rng.uniform(0.10, 0.35, n_rings)) * size
    return {
        "kind": "rings",
        "r_scale": rng.uniform(0.15, 0.30) * size,
        "floor": rng.uniform(0.1, 0.3),
        "ring_radius": radii.tolist(),
        "ring_width": (rng.uniform(0.025, 0.06, n_rings) * size).tolist(),
        "ring_amplitude": [1.0] + rng.uniform(0.4, 1.0, n_rings - 1).tolist(),
        "r_hole": float(rng.uniform(0.3, 0.7) * radii[0]) if rng.uniform() < 0.5 else 0.0,
    }


def _auto_channel_width(half_width):
    """About 40 channels across the line, in 0.5 km/s steps, kept within 5-10 km/s."""
    return float(np.clip(np.round(2.0 * (2.0 * half_width / 40.0)) / 2.0, 5.0, 10.0))


def draw_galaxy(cset, index, seed, *, max_tries=1000):
    """The specification of galaxy ``index`` of condition set ``cset``.

    Parameters
    ----------
    cset : ConditionSet
    index, seed : int

    Returns
    -------
    dict
        Everything the cube generator needs (JSON-able): geometry, profiles,
        beam, channels, noise, seeds, and ``n_redrawn`` (draws rejected by the
        resolution cut before this one).
    """
    rng = np.random.default_rng([seed, index, zlib.crc32(cset.name.encode())])
    for redrawn in range(max_tries):  # noqa: B007 (reported below)
        inc = _draw(rng, cset.inclination)
        beam = _draw(rng, cset.beam)
        velocity = _velocity_profile(rng, cset, str(rng.choice(cset.velocity)), inc)
        density = _density_profile(rng, cset, str(rng.choice(cset.density)))
        projected = velocity.get("r_turn", np.inf) * np.cos(np.radians(inc))
        if projected >= cset.min_rturn_beams * beam:
            break
    else:
        raise RuntimeError(f"{cset.name}: no galaxy passed the resolution cut in {max_tries}")
    dispersion = _draw(rng, cset.dispersion)
    v_proj = peak_velocity(velocity, MAP_SIZE) * np.sin(np.radians(inc))
    dv = cset.channel_width
    dv = _auto_channel_width(v_proj + 4 * dispersion) if dv == "auto" else _draw(rng, dv)
    snr = None if cset.snr is None else _draw(rng, cset.snr)
    centre = (MAP_SIZE / 2 + rng.uniform(-2.0, 2.0, 2)).tolist()
    return {
        "set": cset.name,
        "index": int(index),
        "seed": int(seed),
        "name": f"{cset.name}-{seed}-{index:04d}",
        "shape": [MAP_SIZE, MAP_SIZE],
        "pixel_scale_arcsec": 1.0,
        "center_px": centre,
        "inclination_deg": inc,
        "position_angle_deg": float(rng.uniform(0.0, 360.0)),
        "systemic_velocity_kms": float(rng.uniform(500.0, 3000.0)),
        "channel_phase": float(rng.uniform(-0.5, 0.5)),
        "velocity_profile": velocity,
        "density_profile": density,
        "dispersion_kms": dispersion,
        "scale_height_arcsec": _draw(rng, cset.thickness) * density["r_scale"],
        "channel_width_kms": dv,
        "beam_fwhm_arcsec": beam,
        "snr": snr,
        "noise": "beam" if rng.uniform() < cset.correlated_noise else "white",
        "n_particles": cset.n_particles,
        "kinms_seed": int(rng.integers(1, 2**20)),
        "noise_seed": int(rng.integers(2**31)),
        "n_redrawn": redrawn,
    }
