"""CAE classifier on held-out simulations and real ALMA maps, beside the thesis (Chapter 2).

Usage::

    python benchmarks/bench_cae.py [--galaxies 100] [--views 4] [--weights PATH]
                                   [--supervised-bound] [--dev-maps DIR]

Prints, for held-out simulated galaxies (seeds the training scripts never use)
of the star-forming gas population the CAE is trained on (``gas``) and of the
first, simpler population (``v1``, the one issue 4's numbers were measured on):
recall of both classes (kappa > 0.5 regular, else disturbed) for noiseless maps
and for S/N = 10, with the thesis's boundary on the latent radius (``cae``) and
with the combined decision (``combined``), beside the thesis's 85% and 82.5%
mean recall (with the mean recall's bootstrap standard error over galaxies:
about +-3.6 points for the default 100 galaxies, +-1.6 for 500); the
position-angle 1-sigma (68.27th percentile of |error|) of regular rotators by
inclination (thesis: +-17 deg at 82.5 deg to +-23 deg at 32.5 deg); and recall
per kind.

On the ten real ALMA CO maps of the development set (``../shared/data/alma_cae_dev``
by default, with the by-eye labels of thesis Table A.2) it prints each map's
label and the agreement (thesis model: 27 of 30 on the whole table).

``--supervised-bound`` also trains, on the CAE's own training images
(``scripts/train_cae.py``'s cache in ``$GALKIN_CACHE``; built if missing), a
*supervised* classifier -- the CAE's encoder trunk with a 64-unit head, trained
on the labels with the same kappa-balanced sampler -- and prints its recall on
the same held-out gas images, with the threshold set where its training TP and
TN rates meet, as the CAE's boundary is. It is not part of galkin; it measures
how much of the class the images carry.
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch
from astropy import units as u
from astropy.io import fits
from torch import nn

import galkin
from galkin_plugins.cae import CAEClassifier
from galkin_plugins.cae.latent import equal_rate_boundary, pa_sigma
from galkin_plugins.cae.network import ConvAutoencoder
from galkin_plugins.cae.training import INCLINATION_BINS, kappa_weights, make_views

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_cae  # noqa: E402

THESIS_RECALL = {"noiseless": 0.85, "S/N=10": 0.825}
THESIS_PA = "+-23 (32.5 deg) ... +-17 (82.5 deg)"
#: Inclination bins (deg) of the recall by inclination; galkin.classify flags maps
#: below galkin.quality.LOW_INCLINATION (30 deg) when given their inclination.
RECALL_INCLINATION_BINS = ((5, 15), (15, 30), (30, 45), (45, 65), (65, 85), (30, 85))
DEV_MAPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "alma_cae_dev"


def recall(pred_regular, regular):
    return pred_regular[regular].mean(), (~pred_regular[~regular]).mean()


def mean_recall_error(pred_regular, regular, galaxy, draws=1000, seed=0):
    """Bootstrap standard error of the mean recall, resampling galaxies (their views are
    not independent)."""
    ids, index = np.unique(galaxy, return_inverse=True)
    correct = pred_regular == regular
    counts = np.zeros((len(ids), 4))
    for col, values in enumerate((correct & regular, regular, correct & ~regular, ~regular)):
        np.add.at(counts[:, col], index, values)
    picks = np.random.default_rng(seed).multinomial(
        len(ids), np.full(len(ids), 1 / len(ids)), draws
    )
    sums = picks @ counts
    keep = (sums[:, 1] > 0) & (sums[:, 3] > 0)
    return float(np.std(0.5 * (sums[keep, 0] / sums[keep, 1] + sums[keep, 2] / sums[keep, 3])))


def evaluate(clf, data, methods):
    regular = data["kappa"] > 0.5
    out = {m: clf.predict(data["images"], data["masks"], method=m) for m in methods}
    rec = {
        m: (
            *recall(o["regular"], regular),
            mean_recall_error(o["regular"], regular, data["galaxy"]),
        )
        for m, o in out.items()
    }
    first = out[methods[0]]
    sig = []
    for lo, hi in zip(INCLINATION_BINS[:-1], INCLINATION_BINS[1:], strict=True):
        sel = regular & (data["inclination"] >= lo) & (data["inclination"] < hi)
        sig.append((lo, hi, pa_sigma(first["position_angle"][sel], data["position_angle"][sel])))
    steep = regular & (data["inclination"] > 45)
    steep_sigma = pa_sigma(first["position_angle"][steep], data["position_angle"][steep])
    incl = []
    for lo, hi in RECALL_INCLINATION_BINS:
        sel = (data["inclination"] >= lo) & (data["inclination"] < hi)
        incl.append((lo, hi, *recall(out[methods[-1]]["regular"][sel], regular[sel])))
    kinds = {
        k: (regular[s].mean(), *((o["regular"][s] == regular[s]).mean() for o in out.values()))
        for k in dict.fromkeys(data["kind"])
        if (s := data["kind"] == k).any()
    }
    return rec, sig, steep_sigma, kinds, incl


def supervised_bound(tests, population, epochs=60, seed=0):
    """Recall of a supervised CNN trained on the CAE's training images (see the notes)."""
    data, _ = train_cae.training_set(population=population)  # the weights' training images
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
    return {
        label: recall((score(t["images"]) > threshold) == above_is_regular, t["kappa"] > 0.5)
        for label, t in tests.items()
    }


def read_dev_maps(folder):
    """``(names, by-eye labels, velocity Quantities)`` of the development maps."""
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    maps = [np.squeeze(fits.getdata(folder / f"{r['name']}.fits")).astype(float) for r in rows]
    return (
        [r["name"] for r in rows],
        [r["by_eye_label"] for r in rows],
        [m * u.km / u.s for m in maps],
    )


