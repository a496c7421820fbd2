"""The layers of Sportello, declared once, and a walk over every import that keeps them true.

Floor (settings, database, clock, errors, personal-data recognisers) imports nothing of
Sportello's; the domain packages import the floor and, where two must meet, each other
in one declared direction; the edges (bot actions, console, chat page, command line,
service start-up, benchmarks) sit on top and nothing below imports them. The walk reads
the source with :mod:`ast` (nothing is imported, so it runs in either environment and
sees imports inside functions too) and fails on an import that goes up a layer, on an
undeclared meeting of two domains, and on any import cycle, between packages or between
modules. docs/architecture.md explains the layers; this table is what makes them a fact.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FLOOR, DOMAIN, EDGE = 0, 1, 2
LAYER_NAMES = {FLOOR: "floor", DOMAIN: "domain", EDGE: "edge"}

# Every unit of the project and its layer. A module belongs to the longest name that
# prefixes it: desk.console is an edge although desk is a domain.
LAYERS: dict[str, int] = {
    "sportello": FLOOR,
    "knowledge": DOMAIN,
    "identity": DOMAIN,
    "customerlog": DOMAIN,
    "desk": DOMAIN,
    "insights": DOMAIN,
    # The high-level export, erasure and retention over every domain.
    "privacy": EDGE,
    "actions": EDGE,
    "desk.console": EDGE,
    # Its own process: SLA checks, deliveries, mail, retention, once a minute.
    "desk.monitor": EDGE,
    "webchat": EDGE,
    "cli": EDGE,
    "stack": EDGE,
    "bench": EDGE,
    "bot": EDGE,
}

# Where two domains meet: (importer, imported) and why. One direction only; the reverse
# of a declared pair is a cycle and fails.
DOMAIN_USES: dict[tuple[str, str], str] = {
    ("customerlog", "identity"): "a turn and a rating name the customer's profile",
    ("desk", "identity"): "a returning customer's ticket follows their profile",
    ("desk", "customerlog"): "ticket mails ask for ratings; the history reads the log",
    ("insights", "customerlog"): "the figures are read from the log",
    ("insights", "desk"): "and from the tickets, with the desk's SLA policy",
    ("insights", "identity"): "customers are counted once across channels",
    ("insights", "knowledge"): "knowledge gaps are clustered with the knowledge base's models",
}

# Imports that break the layers today and are being removed by another change. Each entry
# fails once nothing uses it any more, so whoever removes the import deletes the entry.
TEMPORARY: dict[tuple[str, str], str] = {}


# Which unit owns each table: only modules of that unit name it in their SQL. The same
# list is in docs/architecture.md, with what each table holds.
OWNERS: dict[str, str] = {
    **dict.fromkeys(("articles", "article_history", "kb_state", "phrasing_proposals"), "knowledge"),
    **dict.fromkeys(
        (
            "identity_profiles",
            "identity_channels",
            "identity_conversations",
            "identity_contacts",
            "identity_merges",
            "identity_blocks",
        ),
        "identity",
    ),
    **dict.fromkeys(
        (
            "users",
            "tickets",
            "ticket_messages",
            "ticket_events",
            "ticket_conversations",
            "mail_outbox",
            "mail_inbox",
            "alerts",
            "alert_state",
            "customer_log",
        ),
        "desk",
    ),
    **dict.fromkeys(("log_turns", "log_state", "ratings", "rating_requests"), "customerlog"),
    # Rasa's tracker store: Rasa writes it (bot.tracker_store is the store Rasa runs), the
    # log reads it, export, erasure and retention delete from it, all through one module.
    "events": "customerlog.tracker",
}
SHARED_OWNERS = {"events": ("bot.tracker_store",)}

# Reads (never writes) of another unit's table by name, and why.
FOREIGN_READS: dict[tuple[str, str], str] = {
    ("customerlog.turns", "tickets"): "an escalated turn names its ticket; the desk imports "
    "the log, so the log cannot ask the desk through a function",
    ("desk.migrations", "log_turns"): "the desk's customer_log view is the log's turns and "
    "the operators' answers in one timeline; migrations name tables, not constants",
    ("bench.soak", "tickets"): "the soak test audits what the stack stored, from outside",
    ("bench.soak", "ticket_messages"): "the soak test audits what the stack stored, from outside",
    ("bench.scaleout_stack", "events"): "the scale-out benchmark checks what each Rasa server "
    "wrote to the shared tracker store",
}

_SQL_NAME = re.compile(
    r"\b(FROM|JOIN|INTO|UPDATE|TABLE(?: IF NOT EXISTS)?|VIEW(?: IF NOT EXISTS)?)\s+(\w+)"
)
_READS = {"FROM", "JOIN"}


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, and where."""

    importer: str
    imported: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.importer} imports {self.imported}"


