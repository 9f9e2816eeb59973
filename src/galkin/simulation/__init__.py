"""Simulated galaxies with known truth, independent of the decoder's code.

* :mod:`galkin.simulation.simulate` -- :func:`galkin.simulate_cube`, KinMS-style
  particle cubes of rotating discs;
* :mod:`galkin.simulation.particles` -- particle galaxies (discs, spheroids,
  interacting pairs) of known circularity, observed as velocity maps;
* :mod:`galkin.simulation.gas` -- the star-forming gas population the CAE is
  trained on: cold discs of many looks, and disturbances simulated as
  restricted N-body encounters, mergers, infall and ram-pressure stripping;
* :mod:`galkin.simulation.circularity` -- the circularity kappa that labels them;
* :mod:`galkin.simulation.eagle` -- gas particles from EAGLE snapshots;
* :mod:`galkin.simulation.analytic` -- closed-form maps of a thin disc for tests.
"""
