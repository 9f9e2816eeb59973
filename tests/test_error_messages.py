"""Every keyword an error or warning message suggests (``noise=``, ``beam=Beam(major=...)``)
is an argument of the function the message names, or else of the function raising it.

The messages are read from the source: each ``raise X("...")`` and ``warnings.warn("...")``
in ``galkin`` and ``galkin_plugins``, with string variables the function assigns (``fix =
"..."``) filled in.  A keyword written inside a call, ``galkin.fit(data, beam=...)``, must be
a parameter of that callable (resolved in the raising module); any other, ``pass noise=``,
must be a parameter of the function that raises it.
"""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import galkin

SRC = Path(galkin.__file__).resolve().parents[1]
KEYWORD = re.compile(r"(?<![\w.])([a-z_][a-z0-9_]*)=(?!=)")
CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\(")


def _text(node, strings):
    """The literal text of a message expression; ``{}`` for what is computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) else _text(v.value, strings) for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, strings) + _text(node.right, strings)
    if isinstance(node, ast.Name):
        return strings.get(node.id, "{}")
    return "{}"


def _strings(function):
    """String literals a function assigns to local names (every assignment, joined)."""
    found = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                text = _text(node.value, found)
                if text.strip("{} "):
                    found[target.id] = found.get(target.id, "") + " " + text
    return found


def _parameters(function):
    args = function.args
    return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}


def messages():
    """``(module, line, enclosing function node, message text)`` for every raise and warn."""
    for path in sorted(SRC.glob("galkin*/**/*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            strings = _strings(function)
            for node in ast.walk(function):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                    call = node.exc
                elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "warn":
                    call = node
                else:
                    continue
                text = " ".join(_text(arg, strings) for arg in call.args)
                if KEYWORD.search(text):
                    yield module, call.lineno, function, text


def _split(text):
    """``(outside, [(callable name, its argument text)])``: keywords at the top level, and
    each call-like mention with what is inside its parentheses (nested calls found too)."""
    calls, outside, i = [], [], 0
    while i < len(text):
        match = CALL.match(text, i) if text[i].isalpha() or text[i] == "_" else None
        if match and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "._")):
            depth, j = 1, match.end()
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            inner = text[match.end() : j - 1]
            inner_outside, inner_calls = _split(inner)
            calls.append((match.group(1), inner_outside))
            calls.extend(inner_calls)
            i = j
        else:
            outside.append(text[i])
            i += 1
    return "".join(outside), calls


def _resolve(name, module):
    """The object a dotted name in a message refers to, seen from ``module``."""
    first, *rest = name.split(".")
    package = module.rsplit(".", 1)[0]
    # the raising module, its package, galkin, and the libraries whose classes users build
    scopes = [importlib.import_module(m) for m in (module, package, "radio_beam")] + [galkin]
    obj = next((getattr(s, first) for s in scopes if hasattr(s, first)), None)
    if obj is None:  # a module path, e.g. galkin_plugins.sae.network.SAENetwork
        for n in range(len(rest), -1, -1):
            try:
                obj = importlib.import_module(".".join([first, *rest[:n]]))
            except ImportError:
                continue
            rest = rest[n:]
            break
    for part in rest:
        obj = getattr(obj, part, None)
    return obj


def _accepts(obj, keyword):
    """Whether ``keyword`` is a named parameter of ``obj`` (``**kwargs`` does not count)."""
    try:
        signature = inspect.signature(obj)
        kinds = {p.kind for p in signature.parameters.values()}
        if inspect.isclass(obj) and kinds <= {
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        }:
            signature = inspect.signature(obj.__init__)  # a class whose signature is wrapped
    except (TypeError, ValueError):
        return False
    parameter = signature.parameters.get(keyword)
    return parameter is not None and parameter.kind is not parameter.VAR_KEYWORD


CASES = list(messages())


def test_the_scan_finds_the_messages():
    found = {(m, f.name) for m, _, f, _ in CASES}
    # messages known to suggest keywords, as a check that the scan reads them
    assert ("galkin.fitting", "prepare_maps") in found
    assert ("galkin.io.moments", "noise_value") in found
    assert len(CASES) > 20


@pytest.mark.parametrize(
    ("module", "line", "function", "text"),
    CASES,
    ids=[f"{m}:{line}" for m, line, _, _ in CASES],
)
def test_suggested_keywords_exist(module, line, function, text):
    outside, calls = _split(text)
    for name, arguments in calls:
        keywords = KEYWORD.findall(arguments)
        if not keywords:
            continue
        target = _resolve(name, module)
        assert target is not None, f"{module}:{line} names {name}(), which does not resolve"
        for keyword in keywords:
            assert _accepts(target, keyword), (
                f"{module}:{line} suggests {name}({keyword}=...), but {name} has no "
                f"argument {keyword!r}: {text!r}"
            )
    for keyword in KEYWORD.findall(outside):
        assert keyword in _parameters(function), (
            f"{module}:{line} suggests {keyword}= without naming a function, and "
            f"{function.name}() that raises it has no argument {keyword!r}: {text!r}"
        )
