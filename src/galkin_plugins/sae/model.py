"""The SAE as a galkin kinematic model: solo and combined modes."""

import torch

from galkin.model import KinematicModel, ModelOutput

from .network import SAENetwork
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


def _device(device):
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


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
    modes = ("solo", "combined")

    def __init__(self, intensity, velocity, *, device=None, dropout=0.1, scale_height=1 / 64):
        self.intensity = intensity
        self.velocity = velocity
        self.device = _device(device)
        self.dropout = dropout
        self.scale_height = scale_height
        self.network = None

    def new_network(self, size):
        return SAENetwork(
            self.intensity,
            self.velocity,
            size=size,
            dropout=self.dropout,
            scale_height=self.scale_height,
        )

    def fit(
        self, targets, *, mode, others=(), mc_samples=100, seed=None, config=None, progress=None
    ):
        """Train on the targets (solo) or targets + others (combined), then predict.

        Parameters
        ----------
        config : TrainingConfig, optional
            Default :data:`SOLO_CONFIG` or :data:`COMBINED_CONFIG`.
        progress : callable, optional
            Called with the mean loss after every epoch.
        """
        if mode not in self.modes:
            raise ValueError(f"SAE mode must be one of {self.modes}; got {mode!r}.")
        size = targets[0].moment0.shape[0]
        if seed is not None:
            torch.manual_seed(int(seed))
        self.network = self.new_network(size)
        training = list(targets) + (list(others) if mode == "combined" else [])
        config = config or (SOLO_CONFIG if mode == "solo" else COMBINED_CONFIG)
        data = stack_prepared(training)
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
            self.network, stack_prepared(targets), mc_samples=mc_samples, device=self.device
        )
        return [
            ModelOutput(
                samples=r["samples"],
                moment0=r["model0"],
                moment1=r["model1"],
                amplitude=r["amplitude"],
                velocity_offset=r["offset"],
                loss=r["loss"],
                history=list(history),
            )
            for r in results
        ]
