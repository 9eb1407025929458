"""The sync engine reaches other apps only through their services, selectors and hooks, and
never imports notifications (which subscribes to syncengine's hooks instead)."""

from __future__ import annotations

import ast
from pathlib import Path

import syncengine

ROOT = Path(syncengine.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_syncengine_imports_nothing_of_notifications():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] == "notifications"
        )
        for path in ROOT.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_connector_oauth_modules_import_no_django():
    for path in ROOT.glob("connectors/**/oauth.py"):
        assert not [n for n in imported_modules(path) if n.split(".")[0] == "django"], path
    assert (ROOT / "connectors/google_contacts/oauth.py").exists()