def unit_of(module: str) -> str | None:
    """The declared unit a module belongs to (the longest prefix), or None if outside."""
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        name = ".".join(parts[:size])
        if name in LAYERS:
            return name
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files() -> list[Path]:
    roots = {name.split(".")[0] for name in LAYERS}
    return sorted(
        path
        for root in roots
        for path in (ROOT / root).rglob("*.py")
        if "node_modules" not in path.parts
    )


def known_modules(files: Iterable[Path]) -> set[str]:
    return {module_name(path) for path in files}


def _resolve(name: str, modules: set[str]) -> str:
    """The longest prefix of ``name`` that is a module of the project (``from a.b import
    f`` names the function ``a.b.f``: the module is ``a.b``)."""
    parts = name.split(".")
    for size in range(len(parts), 0, -1):
        candidate = ".".join(parts[:size])
        if candidate in modules:
            return candidate
    return name


def imports_in(
    source: str, importer: str, path: Path, modules: set[str], is_package: bool = False
) -> list[Import]:
    """Every import of a project module in ``source``, at any depth (functions included),
    except under ``if TYPE_CHECKING:``: an annotation's import never runs."""
    package = importer if is_package else importer.rpartition(".")[0]
    roots = {name.split(".")[0] for name in LAYERS} | {"tests"}
    found: list[Import] = []
    tree = ast.parse(source, filename=str(path))
    for_types = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in for_types:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in roots:
                target = _resolve(name, modules)
                if target != importer:
                    found.append(Import(importer, target, path, node.lineno))
    return found


@functools.cache
def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def imports_of(path: Path, modules: set[str]) -> list[Import]:
    return imports_in(_source(path), module_name(path), path, modules, path.name == "__init__.py")


def all_imports() -> list[Import]:
    files = project_files()
    modules = known_modules(files)
    return [found for path in files for found in imports_of(path, modules)]


def _temporary(found: Import) -> tuple[str, str] | None:
    for importer, imported in TEMPORARY:
        if (found.importer == importer or found.importer.startswith(importer + ".")) and (
            found.imported == imported or found.imported.startswith(imported + ".")
        ):
            return importer, imported
    return None


def layer_breaks(imports: Iterable[Import]) -> list[str]:
    """Imports that go up a layer, or join two domains in an undeclared direction."""
    broken = []
    for found in imports:
        if _temporary(found):
            continue
        source, target = unit_of(found.importer), unit_of(found.imported)
        if source is None or target is None or source == target:
            if target is None and found.imported.split(".")[0] == "tests":
                broken.append(f"{found}: project code must not import the tests")
            continue
        up = LAYERS[target] > LAYERS[source]
        sideways = LAYERS[source] == LAYERS[target] == DOMAIN
        if up:
            broken.append(
                f"{found}: a {LAYER_NAMES[LAYERS[source]]} module imports the "
                f"{LAYER_NAMES[LAYERS[target]]} layer ({target})"
            )
        elif sideways and (source, target) not in DOMAIN_USES:
            broken.append(f"{found}: undeclared use of domain {target} by domain {source}")
        elif LAYERS[source] == FLOOR and LAYERS[target] == FLOOR and source != target:
            broken.append(f"{found}: the floor is one package")
    return broken


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def module_graph(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for found in imports:
        if unit_of(found.imported) is not None:
            graph.setdefault(found.importer, set()).add(found.imported)
    return graph


def unit_graph(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for found in imports:
        source, target = unit_of(found.importer), unit_of(found.imported)
        if source and target and source != target and not _temporary(found):
            graph.setdefault(source, set()).add(target)
    return graph


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return all_imports()


@functools.cache
def all_sql_names() -> dict[Path, list[tuple[int, str, str]]]:
    return {path: sql_names(path) for path in project_files()}


def test_every_project_package_has_a_layer() -> None:
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "node_modules"}
    }
    assert packages <= {name.split(".")[0] for name in LAYERS}, "add the package to LAYERS"


def test_no_import_goes_up_a_layer_or_joins_domains_undeclared(imports: list[Import]) -> None:
    broken = layer_breaks(imports)
    assert not broken, "\n".join(broken)


def test_no_import_cycle_between_modules(imports: list[Import]) -> None:
    found = cycles(module_graph(imports))
    assert not found, "\n".join(" <-> ".join(cycle) for cycle in found)


def test_no_import_cycle_between_packages(imports: list[Import]) -> None:
    found = cycles(unit_graph(imports))
    assert not found, "\n".join(" <-> ".join(cycle) for cycle in found)


def test_the_declared_domain_uses_go_one_way() -> None:
    declared = {source: {target} for source, target in DOMAIN_USES}
    for source, target in DOMAIN_USES:
        declared.setdefault(source, set()).add(target)
        assert LAYERS[source] == LAYERS[target] == DOMAIN
    assert cycles(declared) == []


