"""The wheel ships `openbell bench` but none of the rival engines' adapters.

The wheel's packages are what setuptools discovers with the project's own
`[tool.setuptools.packages.find]` settings; nothing is built.
"""

import ast
import importlib.util
import tomllib
from collections.abc import Iterator
from pathlib import Path

from setuptools import find_namespace_packages

import benchmarks.rivals

ROOT = Path(__file__).resolve().parents[2]


def wheel_packages() -> Iterator[tuple[str, Path]]:
    """(package, folder) for every package the wheel is built from."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    find = pyproject["tool"]["setuptools"]["packages"]["find"]
    for where in find["where"]:
        found = find_namespace_packages(
            str(ROOT / where), include=find.get("include", ["*"]), exclude=find.get("exclude", [])
        )
        for package in found:
            yield package, ROOT / where / package.replace(".", "/")


def names_in(source: str) -> set[str]:
    """Top-level module names a source imports or hands to importlib as a string."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and _looks_like_a_module(node.value):
            names.add(str(node.value).split(".")[0])
    return names


def _looks_like_a_module(value: object) -> bool:
    return isinstance(value, str) and value.replace(".", "").replace("_", "").isalnum()


def rival_modules() -> set[str]:
    """The third-party modules the rival adapters load (by name, through `_import`)."""
    tree = ast.parse(Path(benchmarks.rivals.__file__).read_text())
    return {
        str(node.args[0].value).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_import"
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def test_wheel_package_discovery_leaves_the_benchmarks_tree_out() -> None:
    packages = [package for package, _ in wheel_packages()]
    assert "openbell.bench" in packages
    assert all(package.split(".")[0] == "openbell" for package in packages)


def test_the_rival_adapters_are_no_module_of_openbell() -> None:
    assert importlib.util.find_spec("openbell.bench.rivals") is None


def test_no_module_of_the_wheel_names_a_rival_engine_or_the_benchmarks() -> None:
    engines = rival_modules()
    assert len(engines) >= len(benchmarks.rivals.RIVALS)
    offenders = {
        f"{path.relative_to(ROOT)}: {sorted(found)}"
        for _, folder in wheel_packages()
        for path in folder.glob("*.py")
        if (found := names_in(path.read_text()) & (engines | {"benchmarks"}))
    }
    assert not offenders
