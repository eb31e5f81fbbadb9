"""The package layering of docs/architecture.rst, enforced on the source.

Every ``import`` in ``skcells/`` (at module level or inside a function) is
read with :mod:`ast`.  A package may import only packages of a lower layer,
never a higher one or a sibling of its own layer, and never another
package's private (underscore) module: shared pieces are reached through the
public names of a package's ``__init__``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "skcells"

# Lower layers first; a package may import packages of strictly lower layers.
LAYERS = (
    ("utils",),
    ("datasets", "models", "noise"),
    ("curriculum", "multiview"),
    ("persistence",),
    ("experiments",),
    ("tuning",),
    ("_commands",),
    ("cli",),
)
LAYER = {pkg: level for level, pkgs in enumerate(LAYERS) for pkg in pkgs}
# Modules of the top-level package that belong to no layer.
FREE = {"_version", "__init__"}

# (importing module, imported module) pairs still to be removed.  Each entry
# is a known violation; the list only shrinks.
KNOWN_VIOLATIONS = set()


def _package(parts):
    """The layer package of a module path inside skcells."""
    return parts[0]


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts
        if parts[-1] == "__init__":
            parts = parts[:-1] or ("__init__",)
        yield path, parts


def _resolve(parts, path, node):
    """Absolute module paths (inside skcells, without the prefix) of one import."""
    out = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == "skcells" or alias.name.startswith("skcells."):
                out.append(tuple(alias.name.split(".")[1:]))
        return out
    if node.level == 0:
        if node.module and node.module.split(".")[0] == "skcells":
            base = tuple(node.module.split(".")[1:])
        else:
            return out
    else:
        # the package that holds the importing module
        pkg = parts if path.name == "__init__.py" else parts[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = pkg + (tuple(node.module.split(".")) if node.module else ())
    if not base:
        # ``from skcells import x`` / ``from .. import x``: x is a subpackage
        out.extend((alias.name,) for alias in node.names)
    else:
        out.append(base)
        # ``from .pkg import _mod`` imports the submodule _mod
        out.extend(base + (a.name,) for a in node.names if a.name.startswith("_"))
    return out


def _imports():
    for path, parts in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _resolve(parts, path, node):
                    if target:
                        yield parts, target, node.lineno, path


def _violations():
    found = {}
    for parts, target, line, path in _imports():
        if parts[0] in FREE or target[0] in FREE:
            continue
        src, dst = _package(parts), _package(target)
        where = f"{path.relative_to(ROOT.parent)}:{line}"
        key = (".".join(parts), ".".join(target))
        if src == dst:
            continue
        if LAYER[dst] >= LAYER[src]:
            found[key] = f"{where}: {src} (layer {LAYER[src]}) imports {dst}"
        elif any(p.startswith("_") for p in target[1:]) and src != "cli":
            # the entry point alone loads the command modules
            found[key] = f"{where}: private module skcells.{'.'.join(target)}"
    return found


def test_every_package_has_a_layer():
    packages = {_package(parts) for _, parts in _modules() if parts[0] not in FREE}
    assert packages <= set(LAYER), packages - set(LAYER)


def test_imports_follow_the_layers():
    found = _violations()
    new = {k: v for k, v in found.items() if k not in KNOWN_VIOLATIONS}
    assert not new, "\n".join(sorted(new.values()))


def test_known_violations_are_still_real():
    # Remove an entry from KNOWN_VIOLATIONS when it is fixed.
    stale = KNOWN_VIOLATIONS - set(_violations())
    assert not stale, sorted(stale)


@pytest.mark.parametrize(
    ("parts", "source", "expected"),
    [
        (("datasets", "_synthetic"), "from ..curriculum._competence import f", True),
        (("datasets", "_synthetic"), "from ..utils import check_int", False),
        (("tuning", "_recipe"), "from ..datasets._base import x", True),
        (("tuning", "_recipe"), "from ..datasets import get_data_home", False),
        (("_commands", "tune"), "from ..cli import CommandError", True),
        (("multiview", "_classifier"), "from ._views import f", False),
        (("experiments", "_series"), "import skcells.multiview._views", True),
    ],
)
def test_the_checker_sees_violations(parts, source, expected, tmp_path):
    path = tmp_path / (parts[-1] + ".py")
    node = ast.parse(source).body[0]
    targets = _resolve(parts, path, node)
    bad = False
    for target in targets:
        src, dst = _package(parts), _package(target)
        if src != dst and (
            LAYER[dst] >= LAYER[src] or any(p.startswith("_") for p in target[1:])
        ):
            bad = True
    assert bad is expected
