"""The independent referee: galkin and 3D-Barolo on KinMS cubes galkin did not make.

    python benchmarks/bench_referee.py --set hard [--n 40] [--seed 1] [--no-barolo]
        [--galkin-option mode=solo] [--noise beam] [--simulator galmod] [--workers 1]
        [--rows] [--cache DIR] [--out FILE]

Cubes come from KinMS (the particle simulator ALMA modellers use; a benchmark-only
dependency: ``pip install -e .[bench]`` or ``scripts/setup-bench.sh``), drawn
from the named condition sets of ``benchmarks/referee/conditions.py`` and written
as FITS files a user would have. ``--simulator galmod`` makes the same galaxies
with a second independent forward model instead, 3D-Barolo's GALMOD (a
tilted-ring cloud model; pyBBarolo), so a result that holds on one simulator's
conventions can be checked on another's. (3D-Barolo then fits cubes of its own
model: its numbers there are a best case, not a peer's.) Each cube is fitted by ``galkin.fit(path)``
(default blind mode; ``--galkin-option key=value`` passes options through) and
by 3D-Barolo's 3DFIT in its automatic mode (``benchmarks/referee/run_barolo.py``
says exactly how). Cubes and 3D-Barolo's fits are cached (default
``~/.cache/galkin-referee``), so a rerun costs only galkin's fits.

Prints, per tool and metric (``benchmarks/referee/metrics.py`` defines them): the
median bias, median |error|, robust scatter, standard deviation and 68%
coverage, the ratio of galkin's median |error| to 3D-Barolo's, and PASS/FAIL of
the set's targets from issues 11 and 12. Sets: thin, hard, noiseless, rings, mixed, edge.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

from referee.cache import default_cache_dir, write_json
from referee.conditions import SETS
from referee.pipeline import Job, evaluate_all
from referee.report import print_profiles, print_rows, print_summary, print_targets, summaries
from referee.run_barolo import BAROLO_PARAMS
from referee.run_galkin import parse_option


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", required=True, choices=sorted(SETS), dest="set_name")
    parser.add_argument("--n", type=int, default=None, help="galaxies (default: the set's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None, help="cube and 3D-Barolo cache")
    parser.add_argument("--no-barolo", action="store_true", help="skip 3D-Barolo")
    parser.add_argument("--barolo-only", action="store_true", help="skip galkin")
    parser.add_argument(
        "--barolo-errors", action="store_true", help="3D-Barolo FLAGERRORS (about 5x slower)"
    )
    parser.add_argument(
        "--galkin-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed to galkin.fit, e.g. mode=solo, refine=False, mc_samples=200 (repeatable)",
    )
    parser.add_argument(
        "--noise",
        choices=("white", "beam"),
        default=None,
        help="override the set's noise: independent per voxel, or beam-correlated",
    )
    parser.add_argument(
        "--simulator",
        choices=("kinms", "galmod"),
        default="kinms",
        help="the forward model that makes the cubes: KinMS (particles) or 3D-Barolo's "
        "GALMOD (tilted-ring clouds; needs pyBBarolo)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (1 thread each)")
    parser.add_argument("--rows", action="store_true", help="print the per-galaxy table")
    parser.add_argument("--out", type=Path, default=None, help="write every record as JSON")
    args = parser.parse_args(argv)
    if args.no_barolo and args.barolo_only:
        parser.error("--no-barolo and --barolo-only exclude each other")
    return args


def _galkin_version():
    import galkin

    try:
        here = Path(__file__).resolve().parent
        commit = subprocess.run(
            ["git", "-C", str(here), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return f"{galkin.__version__} ({commit})" if commit else galkin.__version__


def main(argv=None):
    args = parse_args(argv)
    cset = SETS[args.set_name]
    n = cset.n if args.n is None else args.n
    cache = args.cache or default_cache_dir()
    options = dict(parse_option(o) for o in args.galkin_option)
    jobs = [
        Job(
            cset.name,
            k,
            args.seed,
            cache,
            options,
            galkin=not args.barolo_only,
            barolo=not args.no_barolo,
            barolo_errors=args.barolo_errors,
            noise=args.noise,
            simulator=args.simulator,
        )
        for k in range(n)
    ]
    print(f"set {cset.name!r}: {cset.summary}")
    noise = f", {args.noise} noise for every cube" if args.noise else ""
    print(
        f"{n} galaxies from {'GALMOD' if args.simulator == 'galmod' else 'KinMS'}, "
        f"seed {args.seed}{noise}, cache {cache}, {args.workers} worker(s)"
    )
    if not args.barolo_only:
        print(f"galkin {_galkin_version()}: galkin.fit(path, **{options})")
    if not args.no_barolo:
        extra = " FLAGERRORS=true" if args.barolo_errors else ""
        params = " ".join(
            f"{k}={v!r}" if " " in v else f"{k}={v}" for k, v in BAROLO_PARAMS.items()
        )
        print(f"3D-Barolo: BBarolo -c FITSFILE=<cube> {params}{extra} (automatic mode)")
    start = time.perf_counter()
    records = evaluate_all(jobs, workers=args.workers)
    wall = time.perf_counter() - start

    stats = summaries(records)
    tools = []
    if not args.barolo_only:
        tools.append("galkin " + (", ".join(f"{k}={v}" for k, v in options.items()) or "blind"))
    if not args.no_barolo:
        tools.append("3D-Barolo 3DFIT automatic")
    print_summary(stats, f"{cset.name}: {' | '.join(tools)}, {n} cubes")
    print_targets(stats, cset.targets)
    print_profiles(records)
    for tool in ("galkin", "barolo"):
        failed = [r for r in records if r.get(tool) and not r[tool].get("ok")]
        for r in failed[:10]:
            print(f"  {tool} failed on {r['truth']['name']}: {r[tool]['error'][:200]}")
        if len(failed) > 10:
            print(f"  ... and {len(failed) - 10} more {tool} failures")
    if args.rows:
        print_rows(records)
    cpu = {
        tool: sum((r.get(tool) or {}).get("runtime_s") or 0 for r in records)
        for tool in ("galkin", "barolo")
    }
    cached = sum(bool((r.get("barolo") or {}).get("cached")) for r in records)
    print(
        f"\nwall time {wall:.0f} s; galkin {cpu['galkin']:.0f} s in total; 3D-Barolo "
        f"{cpu['barolo']:.0f} s in total ({cached} of {n} read from the cache); cubes "
        f"{sum(r['cube_s'] for r in records):.0f} s"
    )
    if args.out:
        write_json(args.out, {"args": sys.argv, "options": str(options), "records": records})
        print(f"records written to {args.out}")


if __name__ == "__main__":
    main()