def test_every_declared_domain_use_is_still_needed(imports: list[Import]) -> None:
    used = {(unit_of(found.importer), unit_of(found.imported)) for found in imports}
    assert set(DOMAIN_USES) - used == set(), "delete the declaration nobody needs"


def test_temporary_exceptions_are_deleted_once_unused(imports: list[Import]) -> None:
    used = {_temporary(found) for found in imports}
    stale = {pair: why for pair, why in TEMPORARY.items() if pair not in used}
    assert stale == {}, "the import is gone: delete its TEMPORARY entry"


def _owned_by(module: str, owner: str) -> bool:
    return module == owner or module.startswith(owner + ".")


def sql_names(path: Path) -> list[tuple[int, str, str]]:
    """``(line, verb, table)`` for every table named in the module's string literals
    (f-strings included; a name given through a constant is not seen here)."""
    found = []
    for node in ast.walk(ast.parse(_source(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in _SQL_NAME.finditer(node.value):
                found.append((node.lineno, match.group(1).split()[0], match.group(2)))
    return found


def foreign(module: str, verb: str, table: str) -> bool:
    """Whether ``module`` naming ``table`` after ``verb`` breaks the table's ownership."""
    owner = OWNERS.get(table)
    if owner is None or _owned_by(module, owner):
        return False
    if any(_owned_by(module, other) for other in SHARED_OWNERS.get(table, ())):
        return False
    return not (verb in _READS and (module, table) in FOREIGN_READS)


def foreign_tables(files: Iterable[Path]) -> list[str]:
    """SQL that names a table its module's unit does not own, undeclared."""
    return [
        f"{path.relative_to(ROOT)}:{line}: {module_name(path)} {verb} {table}, "
        f"which {OWNERS[table]} owns"
        for path in files
        for line, verb, table in all_sql_names()[path]
        if foreign(module_name(path), verb, table)
    ]


def test_each_table_is_named_in_sql_only_by_its_owner() -> None:
    broken = foreign_tables(project_files())
    assert not broken, "\n".join(broken)


def test_every_declared_foreign_read_is_still_needed() -> None:
    seen = {
        (module_name(path), table)
        for path, names in all_sql_names().items()
        for _, verb, table in names
        if verb in _READS
    }
    assert set(FOREIGN_READS) - seen == set(), "delete the declaration nobody needs"


# ---- the walk itself, on made-up imports --------------------------------------------------


def fake(importer: str, imported: str) -> Import:
    return Import(importer, imported, ROOT / "x.py", 1)


def test_the_walk_catches_an_upward_import_and_an_undeclared_domain_use() -> None:
    assert layer_breaks([fake("sportello.db", "desk.tickets")])
    assert layer_breaks([fake("desk.tickets", "desk.console.app")])
    assert layer_breaks([fake("knowledge.store", "desk.tickets")])
    assert layer_breaks([fake("customerlog.turns", "tests.servers")])
    assert not layer_breaks([fake("desk.history", "customerlog.schema")])
    assert not layer_breaks([fake("cli.main", "desk.tickets")])


def test_the_walk_catches_cycles_of_modules_and_of_packages() -> None:
    assert cycles(module_graph([fake("desk.a", "desk.b"), fake("desk.b", "desk.a")]))
    assert cycles(unit_graph([fake("cli.main", "stack.x"), fake("stack.x", "cli.main")]))
    assert not cycles(module_graph([fake("desk.a", "desk.b"), fake("desk.b", "desk.c")]))


def test_the_walk_sees_imports_inside_functions_and_relative_ones() -> None:
    modules = {"desk", "desk.tickets", "desk.sla", "desk.delivery"}
    source = (
        "def f():\n    from desk import tickets\n\nfrom . import sla\nfrom .delivery import x\n"
        "if TYPE_CHECKING:\n    from desk import users\n"
    )
    found = imports_in(source, "desk.monitor", ROOT / "desk" / "monitor.py", modules)
    assert [(i.imported, i.line) for i in found] == [
        ("desk.sla", 4),
        ("desk.delivery", 5),
        ("desk.tickets", 2),
    ]


def test_the_sql_scan_catches_a_foreign_table() -> None:
    assert [m.groups() for m in _SQL_NAME.finditer("DELETE FROM tickets WHERE id = ?")] == [
        ("FROM", "tickets")
    ]
    assert foreign("privacy.customers", "FROM", "ticket_messages")
    assert foreign("customerlog.retention", "UPDATE", "tickets")
    assert foreign("customerlog.turns", "UPDATE", "tickets")  # declared as a read only
    assert foreign("customerlog.turns", "FROM", "events")
    assert not foreign("customerlog.turns", "FROM", "tickets")
    assert not foreign("desk.console.app", "FROM", "tickets")
    assert not foreign("bot.tracker_store", "INTO", "events")
