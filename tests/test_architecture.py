"""Arrows point one way: web -> wash_ops <- plc. The domain core imports no framework."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

FORBIDDEN_IN_CORE = ("flask", "werkzeug", "web", "plc", "pymodbus", "paho", "wash_ops_cli")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_core_imports_no_web_plc_or_protocol_library():
    offenders = {}
    for path in (ROOT / "wash_ops").rglob("*.py"):
        bad = {name for name in imported_modules(path) if name.split(".")[0] in FORBIDDEN_IN_CORE}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_plc_does_not_import_web():
    for path in (ROOT / "plc").rglob("*.py"):
        assert not {n for n in imported_modules(path) if n.split(".")[0] == "web"}, path
