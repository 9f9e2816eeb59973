"""The post-processor interface: science steps that act on a table of fits."""

import abc
from typing import ClassVar

__all__ = ["PostProcessor"]


class PostProcessor(abc.ABC):
    """A step applied to the `~astropy.table.QTable` of fitted galaxies.

    Examples are asymmetric-drift correction, quality cuts and Tully-Fisher
    fits. Subclasses set ``name`` and implement :meth:`__call__`.
    """

    #: Registry name, e.g. ``"asymmetric_drift"``.
    name: ClassVar[str]

    @abc.abstractmethod
    def __call__(self, table, **kwargs):
        """Return a new table (or result object) computed from ``table``."""
