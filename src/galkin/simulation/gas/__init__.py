"""A star-forming gas population, regular and disturbed, simulated physically.

* :mod:`~galkin.simulation.gas.dynamics` -- potentials and a leapfrog integrator
  for test particles;
* :mod:`~galkin.simulation.gas.discs` -- cold gas discs with spiral, flocculent,
  ringed, holed, lopsided, barred and warped looks;
* :mod:`~galkin.simulation.gas.encounters` -- restricted N-body flybys and mergers;
* :mod:`~galkin.simulation.gas.accretion` -- misaligned accretion, infall and
  ram-pressure stripping;
* :mod:`~galkin.simulation.gas.population` -- the mixture of kinds and how ALMA
  sees each galaxy.
"""
