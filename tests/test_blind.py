"""Blind mode: the shipped pretrained SAE, its weights file and its calibrated errors."""

import warnings

import numpy as np
import pytest
import torch
from astropy import units as u

import galkin
from galkin import GalkinError, ModelWeightsError
from galkin.plugins import get_profile
from galkin.position_angle import angle_difference
from galkin.quality import FitQualityWarning
from galkin.weights import load_weights, save_weights
from galkin_plugins.sae.calibration import ErrorCalibration, map_roughness
from galkin_plugins.sae.model import SAE
from galkin_plugins.sae.pretrained import (
    ARCHITECTURE,
    BLIND_WEIGHTS,
    blind_network,
    calibrated_arrays,
)
from galkin_plugins.sae.simulations import as_batch, simulate_set, truth_columns
from galkin_plugins.sae.training import TrainingConfig, predict


# ---------------------------------------------------------------------------- weights files
def test_weights_round_trip_and_tamper_detection(tmp_path):
    layer = torch.nn.Linear(3, 2)
    path = tmp_path / "w.pt"
    save_weights(layer.state_dict(), {"architecture": "toy", "note": [1, 2]}, path)
    state, meta = load_weights(path, "toy", retrain="python make.py")
    torch.testing.assert_close(state["weight"], layer.weight.detach())
    assert meta["note"] == [1, 2] and meta["galkin_version"] == galkin.__version__
    assert len(meta["checksum"]) == 64

    with pytest.raises(ModelWeightsError, match="architecture 'toy'.*python make.py"):
        load_weights(path, "other", retrain="python make.py")

    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["bias"] += 1e-3
    torch.save(blob, path)
    with pytest.raises(ModelWeightsError, match="checksum"):
        load_weights(path, "toy", retrain="python make.py")

    path.write_bytes(b"not a torch file")
    with pytest.raises(ModelWeightsError, match="Cannot read"):
        load_weights(path, "toy", retrain="python make.py")


def test_float16_storage_loads_as_float32(tmp_path):
    layer = torch.nn.Linear(4, 4)
    path = tmp_path / "half.pt"
    save_weights(layer.state_dict(), {"architecture": "toy"}, path, dtype=torch.float16)
    state, _ = load_weights(path, "toy", retrain="x")
    assert state["weight"].dtype == torch.float32
    torch.testing.assert_close(state["weight"], layer.weight.detach(), atol=1e-3, rtol=1e-3)


def test_shipped_blind_weights_and_metadata():
    net, meta = blind_network("exponential", "arctan", 64)
    assert BLIND_WEIGHTS.stat().st_size < 4_000_000
    assert meta["architecture"] == ARCHITECTURE
    assert meta["training"]["script"] == "scripts/train_sae_blind.py"
    calibration = ErrorCalibration.from_metadata(meta["calibration"])
    assert set(calibration.factor) == set(net.space.names)
    assert all(np.all(f > 0) for f in calibration.factor.values())
    for name in net.space.names:
        assert meta["bounds"][name] == list(net.space.bounds[name])
    assert not net.training


def test_blind_mode_refuses_profiles_it_was_not_trained_for():
    cube = galkin.simulate_cube(
        inclination=50 * u.deg,
        position_angle=40 * u.deg,
        v_max=150 * u.km / u.s,
        r_turn=4 * u.arcsec,
        r_scale=7 * u.arcsec,
        snr=20,
        seed=2,
    )
    with pytest.raises(GalkinError, match="mode='solo'"):
        galkin.fit(cube, velocity="courteau")


# ---------------------------------------------------------------------------- accuracy
@pytest.fixture(scope="module")
def held_out():
    """Fresh galaxies in survey conditions (seeds unused by training)."""
    return simulate_set(48, seed=9090, conditions="survey", dtype=np.float32)


