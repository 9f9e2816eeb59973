"""galkin's built-in plugins: profiles, models, position-angle estimators.

Each submodule is an ordinary galkin plugin, registered through the same hooks
that third-party packages use, except :mod:`galkin_plugins.mock_survey`, a
mock MaNGA + SAMI survey built on the survey and science plugins.
"""
