"""Exceptions and warnings raised by galkin.

Every error galkin raises on bad input derives from :class:`GalkinError` (a
`ValueError`), and every warning from :class:`GalkinWarning`, so that users can
filter them as a family.
"""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["GalkinError", "GalkinWarning", "PluginError", "ModelWeightsError", "RejectedGalaxy"]


class GalkinError(ValueError):
    """Bad input to galkin: the message names the argument and how to fix it."""


class PluginError(GalkinError):
    """A plugin is missing, duplicated, or failed to load."""


class ModelWeightsError(GalkinError):
    """Saved model weights do not match the model that tries to load them."""


class RejectedGalaxy(GalkinError):
    """A galaxy fails a survey quality cut; ``reason`` says which.

    Survey adapters raise it; :func:`galkin.fit_many` records it as a
    "rejected" row instead of a failure.
    """

    def __init__(self, reason, name=None):
        self.reason = str(reason)
        self.name = name
        super().__init__(f"{name}: {reason}" if name else str(reason))

    def __reduce__(self):  # keep reason and name across process boundaries (dask)
        return (type(self), (self.reason, self.name))


class GalkinWarning(AstropyUserWarning):
    """Base class of every warning galkin emits."""
