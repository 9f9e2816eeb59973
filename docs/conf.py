"""Sphinx configuration for galkin's documentation.

Builds offline: astropy's shared settings (sphinx-astropy) without intersphinx,
so references into other packages are listed in ``nitpick_ignore`` below
instead of being resolved over the network.  References to galkin's own
objects are never ignored.

Build with ``tox -e docs`` or
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

import datetime
import importlib.util

from numpydoc.xref import DEFAULT_LINKS
from sphinx_astropy.conf.v2 import *  # noqa: F403
from sphinx_astropy.conf.v2 import exclude_patterns, extensions, rst_epilog  # noqa: F401

import galkin

# -- Project -----------------------------------------------------------------
project = "galkin"
author = "The galkin developers"
copyright = f"{datetime.date.today().year}, {author}"
version = galkin.__version__.split("+")[0]
release = galkin.__version__

# -- General -----------------------------------------------------------------
exclude_patterns = [*exclude_patterns, "api/*.inc", "**/.ipynb_checkpoints"]
nitpicky = True
# Offline build: no intersphinx inventories are fetched.
intersphinx_mapping = {}
extensions = [
    ext
    for ext in extensions
    if ext not in ("sphinx.ext.intersphinx", "sphinx_astropy.ext.intersphinx_toggle")
]
# sphinx-copybutton comes with sphinx-astropy[confv2]; build without it when absent.
extensions = [
    ext
    for ext in extensions
    if ext != "sphinx_copybutton" or importlib.util.find_spec("sphinx_copybutton")
]

numpydoc_xref_param_type = True
numpydoc_xref_ignore = {
    "or",
    "of",
    "to",
    "thereof",
    "default",
    "optional",
    "keyword-only",
    "instance",
    "type",
    "class",
    "subclass",
    "method",
    "array",
    "sequence",
    "shape",
}
# numpydoc links Python's and numpy's type words into their intersphinx
# inventories; offline these would render as "python:list", so keep plain words.
_PLAIN = {"boolean": "bool", "string": "str", "array_like": "array-like"}
numpydoc_xref_aliases = {
    key: _PLAIN.get(key, key)
    for key, target in DEFAULT_LINKS.items()
    if "python:" in target or "numpy:" in target
}
numpydoc_xref_aliases |= {
    "Quantity": "~astropy.units.Quantity",
    "KinematicMaps": "galkin.KinematicMaps",
    "FitResult": "galkin.result.FitResult",
    "PreparedMaps": "galkin.preprocess.PreparedMaps",
    "Scales": "galkin.preprocess.Scales",
    "ModelOutput": "galkin.model.ModelOutput",
    "DecoderProfile": "galkin.profiles.DecoderProfile",
    "PositionAngleEstimator": "galkin.position_angle.PositionAngleEstimator",
}

automodapi_toctreedirnm = "api"
automodsumm_inherited_members = False
# No graphviz needed.
automodapi_inheritance_diagram = False

# -- References into other packages (resolved by intersphinx online) ---------
# Python's builtins and the plain type words of numpydoc parameter lists.
nitpick_ignore = [
    (role, name)
    for role in ("py:class", "py:obj", "py:data")
    for name in (
        "None",
        "True",
        "False",
        "bool",
        "int",
        "float",
        "str",
        "bytes",
        "dict",
        "list",
        "tuple",
        "type",
        "object",
        "callable",
        "function",
        "iterable",
        "sequence",
        "generator",
        "contextmanager",
        "namedtuple",
        "optional",
        "scalar",
        "array-like",
        "path-like",
        "numpy",
    )
]
# Whole external packages: astropy, numpy, scipy, torch, spectral-cube,
# radio-beam, regions, pluggy, matplotlib and the Python standard library.
_EXTERNAL = (
    "astropy",
    "numpy",
    "np",
    "scipy",
    "torch",
    "spectral_cube",
    "radio_beam",
    "regions",
    "pluggy",
    "matplotlib",
    "pytest",
    "pafit",
    "ltsfit",
    "dask",
    "distributed",
    "tqdm",
    "pathlib",
    "os",
    "abc",
    "typing",
    "collections",
    "dataclasses",
    "importlib",
    "functools",
    "enum",
    "warnings",
)
nitpick_ignore_regex = [(r"py:.*", rf"{pkg}(\..*)?") for pkg in _EXTERNAL] + [
    # Python builtins and their exceptions.
    (r"py:.*", r"(builtins\.)?(ValueError|TypeError|KeyError|AttributeError|RuntimeError)"),
    (r"py:.*", r"(builtins\.)?(int|float|str|bool|dict|list|tuple|type|object|bytes)"),
]

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"galkin v{release}"
html_theme_options = {
    "collapse_navigation": True,
    "navigation_depth": 2,
    "show_nav_level": 1,
    "use_edit_page_button": False,
    "icon_links": [],
}
html_static_path = []
html_last_updated_fmt = None


# -- Resolving galkin's own names -------------------------------------------
# Docstrings refer to galkin's objects by the name they have where the
# docstring is (``KinematicMaps`` inside galkin.fitting, ``galkin.fit``), while
# the API reference documents each object once, at its public location
# (``galkin.KinematicMaps``, ``galkin.fitting.fit``).  When Sphinx cannot
# resolve such a reference, look the name up in Python, as the code would,
# and link to wherever that same object is documented.  Names that are not
# galkin's own are left alone (and reported by nitpicky mode).
def _lookup(dotted):
    """The Python object called ``dotted`` (importing modules as needed), or None."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


_DOCUMENTED = {}


def _documented_names(env):
    """Map ``id(obj)`` -> documented full names of galkin's modules, classes, functions."""
    cache = _DOCUMENTED
    if not cache:
        for fullname, entry in env.domains["py"].objects.items():
            if not fullname.startswith("galkin") or entry.objtype not in (
                "class",
                "exception",
                "function",
                "method",
                "data",
                "module",
            ):
                continue
            obj = _lookup(fullname)
            if obj is not None and not isinstance(obj, (str, int, float, tuple)):
                cache.setdefault(id(obj), []).append(fullname)
    return cache


def _resolve_galkin_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    module = node.get("py:module") or ""
    if not (module.startswith("galkin") or target.startswith("galkin")):
        return None
    contexts = [module] if module else []
    cls = node.get("py:class")
    if module and cls:
        owner = _lookup(f"{module}.{cls}")
        contexts.insert(0, f"{module}.{cls}")
        if isinstance(owner, type):
            contexts.append(owner.__module__)
    contexts.append("galkin")
    parts = target.split(".")
    documented = _documented_names(env)
    domain = env.domains["py"]
    for context in [None, *contexts]:
        if context is None and not target.startswith("galkin"):
            continue
        base = target if context is None else f"{context}.{target}"
        # The longest prefix that is an object galkin documents, plus the rest.
        for i in range(len(parts), 0, -1):
            head = base.rsplit(".", len(parts) - i)[0] if i < len(parts) else base
            obj = _lookup(head)
            if obj is None:
                continue
            rest = ".".join(parts[i:])
            for name in documented.get(id(obj), []):
                new = f"{name}.{rest}" if rest else name
                if new == node["reftarget"]:
                    continue
                found = domain.resolve_xref(
                    env,
                    node.get("refdoc", env.docname),
                    app.builder,
                    node["reftype"],
                    new,
                    node,
                    contnode,
                )
                if found is not None:
                    return found
    return None


def _forget_documented(app, env):
    _DOCUMENTED.clear()  # the objects documented may have changed since the last build


def setup(app):
    app.connect("env-updated", _forget_documented)
    app.connect("missing-reference", _resolve_galkin_reference)
