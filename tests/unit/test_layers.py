"""The layering rule, read off the source: imports point down only, and nothing imports in a circle.

Every ``import`` of the package is counted, those inside functions too (they run sooner or
later, and a function-level import is how a circle usually hides). Layers, lowest first; a
module may import its own layer and those below it:

    cli → api → assembly, training (the composition root) → model, evaluation
        → objectives | modalities (siblings: neither imports the other) → models → measures → core → base
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import muse_gan

PACKAGE = Path(muse_gan.__file__).parent

# (layer name, module prefixes), lowest first
LAYERS = [
    (
        "base",
        [
            "muse_gan.errors",
            "muse_gan.registry",
            "muse_gan.files",
            "muse_gan.version",
            "muse_gan.timeouts",
            "muse_gan.options",
            "muse_gan.pretrained",
            "muse_gan.client",  # what a DAW's Python imports: the standard library only
        ],
    ),
    ("core", ["muse_gan.core"]),
    ("measures", ["muse_gan.measures"]),
    ("networks", ["muse_gan.models"]),
    ("families", ["muse_gan.objectives"]),
    ("modalities", ["muse_gan.modalities"]),
    ("facade and evaluation", ["muse_gan.model", "muse_gan.evaluation"]),
    ("composition root", ["muse_gan.assembly", "muse_gan.training", "muse_gan.calibration"]),
    ("library face", ["muse_gan.api", "muse_gan"]),
    (
        "command line, server, live playing",
        ["muse_gan.cli", "muse_gan.__main__", "muse_gan.server", "muse_gan.live"],
    ),
]
SIBLINGS = {("families", "modalities"), ("modalities", "families")}  # neither may import the other


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found |= {
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            }
    return {target for target in found if target in known and target != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), number)
        for number, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS"
    return max(matches)[1]


def test_every_module_is_in_a_layer(graph):
    for module in graph:
        layer_of(module)


def test_imports_point_down(graph):
    upward = [
        f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for source, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(source)
        or (LAYERS[layer_of(source)][0], LAYERS[layer_of(target)][0]) in SIBLINGS
    ]
    assert not upward, "\n".join(sorted(upward))


def test_the_core_knows_no_modality_evaluation_library_face_or_command_line(graph):
    forbidden = (
        "muse_gan.modalities",
        "muse_gan.evaluation",
        "muse_gan.measures",
        "muse_gan.model",
        "muse_gan.api",
        "muse_gan.cli",
        "muse_gan.assembly",
        "muse_gan.training",
        "muse_gan.objectives",
    )
    arrows = [
        f"{source} imports {target}"
        for source, targets in graph.items()
        if source.startswith("muse_gan.core")
        for target in targets
        if target.startswith(forbidden)
    ]
    assert not arrows, "\n".join(arrows)


def test_no_module_imports_in_a_circle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, " → ".join(cycle or [])


def test_modalities_do_not_import_each_other_in_a_circle(graph):
    packages = defaultdict(set)
    for source, targets in graph.items():
        for target in targets:
            first, second = modality_of(source), modality_of(target)
            if first and second and first != second:
                packages[first].add(second)
    cycle = find_cycle(packages)
    assert cycle is None, " → ".join(cycle or [])


def modality_of(module: str) -> str | None:
    parts = module.split(".")
    return (
        parts[2] if len(parts) > 2 and parts[1] == "modalities" and parts[2] != "registry" else None
    )


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A list of nodes going round a circle, or None (depth-first search with colours)."""
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_checker_sees_a_function_level_import_and_a_circle(tmp_path):
    """The test above can fail: an import inside a function counts, and a circle is found."""
    source = tmp_path / "muse_gan" / "core" / "thing.py"
    source.parent.mkdir(parents=True)
    source.write_text("def f():\n    from ..modalities import midi\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "muse_gan"
    try:
        found = imports_of(
            "muse_gan.core.thing", source, {"muse_gan.modalities.midi", "muse_gan.core.thing"}
        )
    finally:
        PACKAGE = saved
    assert found == {"muse_gan.modalities.midi"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
