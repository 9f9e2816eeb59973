"""galkin (blind, solo and rings) and 3D-Barolo on the real WSRT HI cube of NGC 2903.

    python benchmarks/bench_ngc2903.py [--path .../NGC_2903.fits] [--no-barolo]
        [--no-solo] [--no-rings] [--no-amortised] [--galkin-option key=value] [--cache DIR]

The cube (``shared/data/ngc2903/NGC_2903.fits``: WHISP/WSRT, 57" x 48" beam, 20"
pixels, VELO-HEL axis in m/s, NCP projection) is read as a user would read it,
``galkin.fit(path)``; 3D-Barolo runs its automatic 3DFIT
(``benchmarks/referee/run_barolo.py``; its result is cached) on the same file,
where it misreads the beam (see :func:`barolo_header_copy`), and on a copy
whose header it reads correctly. Printed beside:

* the reference geometry of issue 11: inclination ~69 deg, PA ~202 deg,
  V_sys ~556 km/s, V_rot ~150-225 km/s (tilted-ring fits of HI data);
* a published rotation curve: SPARC (Lelli, McGaugh & Schombert 2016, AJ 152,
  157), file ``NGC2903_rotmod.dat`` (distance 6.6 Mpc; converted back to arcsec
  here), whose HI curve comes from the VLA THINGS data (de Blok et al. 2008).

Curve agreement is the median of ``|V / V_SPARC - 1|`` from 70" to 520" (the range
of issue 12's "Done when"), each fit's curve taken at SPARC's radii. The ring
fit (``velocity="rings", intensity="rings"``, started from the blind network's
estimate) also prints its own rings beside SPARC's curve at the same radii; the
same fit started by the amortised ring network (``ring_start="amortised"``) is
printed beside it.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from referee.cache import default_cache_dir
from referee.run_barolo import barolo_for
from referee.run_galkin import parse_option, run_galkin

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "ngc2903" / "NGC_2903.fits"
#: Reference geometry quoted in issue 11 (deg, deg, km/s).
REFERENCE = {"inclination": 69.0, "position_angle": 202.0, "systemic_velocity": 556.0}
#: SPARC NGC2903_rotmod.dat: radius (kpc at 6.6 Mpc), V_obs and its error (km/s).
SPARC_DISTANCE_MPC = 6.6
SPARC = np.array(
    [
        (0.32, 44, 8), (0.64, 64, 8), (0.96, 128, 8), (1.28, 148, 8), (1.60, 157, 8),
        (1.92, 189, 8), (2.24, 195, 6), (2.56, 201, 6), (2.88, 214, 4), (3.20, 215, 4),
        (3.52, 215, 4), (3.84, 216, 3), (4.80, 214, 2), (5.76, 210, 2), (6.72, 205, 2),
        (7.68, 203, 1), (8.64, 201, 1), (9.60, 201, 1), (10.56, 199, 1), (11.52, 197, 1),
        (12.48, 196, 2), (13.44, 193, 3), (14.40, 190, 3), (15.36, 188, 5), (16.32, 187, 5),
        (17.28, 188, 3), (18.24, 186, 3), (19.20, 185, 3), (20.16, 185, 3), (21.12, 181, 3),
        (22.08, 178, 3), (23.04, 177, 3), (24.00, 182, 4), (24.96, 180, 8),
    ]
)  # fmt: skip
#: Radii (arcsec) over which the curves are compared (issue 12).
CURVE_RANGE = (70.0, 520.0)


def sparc_curve():
    """SPARC's curve: radius (arcsec), V and its error (km/s)."""
    radius = SPARC[:, 0] / (SPARC_DISTANCE_MPC * 1e3) * 206264.806
    return radius, SPARC[:, 1], SPARC[:, 2]


def curve_error(v, v_ref, radius):
    """Median ``|V / V_ref - 1|`` (%) over :data:`CURVE_RANGE`."""
    use = (radius >= CURVE_RANGE[0]) & (radius <= CURVE_RANGE[1])
    if v is None or len(v) != len(radius):
        return np.nan
    return float(100 * np.median(np.abs(np.asarray(v)[use] / v_ref[use] - 1)))


def ring_table(path, options):
    """The ring fit's `FitResult.rotation_curve` table (fitted again: it takes seconds)."""
    import warnings

    import galkin

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", galkin.GalkinWarning)
        return galkin.fit(str(path), **options).rotation_curve()


