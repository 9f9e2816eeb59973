"""Command line: ``galkin demo`` (simulate and fit a galaxy) and ``galkin fit CUBE``."""

import argparse
import sys
import time

from astropy import units as u

__all__ = ["main"]

DEMO_TRUTH = dict(
    inclination=60 * u.deg,
    position_angle=135 * u.deg,
    v_max=200 * u.km / u.s,
    r_turn=4 * u.arcsec,
    r_scale=8 * u.arcsec,
)


def _print_comparison(result, truth, out=None):
    out = out if out is not None else sys.stdout  # resolved at call time (redirects)
    print(f"{'parameter':>17s} {'truth':>12s} {'fit':>12s} {'error':>10s}  unit", file=out)
    for name in result.parameter_names:
        value, err = result.value(name), result.error(name)
        t = truth.get(name)
        t_str = f"{t.to_value(value.unit):12.3f}" if t is not None else f"{'-':>12s}"
        print(f"{name:>17s} {t_str} {value.value:12.3f} {err.value:10.3f}  {value.unit}", file=out)


def demo(args):
    """Simulate a galaxy cube with known parameters, fit it, print and plot."""
    import galkin

    truth = dict(DEMO_TRUTH)
    print("galkin demo: simulating a 64x64 HI cube (beam 3 arcsec, S/N 15) with")
    print("  " + ", ".join(f"{k}={v}" for k, v in truth.items()))
    cube = galkin.simulate_cube(**truth, beam=3 * u.arcsec, snr=15, seed=args.seed)
    t0 = time.perf_counter()
    result = galkin.fit(cube, mode=args.mode, seed=args.seed, device=args.device)
    elapsed = time.perf_counter() - t0
    print(f"\nfitted in {elapsed:.1f} s ({args.mode} mode, {result.model}):\n")
    truth["systemic_velocity"] = cube.meta["galkin_truth"]["systemic_velocity"]
    _print_comparison(result, truth)
    print()
    print(result.to_table())
    result.plot(args.output)
    print(f"\nfigure saved to {args.output}")
    return 0


def fit_file(args):
    """Fit one FITS cube."""
    import galkin

    beam = args.beam * u.arcsec if args.beam else None
    rest = args.rest_frequency * u.GHz if args.rest_frequency else None
    result = galkin.fit(
        args.path,
        mode=args.mode,
        beam=beam,
        rest_frequency=rest,
        seed=args.seed,
        device=args.device,
    )
    table = result.to_table()
    print(table)
    if args.table:
        table.write(args.table, overwrite=True)
    if args.output:
        result.plot(args.output)
        print(f"figure saved to {args.output}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="galkin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="simulate a galaxy, fit it, print truth vs fit, save a figure")
    p.add_argument("--output", default="galkin-demo.png", help="figure path (default %(default)s)")
    p.add_argument(
        "--mode",
        default="blind",
        choices=["blind", "solo"],
        help="blind: the pretrained network; solo: train on this galaxy (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default=None, help="torch device (default: CUDA if available)")
    p.set_defaults(func=demo)
    p = sub.add_parser("fit", help="fit a FITS cube")
    p.add_argument("path")
    p.add_argument("--beam", type=float, help="circular beam FWHM in arcsec, if the file has none")
    p.add_argument("--rest-frequency", type=float, help="rest frequency in GHz (frequency cubes)")
    p.add_argument("--mode", default="blind", choices=["blind", "solo"])
    p.add_argument("--output", help="save the fit figure here")
    p.add_argument("--table", help="write the result table here (e.g. fit.ecsv)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None)
    p.set_defaults(func=fit_file)
    args = parser.parse_args(argv)
    return args.func(args)
