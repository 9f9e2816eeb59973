"""The amortised ring network: network maps in, the rotation curve at fixed radii out.

One SAE encoder trunk (thesis Table 3.1's four convolution blocks,
`~galkin_plugins.sae.encoder.SAEEncoder`) reads three channels -- the
normalised moment 0, moment 1 and the mask -- plus the beam descriptor of the
blind SAE (`~galkin_plugins.sae.network.SAENetwork.beam_descriptor`), so that
it can undo the beam's smearing of the inner curve. Its bounded head gives the
rotation speed ``V sin i`` (in units of the map's velocity scale, as the ring
profiles' values) at `RADII`, fixed radii in units of the network's field of
view -- the fit interpolates them onto each galaxy's own rings -- and the
disc's inclination.
"""

import torch
from torch import nn

from galkin_plugins.sae.encoder import SAEEncoder
from galkin_plugins.sae.network import BEAM_FEATURES, SAENetwork

__all__ = ["RingNetwork", "RADII", "SPEED_RANGE"]

#: Radii (field units; the half-field is 0.5) at which the network gives the speed.
RADII = tuple(round(0.03 * k, 2) for k in range(1, 17))
#: The head's tanh output ``t`` becomes the speed ``SPEED_RANGE * (1 + t) / 2``
#: (velocity-scale units: the map's speeds lie mostly in 0-1.2).
SPEED_RANGE = 2.5


class RingNetwork(nn.Module):
    """Maps and beam -> ``V sin i`` at `RADII` (velocity-scale units) and inclination.

    Parameters
    ----------
    size : int, optional
        Side of the network maps.
    hidden : int, optional
        Width of the trunk's last linear layer.
    radii : sequence of float, optional
        Output radii (field units).
    """

    def __init__(self, *, size=64, hidden=64, radii=RADII):
        super().__init__()
        self.radii = tuple(float(r) for r in radii)
        self.encoder = SAEEncoder(
            len(self.radii) + 1,
            size=size,
            in_channels=3,
            dropout=0.0,
            hidden=hidden,
            extra_features=BEAM_FEATURES,
        )

    @staticmethod
    def inputs(m0, m1, mask):
        """``(B, 3, H, W)`` input of maps and mask ``(B, H, W)`` each."""
        return torch.stack([m0, m1, mask], 1)

    def forward(self, m0, m1, mask, beams):
        """Speeds ``(B, len(radii))`` and inclinations ``(B,)`` (radians, 0-90 deg).

        From maps ``(B, H, W)`` and beams ``(B, 3)``.
        """
        features = self.encoder.features(
            self.inputs(m0, m1, mask), SAENetwork.beam_descriptor(beams)
        )
        out = 0.5 * (1.0 + self.encoder.head(features))
        return SPEED_RANGE * out[:, :-1], 0.5 * torch.pi * out[:, -1]
