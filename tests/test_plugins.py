"""The plugin manager: discovery, validation and the errors users see."""

import sys
import types
from importlib.metadata import EntryPoint

import pluggy
import pytest

import galkin
import galkin.plugins
from galkin import PluginError, hookimpl
from galkin.profiles import Parameter, VelocityProfile


class DuplicateArctan(VelocityProfile):
    """A second profile that claims the built-in name ``arctan``."""

    name = "arctan"
    parameters = (Parameter("v", "velocity", (0.1, 1.0), "amplitude"),)

    def evaluate(self, radius, *, v):
        return v * radius


class SolidBody(VelocityProfile):
    """A profile registered by a fake entry-point plugin."""

    name = "solid_body_test"
    parameters = (Parameter("v", "velocity", (0.1, 1.0), "amplitude"),)

    def evaluate(self, radius, *, v):
        return v * radius


@pytest.fixture(autouse=True)
def fresh_plugin_manager():
    """Build the manager anew for each test and leave the normal one behind."""
    galkin.plugins.reset_plugin_manager()
    yield
    galkin.plugins.reset_plugin_manager()


def _plugin_module(monkeypatch, modname, **hooks):
    """Put a module named ``modname`` holding ``hooks`` into sys.modules."""
    module = types.ModuleType(modname)
    for name, func in hooks.items():
        func.__name__ = name
        setattr(module, name, hookimpl(func))
    monkeypatch.setitem(sys.modules, modname, module)
    return module


def _fake_entry_points(monkeypatch, *eps):
    """Make the plugin manager see ``eps`` as the installed 'galkin' entry points."""
    calls = []

    def entry_points(*, group):
        calls.append(group)
        return list(eps) if group == "galkin" else []

    monkeypatch.setattr(galkin.plugins, "entry_points", entry_points)
    monkeypatch.delenv(galkin.plugins.DISABLE_AUTOLOAD_ENV, raising=False)
    return calls


def _ep(name, value):
    return EntryPoint(name=name, value=value, group="galkin")


def test_builtins_registered_under_their_module_names():
    pm = galkin.plugins.get_plugin_manager()
    for modname in galkin.plugins.BUILTIN_PLUGINS:
        assert pm.get_plugin(modname) is sys.modules[modname]
    assert galkin.plugins.get_plugin_manager() is pm  # cached


def test_entry_point_plugin_is_found(monkeypatch):
    _plugin_module(monkeypatch, "fake_galkin_plugin", galkin_register_profiles=lambda: [SolidBody])
    calls = _fake_entry_points(monkeypatch, _ep("fake", "fake_galkin_plugin"))
    assert galkin.get_profile("solid_body_test") is SolidBody
    assert "solid_body_test" in galkin.list_profiles("velocity")
    assert calls == ["galkin"]
    assert (
        galkin.plugins.get_plugin_manager().get_plugin("fake") is sys.modules["fake_galkin_plugin"]
    )


def test_disable_autoload_env_skips_entry_points(monkeypatch):
    _plugin_module(monkeypatch, "fake_galkin_plugin", galkin_register_profiles=lambda: [SolidBody])
    calls = _fake_entry_points(monkeypatch, _ep("fake", "fake_galkin_plugin"))
    monkeypatch.setenv(galkin.plugins.DISABLE_AUTOLOAD_ENV, "1")
    assert "solid_body_test" not in galkin.list_profiles()
    assert "arctan" in galkin.list_profiles()  # built-ins still load
    assert calls == []


def test_duplicate_profile_name_names_both_classes(monkeypatch):
    _plugin_module(
        monkeypatch, "dup_galkin_plugin", galkin_register_profiles=lambda: [DuplicateArctan]
    )
    _fake_entry_points(monkeypatch, _ep("dup", "dup_galkin_plugin"))
    with pytest.raises(PluginError, match="both named 'arctan'") as info:
        galkin.list_profiles()
    message = str(info.value)
    assert "galkin_plugins.profiles.arctan.ArctanProfile" in message
    assert f"{__name__}.DuplicateArctan" in message


def test_same_class_from_two_plugins_is_not_a_duplicate(monkeypatch):
    arctan = galkin.get_profile("arctan")
    _plugin_module(monkeypatch, "again_galkin_plugin", galkin_register_profiles=lambda: [arctan])
    _fake_entry_points(monkeypatch, _ep("again", "again_galkin_plugin"))
    galkin.plugins.reset_plugin_manager()
    assert galkin.get_profile("arctan") is arctan


def test_profile_without_name_is_refused(monkeypatch):
    class Nameless(SolidBody):
        name = ""

    _plugin_module(monkeypatch, "nameless_plugin", galkin_register_profiles=lambda: [Nameless])
    _fake_entry_points(monkeypatch, _ep("nameless", "nameless_plugin"))
    with pytest.raises(PluginError, match="Nameless.*no string attribute 'name'"):
        galkin.list_profiles()


def test_typo_in_hook_name_fails_at_check_pending(monkeypatch):
    _plugin_module(monkeypatch, "typo_galkin_plugin", galkin_register_profile=lambda: [SolidBody])
    _fake_entry_points(monkeypatch, _ep("typo", "typo_galkin_plugin"))
    with pytest.raises(pluggy.PluginValidationError, match="galkin_register_profile"):
        galkin.plugins.get_plugin_manager()


def test_entry_point_that_fails_to_import_is_named(monkeypatch):
    _fake_entry_points(monkeypatch, _ep("broken", "galkin_no_such_module_xyz"))
    with pytest.raises(PluginError, match="plugin 'broken'.*galkin_no_such_module_xyz") as info:
        galkin.list_profiles()
    assert "ModuleNotFoundError" in str(info.value)
    assert galkin.plugins.DISABLE_AUTOLOAD_ENV in str(info.value)


def test_unknown_profile_lists_every_name():
    with pytest.raises(PluginError, match="No decoder profile named 'arctann'") as info:
        galkin.get_profile("arctann")
    for name in galkin.list_profiles():
        assert name in str(info.value)


def test_profile_of_wrong_kind_is_refused():
    with pytest.raises(
        PluginError, match=r"'arctan' is a velocity profile, not an? intensity"
    ) as info:
        galkin.get_profile("arctan", kind="intensity")
    for name in galkin.list_profiles("intensity"):
        assert name in str(info.value)
    assert galkin.get_profile("arctan", kind="velocity").name == "arctan"


def test_list_profiles_by_kind():
    intensity = set(galkin.list_profiles("intensity"))
    velocity = set(galkin.list_profiles("velocity"))
    assert {"exponential", "sersic", "truncated_gaussian"} <= intensity
    assert {"arctan", "courteau", "polyex"} <= velocity
    assert intensity & velocity == {"rings"}  # one profile of each kind
    assert intensity | velocity == set(galkin.list_profiles())


def test_shared_name_needs_its_kind():
    with pytest.raises(PluginError, match="names both an intensity and a velocity profile"):
        galkin.get_profile("rings")
    assert galkin.get_profile("rings", "intensity").kind == "intensity"
    assert galkin.get_profile("rings", kind="velocity").kind == "velocity"


def test_unknown_plugin_kind():
    with pytest.raises(PluginError, match="Unknown plugin kind 'profiles'"):
        galkin.plugins.registry("profiles")
