"""The independent referee: galkin and 3D-Barolo on KinMS cubes galkin did not make.

Modules, in the order the data flow through them:

``conditions``  named condition sets and the reproducible draw of one galaxy
``profiles``    the true rotation curves and surface densities
``cubes``       KinMS cubes written as FITS files with a truth JSON (cached)
``run_galkin``  ``galkin.fit(path)`` as a user runs it; failures become rows
``run_barolo``  3D-Barolo's automatic 3DFIT (cached per cube)
``metrics``     per-galaxy residuals and per-set summaries, the same for both tools
``report``      the printed tables and the issues' targets
``pipeline``    one galaxy through all of it, and many in parallel
``cache``       where cubes and fits are kept

``benchmarks/bench_referee.py`` is the command line; KinMS and pyBBarolo come
from the ``bench`` extra.
"""