def dev_map_table(clf, folder, methods):
    names, eye, maps = read_dev_maps(folder)
    tables = {m: galkin.classify(maps, classifier=clf, method=m) for m in methods}
    print(f"\nReal ALMA CO maps ({folder}; by-eye labels of thesis Table A.2)")
    head = " ".join(f"{m:>10} {'dist':>6}" for m in methods)
    print(f"{'name':<12} {'size':>7} {'blank':>6} {'by eye':>10} {head}")
    for k, (name, label, vel) in enumerate(zip(names, eye, maps, strict=True)):
        cells = " ".join(
            f"{t['label'][k]:>10} {t['boundary_distance'][k]:>+6.2f}" for t in tables.values()
        )
        blank = np.isnan(vel.value).mean()
        print(f"{name:<12} {vel.shape[0]:>3}x{vel.shape[1]:<3} {blank:>6.0%} {label:>10} {cells}")
    for m, t in tables.items():
        agree = int(np.sum(np.asarray(t["label"]) == np.asarray(eye)))
        print(f"{m}: agrees with the eye on {agree} of {len(eye)}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--galaxies", type=int, default=100)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--seed", type=int, default=31337)
    p.add_argument("--weights", default=None)
    p.add_argument("--populations", nargs="+", default=["gas", "v1"], choices=["gas", "v1"])
    p.add_argument("--dev-maps", type=Path, default=DEV_MAPS)
    p.add_argument(
        "--supervised-bound",
        action="store_true",
        help="also train a supervised CNN on the training images and print its recall",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    clf = CAEClassifier(args.weights)
    methods = ["cae", "combined"] if clf.rule else ["cae"]
    print(f"weights: {clf.metadata['training']}")
    rows, tests = [], {}
    for population in args.populations:
        for label, snr in (("noiseless", None), ("S/N=10", 10.0)):
            data = make_views(
                args.galaxies, views=args.views, snr=snr, seed=args.seed, population=population
            )
            tests[population, label] = data
            rows.append((population, label, len(data["kappa"]), *evaluate(clf, data, methods)))
    print("\nRecall on held-out simulations (kappa > 0.5 = regular)")
    print(
        f"{'population':<10} {'set':<10} {'N':>5} {'method':>9} {'regular':>8} {'disturbed':>10} "
        f"{'mean':>6} {'+-':>5} {'thesis':>7} {'ratio':>6}"
    )
    for population, label, n, rec, *_ in rows:
        for m, (reg, dis, err) in rec.items():
            print(
                f"{population:<10} {label:<10} {n:>5} {m:>9} {reg:>8.1%} {dis:>10.1%} "
                f"{0.5 * (reg + dis):>6.1%} {err:>5.1%} {THESIS_RECALL[label]:>7.1%} "
                f"{0.5 * (reg + dis) / THESIS_RECALL[label]:>6.2f}"
            )
    print(f"\nPA 1-sigma (deg) of regular rotators by inclination; thesis {THESIS_PA}")
    print(
        f"{'population':<10} {'set':<10} "
        + " ".join(f"{f'{lo:.0f}-{hi:.0f}':>7}" for lo, hi, _ in rows[0][4])
        + f" {'>45':>7}"
    )
    for population, label, _, _, sig, steep, *_ in rows:
        cells = " ".join(f"{s:>7.1f}" for _, _, s in sig)
        print(f"{population:<10} {label:<10} {cells} {steep:>7.1f}")
    print(
        "\nPer kind: fraction labelled regular (kappa > 0.5) / fraction classified correctly "
        f"({' / '.join(methods)})"
    )
    for population, label, *_, kinds, _ in rows:
        print(
            f"{population} {label}: "
            + ", ".join(
                f"{k} {r:.0%}/" + "/".join(f"{a:.0%}" for a in acc)
                for k, (r, *acc) in kinds.items()
            )
        )
    print(
        f"\nRecall by inclination (deg), {methods[-1]} decision: regular / disturbed / mean "
        "(near face-on a rotating disc's velocity field shows v sin i, little of its rotation)"
    )
    print(
        f"{'population':<10} {'set':<10} "
        + " ".join(f"{f'{lo}-{hi}':>16}" for lo, hi in RECALL_INCLINATION_BINS)
    )
    for population, label, *_, incl in rows:
        cells = " ".join(
            f"{reg:>4.0%}/{dis:>4.0%}/{0.5 * (reg + dis):>4.0%}" for *_, reg, dis in incl
        )
        print(f"{population:<10} {label:<10} {cells}")
    if args.dev_maps.is_dir():
        dev_map_table(clf, args.dev_maps, methods)
    else:
        print(f"\n(no development maps at {args.dev_maps}: real-map agreement not measured)")
    if args.supervised_bound:
        population = clf.metadata["training"].get("population", "v1")
        print(f"\nSupervised CNN on the same training images ({population}; labels used)")
        print(
            f"{'population':<10} {'set':<10} {'regular':>8} {'disturbed':>10} {'mean':>6} "
            f"{'CAE':>6} {'ratio':>6}"
        )
        cae = {(r[0], r[1]): 0.5 * sum(r[3]["cae"][:2]) for r in rows}
        own = {key: t for key, t in tests.items() if population in ("mixed", key[0])}
        for (pop, label), (reg, dis) in supervised_bound(own, population).items():
            mean = 0.5 * (reg + dis)
            print(
                f"{pop:<10} {label:<10} {reg:>8.1%} {dis:>10.1%} {mean:>6.1%} "
                f"{cae[pop, label]:>6.1%} {cae[pop, label] / mean:>6.2f}"
            )


if __name__ == "__main__":
    main()
