"""CAE classifier on held-out simulated galaxies, beside the thesis (Chapter 2).

Usage::

    python benchmarks/bench_cae.py [--galaxies 150] [--views 4] [--weights PATH]
                                   [--supervised-bound]

Prints recall of both classes (kappa > 0.5 regular, else disturbed) for noiseless
maps and for S/N = 10 (thesis: 85% and 82.5% mean recall), and the position-angle
1-sigma (68.27th percentile of |error|) of regular rotators by inclination
(thesis: +-17 deg at 82.5 deg to +-23 deg at 32.5 deg). The galaxies come from
seeds the training script never uses.

``--supervised-bound`` also trains, on the CAE's own training images
(``scripts/train_cae.py``'s cache in ``$GALKIN_CACHE``; built if missing), a
*supervised* classifier -- the CAE's encoder trunk with a 64-unit head, trained
on the labels with the same kappa-balanced sampler -- and prints its recall on
the same held-out images, with the threshold set where its training TP and TN
rates meet, as the CAE's boundary is. It is not part of galkin; it measures how
much of the class the images carry, i.e. what recall any classifier of these
maps can be expected to reach.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from galkin.simulation.particles import GALAXY_KINDS
from galkin_plugins.cae import CAEClassifier
from galkin_plugins.cae.latent import equal_rate_boundary, pa_sigma
from galkin_plugins.cae.network import ConvAutoencoder
from galkin_plugins.cae.training import INCLINATION_BINS, kappa_weights, make_views

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_cae  # noqa: E402

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


def supervised_bound(tests, epochs=60, seed=0):
    """Recall of a supervised CNN trained on the CAE's training images (see the notes)."""
    data, _ = train_cae.training_set()  # the shipped weights' training images
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    encoder = ConvAutoencoder().encoder
    encoder[-1] = nn.Linear(encoder[-1].in_features, 64)
    model = nn.Sequential(encoder, nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 1))
    x = torch.as_tensor(data["images"])[:, None]
    y = torch.as_tensor((data["kappa"] > 0.5).astype(np.float32))
    weights = torch.as_tensor(kappa_weights(data["kappa"]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
    for _ in range(epochs):
        model.train()
        for batch in torch.multinomial(weights, 3200, replacement=True, generator=gen).split(32):
            xb = x[batch]
            mirror = torch.rand(len(batch), generator=gen) < 0.5  # a disc's exact symmetry
            xb = torch.where(mirror[:, None, None, None], -xb.flip(-1), xb)
            logit = model(xb)[:, 0]
            loss = nn.functional.binary_cross_entropy_with_logits(logit, y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()

    def score(images):
        with torch.no_grad():
            chunks = torch.as_tensor(images)[:, None].split(512)
            return torch.cat([model(c)[:, 0] for c in chunks]).numpy()

    threshold, above_is_regular, _ = equal_rate_boundary(score(data["images"]), y.numpy() > 0)
    out = {}
    for label, test in tests.items():
        regular = test["kappa"] > 0.5
        pred = (score(test["images"]) > threshold) == above_is_regular
        out[label] = (pred[regular].mean(), (~pred[~regular]).mean())
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--galaxies", type=int, default=150)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--seed", type=int, default=31337)
    p.add_argument("--weights", default=None)
    p.add_argument(
        "--supervised-bound",
        action="store_true",
        help="also train a supervised CNN on the training images and print its recall",
    )
    args = p.parse_args(argv)
    clf = CAEClassifier(args.weights)
    print(f"weights: {clf.metadata['training']}")
    rows, tests = [], {}
    for label, snr in (("noiseless", None), ("S/N=10", 10.0)):
        data = tests[label] = make_views(args.galaxies, views=args.views, snr=snr, seed=args.seed)
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
    if args.supervised_bound:
        print("\nSupervised CNN on the same training images (labels used; not galkin's method)")
        print(f"{'set':<10} {'regular':>8} {'disturbed':>10} {'mean':>6} {'CAE':>6}")
        cae = {label: 0.5 * (reg + dis) for label, _, reg, dis, *_ in rows}
        for label, (reg, dis) in supervised_bound(tests).items():
            mean = 0.5 * (reg + dis)
            print(f"{label:<10} {reg:>8.1%} {dis:>10.1%} {mean:>6.1%} {cae[label]:>6.1%}")


if __name__ == "__main__":
    main()
