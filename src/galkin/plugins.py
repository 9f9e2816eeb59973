"""The plugin manager and the registries built from it.

The manager is built lazily, on first use, from

1. every entry point in the ``galkin`` group (third-party packages), unless the
   environment variable ``GALKIN_DISABLE_PLUGIN_AUTOLOAD`` is set;
2. galkin's built-in plugins (:data:`BUILTIN_PLUGINS`).

`pluggy.PluginManager.check_pending` then makes a typo'd hook name fail loudly.
"""

import functools
import importlib
import os
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .exceptions import PluginError

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "get_plugin_manager",
    "reset_plugin_manager",
    "registry",
    "get_profile",
    "list_profiles",
    "list_models",
    "get_model",
    "list_survey_adapters",
    "list_postprocessors",
    "get_postprocessor",
    "get_survey_adapter",
    "get_classifier",
    "list_classifiers",
    "list_pa_estimators",
    "get_pa_estimator",
    "list_ring_starts",
    "get_ring_start",
]

#: The one place the core names its built-in plugins.
BUILTIN_PLUGINS = (
    "galkin_plugins.profiles",
    "galkin_plugins.sae",
    "galkin_plugins.pafit_pa",
    "galkin_plugins.symmetry_pa",
    "galkin_plugins.science",
    "galkin_plugins.surveys",
    "galkin_plugins.cae",
    "galkin_plugins.ring_net",
)

#: Set this environment variable (to anything non-empty) to skip entry-point plugins.
DISABLE_AUTOLOAD_ENV = "GALKIN_DISABLE_PLUGIN_AUTOLOAD"

_HOOKS = {
    "profile": "galkin_register_profiles",
    "model": "galkin_register_models",
    "survey": "galkin_register_survey_adapters",
    "postprocessor": "galkin_register_postprocessors",
    "pa_estimator": "galkin_register_pa_estimators",
    "classifier": "galkin_register_classifiers",
    "ring_start": "galkin_register_ring_starts",
}


