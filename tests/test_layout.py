"""The package's shape: small modules, no reaching into another module's private names, and
every error a user can meet derived from SpladeLiteError."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import click

import splade_lite
from splade_lite.errors import SpladeLiteError

PACKAGE = Path(splade_lite.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 500


def test_no_module_is_over_500_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in MODULES
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_imports_another_modules_private_names():
    found = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("splade_lite"):
                found += [(path.name, node.module, a.name) for a in node.names if _private(a.name)]
            if isinstance(node, ast.ImportFrom) and node.level:  # relative imports: none used
                found.append((path.name, node.module, "relative import"))
    assert found == []


def test_every_public_error_class_is_a_splade_lite_error():
    outside = []
    for info in pkgutil.walk_packages(splade_lite.__path__, "splade_lite."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != info.name or _private(name):
                continue
            if issubclass(cls, (Warning, click.ClickException)):  # warnings; the CLI's own
                continue
            if issubclass(cls, Exception) and not issubclass(cls, SpladeLiteError):
                outside.append(f"{info.name}.{name}")
    assert outside == []
