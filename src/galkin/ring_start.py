"""Where a ring fit starts: the interface of amortised ring-curve estimators.

A fit with ring profiles (``velocity="rings"``) starts its ring speeds from a
parametric proxy by default (``ring_start="proxy"``, :mod:`galkin.refine.proxy`):
the blind network fits an arctan, the refinement fits the arctan to the maps,
and the rings start on that curve. A *ring-start estimator* replaces the proxy
steps for the rotation speed: it predicts every galaxy's curve directly from
its network maps (a network trained for it does so in milliseconds), and the
ring fit starts there, its geometry from the estimator where it gives one and
from the kinematic model's own estimate otherwise (``ring_start="amortised"``,
`galkin_plugins.ring_net`).

Estimators are plugins, registered through
:func:`~galkin.hookspecs.galkin_register_ring_starts`.
"""

import abc
from typing import ClassVar

from .exceptions import GalkinError

__all__ = ["RingStart", "ring_start_estimator"]


class RingStart(abc.ABC):
    """Predicts the rotation curves that start ring fits.

    Subclasses set ``name`` (what ``galkin.fit(..., ring_start=name)`` selects)
    and implement :meth:`predict`.
    """

    #: Registry name, e.g. ``"amortised"``.
    name: ClassVar[str]

    @abc.abstractmethod
    def predict(self, prepared):
        """The curves of prepared galaxies, as a velocity profile and its values.

        Parameters
        ----------
        prepared : list of `~galkin.preprocess.PreparedMaps`

        Returns
        -------
        profile : `~galkin.profiles.VelocityProfile`
            Evaluates the curves (decoder units: radii in field units, speeds
            ``V sin i`` in velocity-scale units); each ring profile starts from
            it with its ``from_proxy``.
        values : dict of str to `numpy.ndarray`
            ``(B,)`` value of each of ``profile``'s parameters per galaxy.
        geometry : dict of str to `numpy.ndarray`
            ``(B,)`` starting values of geometry parameters the estimator also
            predicts (e.g. ``"inclination"``, radians), which replace the
            kinematic model's; may be empty.
        """


def ring_start_estimator(ring_start, rings):
    """The estimator ``galkin.fit(..., ring_start=)`` names (None for the proxy).

    ``rings``: whether the fit has velocity rings to start (an estimator for a
    fit without any is an error that says how to ask for rings).
    """
    if isinstance(ring_start, RingStart):
        estimator = ring_start
    elif ring_start == "proxy":
        return None
    elif isinstance(ring_start, str):
        from .plugins import get_ring_start

        estimator = get_ring_start(ring_start)()
    else:
        raise GalkinError(
            f"ring_start must be 'proxy', a registered ring-start name "
            f"(galkin.plugins.list_ring_starts()) or a RingStart instance; got {ring_start!r}."
        )
    if not rings:
        raise GalkinError(
            f"ring_start={ring_start!r} starts the ring speeds of a ring fit, and this fit "
            "has no velocity rings: fit with galkin.fit(data, velocity='rings', "
            f"intensity='rings', ring_start={ring_start!r}), or drop ring_start=."
        )
    return estimator
