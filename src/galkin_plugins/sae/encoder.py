"""The SAE's convolutional encoder (thesis Table 3.1).

Four blocks of 3x3 convolution, ReLU and 2x2 max-pooling (16, 32, 64, 128 filters)
take a 64x64 map to 128x4x4 = 2048 features; a linear layer and ReLU give the
trunk's 256 features. The head is Dropout(p) -> Linear -> tanh, so the outputs
are bounded in [-1, 1]. The thesis used Hardtanh; its gradient is exactly zero
outside [-1, 1], which in solo training traps a parameter at its bound for good, so
galkin uses the smooth tanh. The input has two channels: the normalised map and its
mask (the thesis fed blanks as zeros with no mask). A network built with
``beam_input=True`` also appends a beam descriptor to the flattened features
(``extra_features``), so that its encoders know how much the maps were smoothed.
"""

import torch
from torch import nn

from galkin.encoder import Encoder

__all__ = ["SAEEncoder"]


class SAEEncoder(nn.Module, Encoder):
    """CNN encoder with a deterministic trunk and a Monte-Carlo-dropout head.

    Parameters
    ----------
    n_outputs : int
    size : int, optional
        Side of the input maps (a multiple of 16).
    in_channels : int, optional
    dropout : float, optional
        Dropout probability in the head (thesis 0.1).
    hidden : int, optional
        Width of the trunk's last linear layer.
    aleatoric : bool, optional
        Add a second, deterministic head that predicts the log-variance of each
        output (the data's own, "aleatoric" scatter). Only the blind model, trained
        on simulations with known truth, uses it.
    extra_features : int, optional
        Numbers appended to the flattened convolutional features before the
        trunk's linear layer (the blind model's beam descriptor); `features` then
        needs them.
    """

    def __init__(
        self,
        n_outputs,
        *,
        size=64,
        in_channels=2,
        dropout=0.1,
        hidden=256,
        aleatoric=False,
        extra_features=0,
    ):
        super().__init__()
        if size % 16:
            raise ValueError(f"size must be a multiple of 16; got {size}.")
        layers = []
        channels = in_channels
        for width in (16, 32, 64, 128):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
        self.conv = nn.Sequential(*layers)
        self.extra_features = int(extra_features)
        self.fc = nn.Linear(channels * (size // 16) ** 2 + self.extra_features, hidden)
        self.out = nn.Linear(hidden, n_outputs)
        self.n_outputs = n_outputs
        self.dropout = float(dropout)
        self.log_variance = nn.Linear(hidden, n_outputs) if aleatoric else None
        # Start every output near the middle of its range.
        nn.init.zeros_(self.out.bias)
        nn.init.normal_(self.out.weight, std=1e-3)

    def features(self, images, extra=None):
        """Deterministic trunk: images ``(B, C, H, W)`` and ``extra`` -> ``(B, hidden)``."""
        flat = self.conv(images).flatten(1)
        if self.extra_features:
            if extra is None or extra.shape[-1] != self.extra_features:
                raise ValueError(
                    f"this encoder needs {self.extra_features} extra features per image "
                    "(the beam descriptor); pass them to features()."
                )
            flat = torch.cat([flat, extra.to(flat.dtype)], 1)
        return torch.relu(self.fc(flat))

    def head(self, features, *, sample=False):
        """Dropout, linear, tanh. Dropout is on in training mode or when ``sample``."""
        h = nn.functional.dropout(features, self.dropout, training=self.training or sample)
        return torch.tanh(self.out(h))

    def aleatoric(self, features):
        """Log-variance of each output (in the [-1, 1] output units)."""
        if self.log_variance is None:
            raise RuntimeError("this encoder was built without an aleatoric head.")
        return self.log_variance(features)

    def set_output(self, z):
        """Make the head output ``z`` (in (-1, 1)) for any input, before training."""
        z = torch.as_tensor(z, dtype=self.out.bias.dtype).clamp(-0.95, 0.95)
        with torch.no_grad():
            self.out.bias.copy_(torch.atanh(z))

    def forward(self, images):
        """Trunk then head: ``(B, C, H, W)`` -> ``(B, n_outputs)`` in ``[-1, 1]``."""
        return self.head(self.features(images))
