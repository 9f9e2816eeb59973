"""Exceptions and warnings raised by galkin.

Every error galkin raises on bad input derives from :class:`GalkinError` (a
`ValueError`), and every warning from :class:`GalkinWarning`, so that users can
filter them as a family.
"""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["GalkinError", "GalkinWarning", "PluginError", "ModelWeightsError"]


class GalkinError(ValueError):
    """Bad input to galkin: the message names the argument and how to fix it."""


class PluginError(GalkinError):
    """A plugin is missing, duplicated, or failed to load."""


class ModelWeightsError(GalkinError):
    """Saved model weights do not match the model that tries to load them."""


class GalkinWarning(AstropyUserWarning):
    """Base class of every warning galkin emits."""
