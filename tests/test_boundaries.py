"""kb and classifier import no web code and not each other."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"kb": {"flask", "werkzeug", "app", "classifier"}, "classifier": {"flask", "werkzeug", "app", "kb"}}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_one_way(package):
    files = list((ROOT / package).glob("*.py"))
    assert files
    for path in files:
        bad = imported_modules(path) & FORBIDDEN[package]
        assert not bad, f"{path.name} imports {bad}"
