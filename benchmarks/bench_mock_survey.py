"""A mock MaNGA + SAMI survey end to end: is the injected Tully-Fisher slope recovered?

Simulates N galaxies whose circular speeds follow thesis Eq. 4.5 (slope 0.258,
intercept 2.265 at log M* = 10.09) with 0.05 dex intrinsic scatter, writes them as
MaNGA DAP MAPS and SAMI map files with a catalogue
(:func:`galkin_plugins.mock_survey.make_mock_survey`), then runs load -> fit_many ->
join -> asymmetric drift -> quality cuts -> LtsFit reverse TFR
(:func:`galkin_plugins.mock_survey.run_mock_survey`).  Prints truth against the fit
of the drift-corrected V_max, side by side with two peers on the same galaxies:
the fit of the true circular speeds (perfect kinematics, same catalogue masses and
cuts) and the fit of the uncorrected V_max (no asymmetric drift); then whether the
injected slope lies within 2 sigma, and the wall times.

    python benchmarks/bench_mock_survey.py [--n 300] [--mode blind] [--mc-samples 100]

``--mode blind`` (the default) needs the pretrained SAE; ``--mode solo`` trains on
each galaxy (seconds per galaxy: try ``--n 20``, or ``--size 32 --epochs 30`` for a
quicker, rougher fit).
"""

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy import units as u

import galkin
from galkin import GalkinError
from galkin_plugins.mock_survey import (
    THESIS_TFR,
    load_mock_survey,
    make_mock_survey,
    run_mock_survey,
)
from galkin_plugins.science import fit_tully_fisher


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="galaxies (default %(default)s)")
    p.add_argument("--mode", default="blind", help="fitting mode (default %(default)s)")
    p.add_argument("--mc-samples", type=int, default=100, help="MC dropout samples per galaxy")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--particles", type=int, default=200_000, help="particles per galaxy")
    p.add_argument("--size", type=int, default=None, help="network map size (default 64)")
    p.add_argument("--epochs", type=int, default=None, help="solo/combined training epochs")
    p.add_argument("--directory", type=Path, default=None, help="keep the files here")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="fit the survey already in --directory instead of simulating one",
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default every core)")
    p.add_argument("--device", default=None, help="torch device (default CUDA if available)")
    args = p.parse_args(argv)
    modes = tuple(galkin.get_model("sae").modes)
    if args.mode not in modes:
        p.error(
            f"--mode {args.mode} is not available in this installation (the SAE offers "
            f"{', '.join(modes)}); 'blind' needs the pretrained SAE weights. Try --mode solo "
            "with a small --n."
        )
    if args.n < 10:
        p.error("--n must be at least 10 for a Tully-Fisher fit after the cuts.")
    if args.mode not in ("solo", "combined"):  # modes that need assets: try one galaxy first
        with tempfile.TemporaryDirectory() as tmp:
            probe = make_mock_survey(tmp, 1, surveys=("manga",), n_particles=20_000)
            try:
                galkin.fit(probe.files[0], mode=args.mode, mc_samples=2)
            except GalkinError as exc:
                p.error(f"--mode {args.mode} is not usable here: {exc}")
    return args


def fit_options(args):
    options = {"mode": args.mode, "mc_samples": args.mc_samples, "seed": args.seed}
    if args.workers is not None:
        options["workers"] = args.workers
    if args.size is not None:
        options["size"] = args.size
    if args.device is not None:
        options["device"] = args.device
    if args.epochs is not None:
        from galkin_plugins.sae.model import COMBINED_CONFIG, SOLO_CONFIG

        base = SOLO_CONFIG if args.mode == "solo" else COMBINED_CONFIG
        options["config"] = dataclasses.replace(base, epochs=args.epochs)
    return options


def row(label, fit, truth=None):
    def cell(value, err):
        return f"{value:8.4f} +- {err:6.4f}"

    if truth is not None:
        return f"{label:34s}{truth.slope:19.4f}{truth.intercept:19.4f}{truth.scatter:19.4f}"
    return (
        f"{label:34s}{cell(fit.slope, fit.slope_err)} {cell(fit.intercept, fit.intercept_err)}"
        f" {cell(fit.scatter, fit.scatter_err)}  {fit.n_used:4d}"
    )


def main(argv=None):
    args = parse(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.directory or Path(tmp)
        if args.reuse:
            survey = load_mock_survey(directory)
            args.n = len(survey.files)
        else:
            survey = make_mock_survey(
                directory, args.n, seed=args.seed, n_particles=args.particles, progress=True
            )
        result = run_mock_survey(survey, progress=True, **fit_options(args))
    total = time.perf_counter() - start
    table, fit = result.table, result.fit
    # Peers on the same galaxies, masses and cuts: perfect kinematics, and no drift correction.
    table["v_circ_true"] = survey.truth["v_circ"]
    table["v_circ_true_err"] = np.zeros(len(table)) * u.km / u.s
    pivot = THESIS_TFR.pivot
    perfect = fit_tully_fisher(table, "reverse", velocity="v_circ_true", pivot=pivot)
    no_drift = fit_tully_fisher(table, "reverse", velocity="v_max", pivot=pivot)

    status = np.asarray(table["status"]).astype(str)
    print(
        f"\nmock survey: {args.n} galaxies ({np.sum(survey.truth['survey'] == 'manga')} MaNGA, "
        f"{np.sum(survey.truth['survey'] == 'sami')} SAMI), mode {args.mode}, "
        f"{args.mc_samples} MC samples, seed {args.seed}"
    )
    print(
        f"loaded and fitted {np.sum(status == 'ok')}, rejected by the survey cuts "
        f"{np.sum(status == 'rejected')}, failed {np.sum(status == 'failed')}; kept by the "
        f"quality cuts {int(np.sum(table['keep']))} (i < 30 deg: "
        f"{int(np.sum(table['low_inclination']))}, high loss: {int(np.sum(table['high_loss']))})"
    )
    print(f"\nreverse TFR, log V = m (log M* - {pivot}) + c, LtsFit clip 2.6 sigma")
    print(f"{'':34s}{'slope m':>19s}{'intercept c':>19s}{'intrinsic scatter':>19s}  used")
    print(row("injected (circular speed)", None, THESIS_TFR))
    print(row("galkin, drift-corrected V_max", fit))
    print(row("peer: true V_c (perfect kinematics)", perfect))
    print(row("peer: galkin V_max, no drift", no_drift))
    verdict = "WITHIN" if result.slope_recovered else "NOT within"
    print(
        f"\ninjected slope {THESIS_TFR.slope} is {verdict} 2 sigma of the galkin fit "
        f"({fit.slope:.4f} +- {fit.slope_err:.4f}, pull {result.slope_pull:+.2f})"
    )
    ok = status == "ok"
    print(
        f"\nwall time: simulate + write {survey.seconds:.1f} s "
        f"({survey.seconds / args.n:.2f} s/galaxy), fit_many {result.seconds['fit']:.1f} s "
        f"({result.seconds['fit'] / max(ok.sum(), 1):.2f} s per fitted galaxy), "
        f"post-processing {result.seconds['science']:.1f} s, total {total:.1f} s"
    )
    return 0 if result.slope_recovered else 1


if __name__ == "__main__":
    sys.exit(main())
