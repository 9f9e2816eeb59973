"""Command line: ``galkin demo``, ``galkin fit CUBE``, ``galkin survey`` and ``galkin classify``.

``galkin survey PATHS_OR_DIRS -o results.ecsv`` fits every galaxy in the files and
directories given (:func:`galkin.io.files.survey_files`) with
:func:`galkin.fit_many`, checkpointing each finished row next to the output so
that running the same command again resumes; ``galkin classify`` runs the
disturbed-gas classifier on velocity maps.  Tables are written as ECSV or FITS,
by the output's extension.
"""

import argparse
import collections
import re
import sys
import time
from pathlib import Path

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


#: Table formats by output file extension.
TABLE_FORMATS = {".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits", ".fits.gz": "fits"}


def _table_format(path):
    name = str(path).lower()
    for suffix, fmt in TABLE_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    raise SystemExit(
        f"galkin: cannot tell the table format of {path}: name it .ecsv or .fits "
        "(the formats galkin writes)."
    )


def _write_table(table, path, overwrite):
    table.write(path, format=_table_format(path), overwrite=overwrite)


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _summary(table, out=None):
    """Counts, and the failures grouped by reason (numbers in the reasons as N)."""
    out = out if out is not None else sys.stdout
    counts = collections.Counter(str(s) for s in table["status"])
    parts = ", ".join(f"{counts[s]} {s}" for s in ("ok", "failed", "rejected") if counts[s])
    print(f"{len(table)} galaxies: {parts}", file=out)
    reasons = collections.defaultdict(list)
    for row in table:
        if row["status"] != "ok":
            reason = _NUMBER.sub("N", str(row["error"]).split("\n")[0])[:100]
            reasons[(str(row["status"]), reason)].append(str(row["name"]))
    for (status, reason), names in sorted(reasons.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        print(f"  {len(names):5d} {status}: {reason}\n        {shown}", file=out)


def survey(args):
    """Fit every galaxy in the files and directories given; write one table."""
    import galkin
    from galkin.io.files import survey_files

    output = Path(args.output)
    _table_format(output)
    if output.exists() and not args.overwrite:
        raise SystemExit(f"galkin: {output} exists; pass --overwrite to replace it.")
    files = survey_files(args.paths)
    if not files:
        raise SystemExit("galkin: no FITS files found in " + " ".join(args.paths))
    checkpoint = Path(args.checkpoint) if args.checkpoint else Path(f"{output}.checkpoint.jsonl")
    if args.restart and checkpoint.exists():
        checkpoint.unlink()
    elif checkpoint.exists():
        print(f"resuming from {checkpoint}", file=sys.stderr)
    options = dict(
        mode=args.mode,
        mc_samples=args.mc_samples,
        workers=args.workers,
        checkpoint=checkpoint,
        progress=not args.quiet,
        seed=args.seed,
        device=args.device,
    )
    if args.batch_size is not None:  # else fit_many's default
        options["batch_size"] = args.batch_size
    if args.beam:
        options["beam"] = args.beam * u.arcsec
    if args.curves:
        _table_format(Path(args.curves))
        if Path(args.curves).exists() and not args.overwrite:
            raise SystemExit(f"galkin: {args.curves} exists; pass --overwrite to replace it.")
        options["rotation_curves"] = True
    if args.no_intensity_fallback:
        options["intensity_fallback"] = False
    for kind, default in (("velocity", "arctan"), ("intensity", "exponential")):
        if getattr(args, kind) != default:  # (the defaults keep older checkpoints valid)
            options[kind] = getattr(args, kind)
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    t0 = time.perf_counter()
    try:
        table = galkin.fit_many(files, client=client, **options)
    finally:
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - t0
    if args.curves:
        table, curves = table
        _write_table(curves, args.curves, args.overwrite)
        print(f"rotation curves ({len(curves)} rings) written to {args.curves}")
    _write_table(table, output, args.overwrite)
    _summary(table)
    print(f"{len(table) / elapsed:.1f} galaxies/s; table written to {output}")
    return 0 if table.meta["n_ok"] else 1


def classify_files(args):
    """Classify velocity maps (survey files, cubes or plain 2-D images) as regular or not."""
    import galkin
    from galkin.io.files import galaxy_name, survey_files

    paths = survey_files(args.paths)
    table = galkin.classify(list(paths))  # a broken file gets a "failed" row
    table["name"] = [galaxy_name(path) for path in paths]
    print(table["name", "label", "boundary_distance", "position_angle"])
    for row in table[table["label"] == "failed"]:
        print(f"{row['name']}: {row['error']}")
    if args.output:
        _write_table(table, args.output, args.overwrite)
        print(f"table written to {args.output}")
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

    p = sub.add_parser(
        "survey",
        help="fit every galaxy in files and directories; one table, checkpointed and resumable",
    )
    p.add_argument("paths", nargs="+", help="FITS files, and directories to scan for them")
    p.add_argument("-o", "--output", required=True, help="table to write (.ecsv or .fits)")
    p.add_argument("--workers", type=int, default=None, help="processes (default every core)")
    p.add_argument(
        "--batch-size", type=int, default=None, help="galaxies per model batch (default 32)"
    )
    p.add_argument("--scheduler", help="address of a dask scheduler to fit on its workers")
    p.add_argument("--mode", default="blind", choices=["blind", "solo"])
    p.add_argument("--mc-samples", type=int, default=100)
    p.add_argument("--beam", type=float, help="circular beam FWHM in arcsec, for files without")
    p.add_argument(
        "--checkpoint", help="checkpoint file (default OUTPUT.checkpoint.jsonl, resumed if present)"
    )
    p.add_argument("--restart", action="store_true", help="discard the checkpoint, start over")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output table")
    p.add_argument(
        "--curves", help="also write every galaxy's rotation curve, one row per ring, here"
    )
    p.add_argument(
        "--velocity", default="arctan", help="velocity profile (default arctan; e.g. rings)"
    )
    p.add_argument("--intensity", default="exponential", help="intensity profile (e.g. rings)")
    p.add_argument(
        "--no-intensity-fallback",
        action="store_true",
        help="keep the exponential where it misses the surface density or its edge (no refit)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None)
    p.set_defaults(func=survey)

    p = sub.add_parser("classify", help="regular or disturbed: classify velocity maps")
    p.add_argument("paths", nargs="+", help="velocity maps, cubes or survey files, or directories")
    p.add_argument("-o", "--output", help="table to write (.ecsv or .fits)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output table")
    p.set_defaults(func=classify_files)
    args = parser.parse_args(argv)
    return args.func(args)
