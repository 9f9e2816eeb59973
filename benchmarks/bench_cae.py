"""CAE classifier on held-out simulated galaxies, beside the thesis (Chapter 2).

Usage::

    python benchmarks/bench_cae.py [--galaxies 150] [--views 4] [--weights PATH]

Prints recall of both classes (kappa > 0.5 regular, else disturbed) for noiseless
maps and for S/N = 10 (thesis: 85% and 82.5% mean recall), and the position-angle
1-sigma (68.27th percentile of |error|) of regular rotators by inclination
(thesis: +-17 deg at 82.5 deg to +-23 deg at 32.5 deg). The galaxies come from
seeds the training script never uses.
"""

import argparse

from galkin.particles import GALAXY_KINDS
from galkin_plugins.cae import CAEClassifier
from galkin_plugins.cae.latent import pa_sigma
from galkin_plugins.cae.training import INCLINATION_BINS, make_views

THESIS_RECALL = {"noiseless": 0.85, "S/N=10": 0.825}
THESIS_PA = "+-23 (32.5 deg) ... +-17 (82.5 deg)"


def evaluate(clf, data):
    out = clf.predict(data["images"])
    regular = data["kappa"] > 0.5
    recall_reg = out["regular"][regular].mean()
    recall_dis = (~out["regular"][~regular]).mean()
    sig = []
    for lo, hi in zip(INCLINATION_BINS[:-1], INCLINATION_BINS[1:], strict=True):
        sel = regular & (data["inclination"] >= lo) & (data["inclination"] < hi)
        sig.append((lo, hi, pa_sigma(out["position_angle"][sel], data["position_angle"][sel])))
    steep = regular & (data["inclination"] > 45)
    steep_sigma = pa_sigma(out["position_angle"][steep], data["position_angle"][steep])
    kinds = {
        k: (regular[s].mean(), (out["regular"][s] == regular[s]).mean())
        for k in GALAXY_KINDS
        if (s := data["kind"] == k).any()
    }
    return recall_reg, recall_dis, sig, steep_sigma, kinds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--galaxies", type=int, default=150)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--seed", type=int, default=31337)
    p.add_argument("--weights", default=None)
    args = p.parse_args(argv)
    clf = CAEClassifier(args.weights)
    print(f"weights: {clf.metadata['training']}")
    rows = []
    for label, snr in (("noiseless", None), ("S/N=10", 10.0)):
        data = make_views(args.galaxies, views=args.views, snr=snr, seed=args.seed)
        reg, dis, sig, steep, kinds = evaluate(clf, data)
        rows.append((label, len(data["kappa"]), reg, dis, sig, steep, kinds))
    print("\nRecall on held-out simulations (kappa > 0.5 = regular)")
    print(f"{'set':<10} {'N':>5} {'regular':>8} {'disturbed':>10} {'mean':>6} {'thesis':>7}")
    for label, n, reg, dis, *_ in rows:
        mean = 0.5 * (reg + dis)
        print(
            f"{label:<10} {n:>5} {reg:>8.1%} {dis:>10.1%} {mean:>6.1%} {THESIS_RECALL[label]:>7.1%}"
        )
    print(f"\nPA 1-sigma (deg) of regular rotators by inclination; thesis {THESIS_PA}")
    print(
        f"{'set':<10} "
        + " ".join(f"{f'{lo:.0f}-{hi:.0f}':>7}" for lo, hi, _ in rows[0][4])
        + f" {'>45':>7}"
    )
    for label, _, _, _, sig, steep, _ in rows:
        print(f"{label:<10} " + " ".join(f"{s:>7.1f}" for _, _, s in sig) + f" {steep:>7.1f}")
    print("\nPer kind: fraction labelled regular (kappa > 0.5) / fraction classified correctly")
    print(f"{'set':<10} " + " ".join(f"{k:>11}" for k in rows[0][6]))
    for label, *_, kinds in rows:
        print(f"{label:<10} " + " ".join(f"{r:>5.0%}/{a:>5.0%}" for r, a in kinds.values()))


if __name__ == "__main__":
    main()
