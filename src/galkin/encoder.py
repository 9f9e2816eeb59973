"""The encoder interface: normalised maps in, bounded parameters out.

An encoder is split into a deterministic *trunk* (convolutions) and a
stochastic *head* (dropout and the bounded output layer), so that Monte-Carlo
dropout can run the expensive trunk once and sample only the head.
"""

import abc

__all__ = ["Encoder"]


class Encoder(abc.ABC):
    """Maps a batch of images to ``n_outputs`` values in ``[-1, 1]``.

    Implementations are `torch.nn.Module` subclasses that also derive from
    this class.
    """

    #: Number of bounded outputs.
    n_outputs: int

    @abc.abstractmethod
    def features(self, images):
        """Deterministic trunk: ``(batch, channels, ny, nx)`` -> ``(batch, n_features)``."""

    @abc.abstractmethod
    def head(self, features):
        """Stochastic head: features -> ``(batch, n_outputs)`` in ``[-1, 1]``.

        Dropout in the head is active whenever the module is in training mode,
        or when Monte-Carlo sampling switches it on.
        """

    def encode(self, images):
        """Run trunk then head."""
        return self.head(self.features(images))
