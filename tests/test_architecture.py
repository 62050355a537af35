"""The layout rules of ARCHITECTURE.md and STYLE.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("directory", "callcontrol", "acd", "recording", "analytics")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    for path in (ROOT / "services" / service).rglob("*.py"):
        for name in imports(path):
            for other in SERVICES:
                if other != service and name.startswith(f"hibiki.{other}") and not name.startswith(f"hibiki.{other}.v1"):
                    pytest.fail(f"{path.relative_to(ROOT)} imports {name}: use the contracts (hibiki.{other}.v1)")


def test_the_shared_library_knows_no_service() -> None:
    for path in (ROOT / "libs" / "common" / "src").rglob("*.py"):
        assert not {n for n in imports(path) if n.split(".")[:2] in [["hibiki", s] for s in SERVICES]}, path


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_its_own_package_with_wiring_and_tests(service: str) -> None:
    package = ROOT / "services" / service
    assert (package / "pyproject.toml").read_text().count(f'name = "hibiki-{service}"') == 1
    assert (package / "src" / "hibiki" / service / "app.py").exists()
    assert (package / "src" / "hibiki" / service / "config.py").exists()
    assert list((package / "tests").glob("test_*.py"))