def test_blind_fit_recovers_a_simulated_cube():
    truth = dict(inclination=62.0, position_angle=137.0, v_max=210.0)
    cube = galkin.simulate_cube(
        inclination=truth["inclination"] * u.deg,
        position_angle=truth["position_angle"] * u.deg,
        v_max=truth["v_max"] * u.km / u.s,
        r_turn=5 * u.arcsec,
        r_scale=9 * u.arcsec,
        beam=3 * u.arcsec,
        snr=15,
        seed=11,
    )
    result = galkin.fit(cube)  # blind is the default
    assert result.mode == "blind" and result.output.history == []
    assert abs(result.inclination.to_value(u.deg) - truth["inclination"]) < 5
    assert abs(result.v_max.to_value(u.km / u.s) / truth["v_max"] - 1) < 0.1
    assert abs(angle_difference(result.position_angle.value, truth["position_angle"])) < 3
    table = result.to_table()
    for name in ("inclination", "v_max", "r_turn", "r_scale", "position_angle"):
        assert table[f"{name}_err"].unit == table[name].unit
        assert table[f"{name}_err"][0] > 0 and table[f"{name}_err_mc"][0] > 0
        assert table[f"{name}_err"][0] != table[f"{name}_err_mc"][0]


def test_network_only_v_max_error_propagates_both_calibrated_errors():
    """V_max = (V_max sin i) / sin i: with ``refine=False`` its error propagates the
    calibrated errors of V_max sin i and of the inclination as independent errors
    (shared draws made them cancel: 0.1 km/s where the MC spread was 5)."""
    cube = galkin.simulate_cube(
        inclination=35 * u.deg,
        position_angle=60 * u.deg,
        v_max=130 * u.km / u.s,
        r_turn=4 * u.arcsec,
        r_scale=7 * u.arcsec,
        beam=3 * u.arcsec,
        snr=15,
        seed=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitQualityWarning)
        result = galkin.fit(cube, refine=False, seed=0)
    draws = result.output.error_samples
    assert abs(np.corrcoef(draws["v_max"], draws["inclination"])[0, 1]) < 0.2
    inc = result.inclination.to_value(u.rad)
    v = result.v_max.to_value(u.km / u.s)
    vsini = np.std(draws["v_max"]) / np.mean(draws["v_max"])  # relative error of V sin i
    di = np.std(draws["inclination"])
    expected = v * np.hypot(vsini, di / np.tan(inc))
    assert result.v_max_err.to_value(u.km / u.s) == pytest.approx(expected, rel=0.25)


def test_blind_errors_cover_the_truth(held_out):
    """Calibrated 68% intervals hold ~68% of the truths; the raw MC spread is no error bar.

    The dropout spread alone is too small where the data limit the precision --
    V_max and r_turn of noisy maps, where it covers about half -- and too large
    elsewhere, so its coverage swings per parameter while the calibrated one does not.
    """
    net, meta = blind_network("exponential", "arctan", 64)
    batch = as_batch(held_out)
    rows = predict(net, batch, mc_samples=100)
    names = ("inclination", "r_scale", "v_max", "r_turn")
    mean, mc, _, sigma = calibrated_arrays(net, meta, rows, batch, names)
    truth = truth_columns(held_out, names)
    inside = np.abs(mean - truth) <= sigma
    inside_mc = np.abs(mean - truth) <= mc
    # 192 intervals: a binomial 68% has sigma 3.4%, so this band is +-3.5 sigma
    assert 0.56 <= np.mean(inside) <= 0.80
    noisy = np.isfinite(held_out["snr"])
    data_limited = [names.index("v_max"), names.index("r_turn")]
    assert np.mean(inside_mc[noisy][:, data_limited]) < np.mean(inside[noisy][:, data_limited])


def test_calibration_covers_68_percent_at_every_error_and_noise_level():
    rng = np.random.default_rng(0)
    n = 8000
    sigma = rng.uniform(0.5, 2.0, (n, 2))
    roughness = rng.uniform(0.0, 0.1, n)
    noisy = roughness > 0.05
    # parameter 0: errors 3x too small; parameter 1: the true scatter grows as sigma^2
    # and the predicted spread misses the noise: twice as large on the noisy maps
    scatter = np.stack([3.0 * sigma[:, 0], sigma[:, 1] ** 2 * np.where(noisy, 2.0, 1.0)], 1)
    residual = scatter * rng.standard_normal((n, 2))
    calibration = ErrorCalibration.fit(residual, sigma, roughness, ("a", "b"))
    # 68% of |N(0,1)| lie below 0.9945
    np.testing.assert_allclose(calibration.factor["a"], 3.0 * 0.9945, rtol=0.1)
    calibrated = calibration.sigma(sigma, 0.0, roughness)
    inside = np.abs(residual) <= calibrated
    for group in (noisy, ~noisy):
        for lo, hi in ((0.5, 1.0), (1.0, 1.5), (1.5, 2.0)):
            sel = group[:, None] & (sigma >= lo) & (sigma < hi)
            assert inside[sel].mean() == pytest.approx(0.68, abs=0.05)
    # the table survives the weights file's metadata, and a missing one is refused
    again = ErrorCalibration.from_metadata(calibration.to_metadata())
    np.testing.assert_allclose(again.sigma(sigma, 0.0, roughness), calibrated)
    with pytest.raises(ModelWeightsError, match="--calibrate-only"):
        ErrorCalibration.from_metadata({"scale": {}, "power": {}})