@functools.lru_cache(maxsize=1)
def get_plugin_manager():
    """Return the (cached) `pluggy.PluginManager` with every plugin registered."""
    pm = pluggy.PluginManager("galkin")
    pm.add_hookspecs(hookspecs)
    if not os.environ.get(DISABLE_AUTOLOAD_ENV):
        for ep in entry_points(group="galkin"):
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"galkin plugin {ep.name!r} (entry point {ep.value!r}) failed to import: "
                    f"{type(exc).__name__}: {exc}. Fix or uninstall it, or set "
                    f"{DISABLE_AUTOLOAD_ENV}=1 to skip third-party plugins."
                ) from exc
            if pm.is_registered(plugin):
                continue
            pm.register(plugin, name=ep.name)
    for modname in BUILTIN_PLUGINS:
        try:
            module = importlib.import_module(modname)
        except Exception as exc:
            raise PluginError(
                f"built-in galkin plugin {modname!r} failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        if not pm.is_registered(module):
            pm.register(module, name=modname)
    pm.check_pending()
    return pm


def reset_plugin_manager():
    """Forget the cached plugin manager and registries (after installing a plugin)."""
    get_plugin_manager.cache_clear()
    registry.cache_clear()


@functools.cache
def registry(kind):
    """Return ``{name: class}`` for one kind of plugin.

    Profiles are registered per kind (an intensity and a velocity profile may
    share a name, as ``"rings"`` does), so the profile registry's keys are
    ``(kind, name)`` tuples, e.g. ``("velocity", "arctan")``.

    Parameters
    ----------
    kind : str
        One of ``"profile"``, ``"model"``, ``"survey"``, ``"postprocessor"``,
        ``"pa_estimator"``, ``"classifier"``, ``"ring_start"``.

    Raises
    ------
    PluginError
        When two plugins register the same name (both modules are named).
    """
    if kind not in _HOOKS:
        raise PluginError(f"Unknown plugin kind {kind!r}; choose from {sorted(_HOOKS)}.")
    pm = get_plugin_manager()
    hook = getattr(pm.hook, _HOOKS[kind])
    found = {}
    for impl_result in hook():
        for cls in impl_result or ():
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(
                    f"{cls.__module__}.{cls.__qualname__} is registered as a galkin {kind} "
                    "but has no string attribute 'name'."
                )
            key = (getattr(cls, "kind", None), name) if kind == "profile" else name
            if key in found and found[key] is not cls:
                other = found[key]
                label = f"{key[0]} {kind}" if kind == "profile" else kind
                raise PluginError(
                    f"Two galkin {label} plugins are both named {name!r}: "
                    f"{other.__module__}.{other.__qualname__} and "
                    f"{cls.__module__}.{cls.__qualname__}. Uninstall one or rename it."
                )
            found[key] = cls
    return dict(sorted(found.items(), key=lambda item: str(item[0])))


def _get(kind, name, label):
    reg = registry(kind)
    try:
        return reg[name]
    except (KeyError, TypeError):
        raise PluginError(
            f"No {label} named {name!r}. Available: {', '.join(reg) or '(none)'}."
        ) from None


def get_profile(name, kind=None):
    """Return the registered profile class called ``name``.

    Parameters
    ----------
    name : str
    kind : {"intensity", "velocity"}, optional
        The kind of profile wanted; needed when an intensity and a velocity
        profile share ``name`` (as ``"rings"``), otherwise also a check.
    """
    reg = registry("profile")
    matches = {k: cls for (k, n), cls in reg.items() if n == name}
    if not matches:
        names = ", ".join(list_profiles()) or "(none)"
        raise PluginError(f"No decoder profile named {name!r}. Available: {names}.")
    if kind is None:
        if len(matches) > 1:
            raise PluginError(
                f"{name!r} names both an intensity and a velocity profile; pass "
                f"kind='intensity' or kind='velocity', e.g. galkin.get_profile({name!r}, "
                "kind='velocity')."
            )
        return next(iter(matches.values()))
    if kind not in matches:
        other = next(iter(matches))
        article = "an" if kind[0] in "aeiou" else "a"
        names = ", ".join(list_profiles(kind))
        raise PluginError(
            f"Profile {name!r} is a {other} profile, not {article} {kind} profile. "
            f"Available {kind} profiles: {names}."
        )
    return matches[kind]


def list_profiles(kind=None):
    """Names of the registered decoder profiles, optionally of one kind.

    Examples
    --------
    >>> import galkin
    >>> "arctan" in galkin.list_profiles("velocity")
    True
    """
    names = {n for (k, n) in registry("profile") if kind is None or k == kind}
    return sorted(names)


def list_models():
    """Names of the registered kinematic models."""
    return list(registry("model"))


def get_model(name):
    """Return the registered kinematic model class called ``name``."""
    return _get("model", name, "kinematic model")


def list_survey_adapters():
    """Names of the registered survey adapters."""
    return list(registry("survey"))


def list_postprocessors():
    """Names of the registered post-processors."""
    return list(registry("postprocessor"))


def get_postprocessor(name):
    """Return the registered post-processor class called ``name``."""
    return _get("postprocessor", name, "post-processor")


def get_survey_adapter(name):
    """Return the registered survey adapter class called ``name``."""
    return _get("survey", name, "survey adapter")


def get_classifier(name):
    """Return the registered velocity-map classifier class called ``name``."""
    return _get("classifier", name, "classifier")


def list_classifiers():
    """Names of the registered velocity-map classifiers."""
    return list(registry("classifier"))


def list_pa_estimators():
    """Names of the registered position-angle estimators."""
    return list(registry("pa_estimator"))


def get_pa_estimator(name):
    """Return the registered position-angle estimator class called ``name``."""
    return _get("pa_estimator", name, "position-angle estimator")


def list_ring_starts():
    """Names of the registered ring-start estimators (``galkin.fit(..., ring_start=)``)."""
    return list(registry("ring_start"))


def get_ring_start(name):
    """Return the registered ring-start estimator class called ``name``."""
    return _get("ring_start", name, "ring-start estimator")
