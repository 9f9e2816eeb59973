"""The SAE as a galkin kinematic model: blind, solo and combined modes."""

import numpy as np
import torch

from galkin.exceptions import GalkinError, ModelWeightsError
from galkin.model import KinematicModel, ModelOutput, resolve_device

from .network import SAENetwork
from .pretrained import blind_network, calibrated_arrays
from .training import TrainingConfig, predict, stack_prepared, train, warm_start

__all__ = ["SAE", "SOLO_CONFIG", "COMBINED_CONFIG"]

#: Solo mode: one galaxy, repeated in its four mirror images per batch. The thesis
#: schedule (Adam, x0.975 every 2 epochs) with a larger first step and fewer epochs,
#: because an epoch is a single batch here and training starts from the warm start.
SOLO_CONFIG = TrainingConfig(
    epochs=120, batch_size=4, lr=2e-3, decay=0.975, decay_every=2, min_samples=4
)
#: Combined mode: the target plus other galaxies, survey batch size (thesis Ch. 4).
COMBINED_CONFIG = TrainingConfig(epochs=300, batch_size=16, lr=1e-4, decay=0.975, decay_every=2)


class SAE(KinematicModel):
    """Self-supervised, physics-aware autoencoder (thesis Ch. 3).

    Parameters
    ----------
    intensity, velocity : DecoderProfile
        Profile instances.
    device : str or `torch.device`, optional
        ``"cpu"``, ``"cuda"``...; default CUDA when available.
    dropout : float, optional
        Head dropout probability (MC dropout).
    scale_height : float, optional
        Disc scale height in field units.
    """

    name = "sae"
    modes = ("blind", "solo", "combined")

    def __init__(self, intensity, velocity, *, device=None, dropout=0.1, scale_height=1 / 64):
        self.intensity = intensity
        self.velocity = velocity
        self.device = resolve_device(device)
        self.dropout = dropout
        self.scale_height = scale_height
        self.network = None

    def new_network(self, size, *, beam_input=False):
        return SAENetwork(
            self.intensity,
            self.velocity,
            size=size,
            dropout=self.dropout,
            scale_height=self.scale_height,
            beam_input=beam_input,
        )

    def fit(
        self,
        targets,
        *,
        mode,
        others=(),
        mc_samples=100,
        seed=None,
        config=None,
        progress=None,
        start=None,
        weights=None,
        maps=True,
    ):
        """Predict with the pretrained network (blind), or train then predict.

        Parameters
        ----------
        mode : {"blind", "solo", "combined"}
            ``"blind"``: the pretrained network, no training, calibrated errors.
            ``"solo"``: train on the targets. ``"combined"``: train on the targets
            plus ``others``.
        config : TrainingConfig, optional
            Default :data:`SOLO_CONFIG` or :data:`COMBINED_CONFIG`.
        progress : callable, optional
            Called with the mean loss after every epoch.
        start : {"blind", "scratch"}, optional
            Where training starts: the pretrained blind weights, or a new network
            warm-started by a random search. Default ``"blind"`` for combined mode
            when pretrained weights exist for the profiles, else ``"scratch"``.
        weights : str or `pathlib.Path`, optional
            Another blind weights file (default the shipped one).
        maps : bool, optional
            Decode the mean model's maps and loss (default). False when the
            outputs only start a refinement, which replaces them (a third of a
            blind prediction's time).
        """
        if mode not in self.modes:
            raise ValueError(f"SAE mode must be one of {self.modes}; got {mode!r}.")
        if start not in (None, "blind", "scratch"):
            raise ValueError(f"start must be 'blind' or 'scratch'; got {start!r}.")
        size = targets[0].moment0.shape[0]
        if mode == "blind":
            return self._blind(targets, size, mc_samples, weights, seed, maps)
        if seed is not None:
            torch.manual_seed(int(seed))
        if start is None:
            start = "blind" if mode == "combined" and self._has_blind(size, weights) else "scratch"
        training = list(targets) + (list(others) if mode == "combined" else [])
        config = config or (SOLO_CONFIG if mode == "solo" else COMBINED_CONFIG)
        data = stack_prepared(training)
        pretrained = self._pretrained(size, weights)[0] if start == "blind" else None
        beam_input = pretrained is not None and pretrained.beam_input
        self.network = self.new_network(size, beam_input=beam_input)
        self.network.moment0_scale = config.moment0_scale
        if pretrained is not None:  # the pretrained trunk and heads, without the aleatoric heads
            state = pretrained.state_dict()
            self.network.load_state_dict(
                {k: v for k, v in state.items() if "log_variance" not in k}
            )
        else:
            warm_start(self.network, data, seed=seed, device=self.device)
        history = train(
            self.network,
            data,
            config,
            seed=seed,
            device=self.device,
            progress=progress,
        )
        results = predict(
            self.network,
            stack_prepared(targets),
            mc_samples=mc_samples,
            device=self.device,
            maps=maps,
        )
        return [_output(r, history=list(history)) for r in results]

    def _pretrained(self, size, weights, device="cpu"):
        return blind_network(
            self.intensity.name, self.velocity.name, size, path=weights, device=device
        )

    def _has_blind(self, size, weights):
        """Whether pretrained weights exist for these profiles (a broken file still raises)."""
        try:
            self._pretrained(size, weights)
        except ModelWeightsError:
            raise
        except GalkinError:
            return False
        return True

    def _blind(self, targets, size, mc_samples, weights, seed, maps=True):
        self.network, metadata = self._pretrained(size, weights, self.device)
        if seed is not None:  # after loading: building a network draws random numbers
            torch.manual_seed(int(seed))
        batch = stack_prepared(targets)
        results = predict(self.network, batch, mc_samples=mc_samples, device=self.device, maps=maps)
        # calibrated errors as samples of independent normals about the MC mean, so
        # that the physical conversion (e.g. V_max = V_max sin i / sin i) propagates them
        # (one draw per parameter: shared draws would make V sin i and i move together,
        # and their ratio's spread cancel)
        names = self.network.space.names
        normal = np.random.default_rng(0).standard_normal((len(names), max(int(mc_samples), 200)))
        mean, _, _, sigma = calibrated_arrays(self.network, metadata, results, batch)
        return [
            _output(r, error_samples={n: m[k] + s[k] * normal[k] for k, n in enumerate(names)})
            for r, m, s in zip(results, mean, sigma, strict=True)
        ]


def _output(r, *, history=(), error_samples=None):
    return ModelOutput(
        samples=r["samples"],
        moment0=r["model0"],
        moment1=r["model1"],
        amplitude=r["amplitude"],
        velocity_offset=r["offset"],
        loss=r["loss"],
        history=list(history),
        error_samples=error_samples,
    )
