"""The convolutional autoencoder of thesis Table A.1.

Encoder: conv(1->8) ReLU conv(8->8) ReLU maxpool2, conv(8->16) ReLU conv(16->16)
ReLU maxpool2, Linear(->3). The decoder mirrors it with transposed convolutions,
but unpools by nearest-neighbour upsampling: it is *not* handed the encoder's
max-pooling indices, which would let information bypass the 3-D bottleneck.
"""

import torch
from torch import nn

__all__ = ["ConvAutoencoder", "ARCHITECTURE"]

#: Name stored with the weights; a file made for another architecture is refused.
ARCHITECTURE = "cae-tableA1-upsample-v1"


class ConvAutoencoder(nn.Module):
    """Thesis Table A.1 autoencoder for ``size x size`` moment-one images.

    Parameters
    ----------
    size : int, optional
        Image side (divisible by 4).
    latent_dim : int, optional
    """

    def __init__(self, size=64, latent_dim=3):
        super().__init__()
        self.size, self.latent_dim = size, latent_dim
        quarter = size // 4
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * quarter * quarter, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 16 * quarter * quarter),
            nn.Unflatten(1, (16, quarter, quarter)),
            nn.Upsample(scale_factor=2),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 8, 3, padding=1),
            nn.Upsample(scale_factor=2),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 8, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 3, padding=1),
        )

    def encode(self, images):
        """``(B, 1, size, size)`` images -> ``(B, latent_dim)`` latent vectors."""
        return self.encoder(images)

    def forward(self, images):
        """Reconstruct ``images``; returns ``(reconstruction, latent)``."""
        latent = self.encode(images)
        return self.decoder(latent), latent


def masked_mse(reconstruction, images, masks):
    """Mean squared error over the valid pixels only."""
    weight = masks.to(reconstruction.dtype)
    return torch.sum(weight * (reconstruction - images) ** 2) / weight.sum().clamp_min(1.0)