def barolo_header_copy(path, folder):
    """A copy of the cube without the GIPSY beam cards BMMAJ/BMMIN/BMPA, for 3D-Barolo.

    The WSRT file carries the beam twice: BMAJ/BMIN in degrees (FITS standard)
    and GIPSY's BMMAJ/BMMIN in arcsec, written with a Fortran ``D`` exponent.
    3D-Barolo 1.8 reads BMAJ, then divides it by 3600 whenever BMMAJ contains a
    ``D``, so it takes the 57" beam for 0.016" and stops with no ring fitted.
    Its users would fix the header; this copy does (galkin reads the original).
    """
    from astropy.io import fits

    out = Path(folder) / f"{Path(path).stem}.barolo-header.fits"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with fits.open(path) as hdul:
            for key in ("BMMAJ", "BMMIN", "BMPA"):
                hdul[0].header.remove(key, ignore_missing=True)
            hdul.writeto(out)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--no-barolo", action="store_true")
    parser.add_argument("--no-solo", action="store_true")
    parser.add_argument("--no-rings", action="store_true")
    parser.add_argument(
        "--no-amortised", action="store_true", help="skip the rings started by the ring network"
    )
    parser.add_argument("--galkin-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.path.exists():
        sys.exit(
            f"{args.path} is not there: this benchmark needs the WSRT cube of NGC 2903 "
            "(shared/data/ngc2903/NGC_2903.fits); pass --path."
        )
    import torch

    torch.set_num_threads(1)
    radius, v_sparc, v_sparc_err = sparc_curve()
    truth = {"radius_arcsec": radius.tolist()}
    options = dict(parse_option(o) for o in args.galkin_option)
    runs = {"galkin blind": run_galkin(args.path, truth, options)}
    if not args.no_solo:
        runs["galkin solo"] = run_galkin(args.path, truth, {"mode": "solo", "seed": 0} | options)
    rings = None
    if not args.no_rings:
        ring_options = {"velocity": "rings", "intensity": "rings"} | options
        runs["galkin rings"] = run_galkin(args.path, truth, ring_options)
        if runs["galkin rings"].get("ok"):
            rings = ring_table(args.path, ring_options)
        if not args.no_amortised:  # the rings started by the amortised ring network
            amortised = ring_options | {"ring_start": "amortised"}
            runs["galkin rings amort"] = run_galkin(args.path, truth, amortised)
    if not args.no_barolo:
        cache = (args.cache or default_cache_dir()) / "ngc2903"
        runs["3D-Barolo (file)"] = barolo_for(args.path, truth, cache_dir=cache)
        fixed = barolo_header_copy(args.path, cache)
        runs["3D-Barolo 3DFIT"] = barolo_for(fixed, truth, cache_dir=cache)

    print(f"NGC 2903, {args.path}")
    heads = ("incl (deg)", "PA (deg)", "V_sys", "V_max", '|dV/V| 70-520"', "time (s)")
    widths = (11, 9, 8, 8, 15, 9)
    print("\n" + " " * 18 + " ".join(f"{h:>{w}s}" for h, w in zip(heads, widths, strict=True)))
    ref = REFERENCE
    print(
        f"{'reference':18s} {ref['inclination']:11.1f} {ref['position_angle']:9.1f} "
        f"{ref['systemic_velocity']:8.1f} {'150-225':>8s} {'(SPARC)':>15s}"
    )
    for label, r in runs.items():
        if not r.get("ok"):
            print(f"{label:18s} FAILED: {r.get('error')}")
            continue
        v_max = "--" if r.get("v_max") is None else f"{r['v_max']:.1f}"
        err = curve_error(r.get("curve_v"), v_sparc, radius)
        print(
            f"{label:18s} {r['inclination']:11.1f} {r['position_angle']:9.1f} "
            f"{r['systemic_velocity']:8.1f} {v_max:>8s} {err:14.1f}% {r['runtime_s']:9.1f}"
        )

    print(f"\nrotation curves at SPARC's radii (km/s; SPARC at {SPARC_DISTANCE_MPC} Mpc)")
    labels = [k for k, r in runs.items() if r.get("ok")]
    print(f"{'R (arcsec)':>10s} {'SPARC':>11s} " + " ".join(f"{k:>16s}" for k in labels))
    for k, r in enumerate(radius):
        cells = [f"{runs[label]['curve_v'][k]:16.1f}" for label in labels]
        print(f"{r:10.0f} {v_sparc[k]:6.0f}+-{v_sparc_err[k]:<3.0f} " + " ".join(cells))
    if rings is not None:
        print("\ngalkin's rings (rotation_curve()), SPARC interpolated at each ring:")
        sparc_at = np.interp(rings["radius"].value, radius, v_sparc, left=np.nan, right=np.nan)
        print(f"{'R (arcsec)':>10s} {'V_rot':>7s} {'err':>5s} {'SPARC':>6s} {'dV/V':>6s}")
        for row, ref in zip(rings, sparc_at, strict=True):
            r, v, e = row["radius"].value, row["v_rot"].value, row["v_rot_err"].value
            print(f"{r:10.0f} {v:7.1f} {e:5.1f} {ref:6.0f} {100 * (v / ref - 1):5.1f}%")
    if "3D-Barolo 3DFIT" in labels:  # the run on the corrected header
        rings = runs["3D-Barolo 3DFIT"]["rings"]
        print("\n3D-Barolo's rings (arcsec, km/s, deg):")
        for rad, v, inc, pa in zip(
            rings["RAD(arcs)"],
            rings["VROT(km/s)"],
            rings["INC(deg)"],
            rings["P.A.(deg)"],
            strict=True,
        ):
            print(f"  R {rad:6.0f}  VROT {v:6.1f}  INC {inc:5.1f}  PA {pa:6.1f}")


if __name__ == "__main__":
    main()