def test_calibration_reads_each_parameters_own_noise():
    """Each parameter's factor follows the roughness of the map its encoder reads."""
    rng = np.random.default_rng(4)
    n = 8000
    sigma = rng.uniform(0.5, 1.5, (n, 2))
    roughness = rng.uniform(0.0, 0.1, (n, 2))  # moment 0 and moment 1, independent
    noisy = roughness > 0.05
    residual = sigma * np.where(noisy, 2.0, 1.0) * rng.standard_normal((n, 2))
    own = ErrorCalibration.fit(residual, sigma, roughness, ("i", "v"))
    inside = np.abs(residual) <= own.sigma(sigma, 0.0, roughness)
    for k in range(2):
        for group in (noisy[:, k], ~noisy[:, k]):
            assert inside[group, k].mean() == pytest.approx(0.68, abs=0.04)
    again = ErrorCalibration.from_metadata(own.to_metadata())
    np.testing.assert_allclose(again.sigma(sigma, 0.0, roughness), own.sigma(sigma, 0.0, roughness))
    # one map's noise for both: the other parameter's noisy galaxies are under-covered
    shared = ErrorCalibration.fit(residual, sigma, roughness[:, 0], ("i", "v"))
    inside = np.abs(residual) <= shared.sigma(sigma, 0.0, roughness[:, 0])
    assert inside[noisy[:, 1], 1].mean() < 0.6


def test_map_roughness_measures_the_noise_not_the_rotation():
    y, x = np.mgrid[:64, :64] - 31.5
    mask = (np.hypot(x, y) < 28).astype(np.float32)
    smooth = np.tanh(x / 8.0) * mask
    noise = np.random.default_rng(1).normal(0.0, 0.05, smooth.shape)
    assert map_roughness(smooth, mask) < 0.005
    noisy = map_roughness(smooth + noise * mask, mask)
    # rms of n - median3(n) for white noise is ~1.1x the noise sigma
    assert 0.04 < noisy < 0.07
    stack = map_roughness(np.stack([smooth, smooth + noise * mask]), np.stack([mask, mask]))
    assert stack.shape == (2,) and stack[1] == pytest.approx(noisy)


# ---------------------------------------------------------------------------- speed path
def test_mc_samples_reuse_the_trunk(monkeypatch, held_out):
    """The convolutional trunk runs once per galaxy, whatever the number of samples."""
    net, _ = blind_network("exponential", "arctan", 64)
    calls = []
    original = net.encoder0.features

    def counted(images, extra=None):
        calls.append(len(images))
        return original(images, extra)

    monkeypatch.setattr(net.encoder0, "features", counted)
    rows = predict(net, as_batch(held_out, 8), mc_samples=500)
    assert calls == [8]
    assert len(rows[0]["samples"]["inclination"]) == 500


def test_predict_without_maps_gives_the_same_samples(held_out):
    """maps=False (the outputs only start a refinement) skips the decoder, nothing else."""
    net, _ = blind_network("exponential", "arctan", 64)
    torch.manual_seed(0)
    full = predict(net, as_batch(held_out, 4), mc_samples=20)
    torch.manual_seed(0)
    bare = predict(net, as_batch(held_out, 4), mc_samples=20, maps=False)
    for a, b in zip(full, bare, strict=True):
        for name in a["samples"]:
            np.testing.assert_array_equal(a["samples"][name], b["samples"][name])
        assert a["model0"] is not None and b["model0"] is None and b["model1"] is None
        assert np.isnan(b["loss"]) and np.isfinite(a["loss"])


