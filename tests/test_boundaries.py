"""Dependencies point one way: app.py -> web -> domain packages, at every directory depth.

Domain packages import no web framework, database layer or web code; kb and classifier import
no other package of the app; the other domain packages build on kb only; view modules do not
import each other; and no module of the app imports itself back through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import DOMAIN_PACKAGES, ROOT, SOURCE_PACKAGES

# Third-party and app packages no domain package may import.
WEB_ONLY = {
    "flask", "flask_login", "flask_migrate", "flask_sqlalchemy", "flask_wtf", "werkzeug", "wtforms", "jinja2",
    "itsdangerous", "sqlalchemy", "alembic", "limits", "gunicorn", "web", "app",
}
# The app's packages each domain package may build on.
ALLOWED_DOMAIN = {"kb": set(), "classifier": set(), "mailclient": {"kb"}, "analytics": {"kb"}, "replies": {"kb"}}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, root: Path, *, typing_too: bool = True, modules: frozenset[str] = frozenset()) -> set[str]:
    """Return the absolute module names a file imports (relative imports resolved), anywhere in the file.

    ``from web.views import api`` names both ``web.views`` and ``web.views.api``; given the
    app's ``modules``, only the one that is a module of the app counts (``web.views.api``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    skipped = set()
    if not typing_too:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and is_type_checking(node):
                skipped |= {id(child) for child in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                full = f"{module}.{alias.name}"
                names |= {full} if full in modules else {module, full} if not modules else {module}
    return names


def source_files(root: Path, packages) -> list[Path]:
    return [path for package in packages for path in sorted((root / package).rglob("*.py"))]


def violations(root: Path, domain: dict[str, set[str]], views: str = "web.views") -> list[str]:
    """List every import that breaks the rules, as 'file: reason'."""
    found = []
    for path in source_files(root, domain):
        package = path.relative_to(root).parts[0]
        for top in sorted({name.split(".")[0] for name in imports(path, root)}):
            if top in WEB_ONLY:
                found.append(f"{path.relative_to(root)}: imports {top}")
            elif top in domain and top != package and top not in domain[package]:
                allowed = domain[package] or "none"
                found.append(f"{path.relative_to(root)}: imports {top} ({package} may build on {allowed})")
    view_dir = root.joinpath(*views.split("."))
    for path in sorted(view_dir.glob("*.py")) if view_dir.is_dir() else []:
        if path.name == "__init__.py":
            continue
        own = module_name(path, root)
        others = {n for n in imports(path, root) if n.startswith(views + ".") and not own.startswith(n)}
        found += [f"{path.relative_to(root)}: imports the view module {n}" for n in sorted(others)]
    return found


def cycles(root: Path, packages) -> list[list[str]]:
    """Return import cycles between the app's modules (imports only made for type checkers do not count)."""
    files = {module_name(p, root): p for p in source_files(root, packages)}
    graph = {
        name: {n for n in imports(path, root, typing_too=False, modules=frozenset(files)) if n in files and n != name}
        for name, path in files.items()
    }
    found, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


def test_domain_packages_and_views_keep_their_boundaries():
    assert source_files(ROOT, DOMAIN_PACKAGES)
    assert violations(ROOT, ALLOWED_DOMAIN) == []


def test_no_module_imports_itself_back():
    assert cycles(ROOT, [*SOURCE_PACKAGES]) == []


def test_every_package_of_the_app_is_checked():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "migrations"}
    assert packages == set(SOURCE_PACKAGES)


@pytest.fixture
def tree(tmp_path):
    """A small app tree to show that each rule catches what it should, at any depth."""

    def write(relative: str, text: str = "") -> None:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    for package in ("kb", "kb/deep/er", "classifier", "web", "web/views"):
        write(f"{package}/__init__.py")
    return tmp_path, write


def test_a_framework_import_deep_in_a_domain_package_is_caught(tree):
    root, write = tree
    write("kb/deep/er/thing.py", "def f():\n    from flask import request\n")
    write("classifier/model.py", "from ..kb import search\n")
    found = violations(root, {"kb": set(), "classifier": set()})
    assert set(found) == {
        "kb/deep/er/thing.py: imports flask",
        "classifier/model.py: imports kb (classifier may build on none)",
    }


def test_views_importing_each_other_and_cycles_are_caught(tree):
    root, write = tree
    write("web/views/pages.py", "from web.views import api\n")
    write("web/views/api.py", "from . import pages\n")
    write("web/a.py", "import web.b\n")
    write("web/b.py", "from web import a\n")
    write("web/c.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from web import d\n")
    write("web/d.py", "from web import c\n")
    found = violations(root, {"kb": set(), "classifier": set()})
    assert "web/views/pages.py: imports the view module web.views.api" in found
    assert "web/views/api.py: imports the view module web.views.pages" in found
    loops = cycles(root, ["web"])
    assert any({"web.a", "web.b"} <= set(loop) for loop in loops)
    assert not any("web.d" in loop for loop in loops)  # an import only for type checkers is no cycle