# ---------------------------------------------------------------------------- combined mode
def test_combined_mode_starts_from_the_blind_weights(held_out):
    from galkin.io.cube import maps_from_cube
    from galkin.preprocess import prepare

    cubes = [
        galkin.simulate_cube(
            inclination=i * u.deg,
            position_angle=30 * u.deg,
            v_max=180 * u.km / u.s,
            r_turn=4 * u.arcsec,
            r_scale=8 * u.arcsec,
            snr=20,
            seed=k,
        )
        for k, i in enumerate((45, 70))
    ]
    prepared = [prepare(maps_from_cube(c)) for c in cubes]
    model = SAE(
        get_profile("exponential", "intensity")(), get_profile("arctan", "velocity")(), device="cpu"
    )
    no_training = TrainingConfig(epochs=0, batch_size=2)
    model.fit(prepared[:1], mode="combined", others=prepared[1:], config=no_training)
    blind, _ = blind_network("exponential", "arctan", 64)
    for key, value in model.network.state_dict().items():
        torch.testing.assert_close(value, blind.state_dict()[key])
    model.fit(
        prepared[:1], mode="combined", others=prepared[1:], config=no_training, start="scratch"
    )
    weight = "encoder0.fc.weight"
    assert not torch.equal(model.network.state_dict()[weight], blind.state_dict()[weight])


# ---------------------------------------------------------------------------- supervised training
def _toy_training(held_out, **kwargs):
    from galkin_plugins.sae.network import SAENetwork
    from galkin_plugins.sae.training import train_supervised

    net = SAENetwork(
        get_profile("exponential", "intensity")(),
        get_profile("arctan", "velocity")(),
        size=64,
        aleatoric=True,
    )
    data = as_batch(held_out, 16)
    targets = torch.zeros(16, len(net.space.names))
    config = TrainingConfig(epochs=3, batch_size=8, lr=1e-3)
    snapshots = []

    def snapshot(epoch, loss):
        snapshots.append({k: v.detach().clone() for k, v in net.state_dict().items()})

    before = {k: v.detach().clone() for k, v in net.state_dict().items()}
    train_supervised(net, data, targets, config, seed=1, progress=snapshot, **kwargs)
    return net, before, snapshots


def test_supervised_loss_weights_select_the_terms_that_train(held_out):
    net, before, _ = _toy_training(held_out, weights=torch.zeros(16, 5))
    for k, v in net.state_dict().items():  # zero weight: zero gradient, Adam does not move
        torch.testing.assert_close(v, before[k])
    with pytest.raises(ValueError, match="shape of targets"):
        _toy_training(held_out, weights=torch.ones(16, 2))


def test_supervised_training_can_end_on_the_weight_average(held_out):
    # two steps per epoch, sampled every second step: the snapshots taken at epoch ends
    net, before, snapshots = _toy_training(held_out, average_every=2)
    name = "encoder1.out.weight"
    mean = torch.stack([s[name] for s in snapshots]).mean(0)
    torch.testing.assert_close(net.state_dict()[name], mean)
    assert not torch.allclose(net.state_dict()[name], snapshots[-1][name])


def test_beam_input_network_reads_the_beam():
    from galkin_plugins.sae.network import SAENetwork

    def network(beam_input):
        torch.manual_seed(0)
        return SAENetwork(
            get_profile("exponential", "intensity")(),
            get_profile("arctan", "velocity")(),
            size=64,
            aleatoric=True,
            beam_input=beam_input,
        ).eval()

    net = network(True)
    maps = torch.rand(2, 64, 64)
    x0, x1 = net.inputs(maps, maps, torch.ones(2, 64, 64))
    small = torch.tensor([[0.01, 0.01, 0.0]] * 2)
    large = torch.tensor([[0.08, 0.04, 0.3]] * 2)
    f_small = net.features(x0, x1, small)
    f_large = net.features(x0, x1, large)
    assert not torch.allclose(f_small[0], f_large[0])  # the same maps, another beam
    with pytest.raises(ValueError, match="beam"):
        net.features(x0, x1)
    # mirrored maps have the beam's angle negated: only the orientation term changes sign
    d = SAENetwork.beam_descriptor(torch.tensor([[0.08, 0.04, 0.3], [0.08, 0.04, -0.3]]))
    torch.testing.assert_close(d[0, :3], d[1, :3])
    torch.testing.assert_close(d[0, 3], -d[1, 3])
    # a round beam has no orientation at all
    round_beam = SAENetwork.beam_descriptor(torch.tensor([[0.05, 0.05, 1.0]]))
    assert torch.all(round_beam[0, 2:] == 0)
    # without beam input the thesis's trunk is unchanged: 2048 conv features in
    assert network(False).encoder0.fc.in_features == 2048
    assert net.encoder0.fc.in_features == 2048 + 4
