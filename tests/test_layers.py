"""The architecture as a contract: which part of painclinic may import which.

An import-linter "layers" contract written as a test (no extra tool to install): every import
of a painclinic module, at module level or inside a function (a lazy import hides a cycle, it
does not remove it), must point down this list or stay within its own part. The few upward
edges that remain are declared below with the reason; any other one fails the build.

Presentation modules (views, URLs, template tags, middleware, context processors) sit on top of
the web apps: they may read any app's models and call any app's services, but nothing below
them imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import painclinic

SRC = Path(painclinic.__file__).parent

# Top to bottom. Parts on one line are independent of each other (neither imports the other).
LAYERS: list[tuple[str, ...]] = [
    ("painclinic.cli",),
    ("painclinic.web.demo",),
    # The language switch (English / Français): a public view over Django's set_language.
    ("painclinic.web.i18n",),
    # The public patient pages read the fee schedule in effect (treatments) for their prices.
    ("painclinic.web.public",),
    # Outcomes read the follow-up answers, the plans and the infusions given. Billing reads
    # the signed sessions, bookings and plans it invoices; neither knows the other.
    ("painclinic.web.outcomes", "painclinic.web.billing"),
    # Follow-up reads what the infusion day left behind (series, bookings, adverse events).
    ("painclinic.web.followup",),
    # The clinicians' worklist: follow-up raises its tasks; it knows nothing of follow-up.
    ("painclinic.web.worklist",),
    ("painclinic.web.infusions",),
    # Online referrals register the patients they accept through the registry's services.
    ("painclinic.web.drugregister", "painclinic.web.scheduling", "painclinic.web.referrals"),
    ("painclinic.web.treatments",),
    ("painclinic.web.assessments",),
    ("painclinic.web.patients",),
    ("painclinic.web.accounts",),
    # The service contract audits refusals, so it sits above the audit trail it writes to.
    ("painclinic.web.lib.service",),
    ("painclinic.web.audit",),
    ("painclinic.web.lib", "painclinic.web.formats"),
    ("painclinic.clinical",),
    ("painclinic.pharmacology",),
]

PROJECT = (
    "painclinic.web.settings",
    "painclinic.web.urls",
    "painclinic.web.wsgi",
    "painclinic.web.gunicorn_conf",
    "painclinic.web.errors",
)
PRESENTATION_FILES = {
    "views.py",
    "portal_views.py",
    "urls.py",
    "portal_urls.py",
    "middleware.py",
    "context.py",
    "signals.py",  # log-in and log-out receivers: they stamp the web session
}

# Upward edges that stay, each with its reason: (importer prefix, imported prefix) -> why.
DECLARED: dict[tuple[str, str], str] = {
    (
        "painclinic.web.drugregister.services",
        "painclinic.web.infusions.models",
    ): "A ketamine draw and its waste are recorded against the infusion session they serve; "
    "the register's services read that session by id inside the infusion service's own "
    "transaction (infusions call the register, the register never calls infusions).",
    (
        "painclinic.web.scheduling.board",
        "painclinic.web.infusions.models",
    ): "The chair board (a read model for one page) shows each booking's infusion status and "
    "links to its chart; no scheduling rule depends on infusions.",
}


def module_name(path: Path) -> str:
    return ".".join(path.with_suffix("").relative_to(SRC.parent).parts).removesuffix(".__init__")


def part_of(module: str) -> str | None:
    best = None
    for row in LAYERS:
        for part in row:
            if (module == part or module.startswith(part + ".")) and (
                best is None or len(part) > len(best)
            ):
                best = part
    return best


def layer_of(part: str) -> int:
    return next(i for i, row in enumerate(LAYERS) if part in row)


def is_presentation(path: Path) -> bool:
    # An app's AppConfig wires its signal receivers, so it may import them.
    return path.name in PRESENTATION_FILES or path.name == "apps.py" or "templatetags" in path.parts


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    package = module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            # "from painclinic.web import x" imports the module x.
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("painclinic")]


def edge_problem(importer: str, imported: str, presentation: bool) -> str | None:
    """What is wrong with ``importer`` importing ``imported`` (None when it is allowed)."""
    source, target = part_of(importer), part_of(imported)
    is_page = imported.startswith("painclinic.web.") and (
        imported.rsplit(".", 1)[-1] + ".py" in PRESENTATION_FILES
    )
    if is_page and not presentation:
        return f"{importer} imports the presentation module {imported}"
    if source is None or target is None or target == source:
        return None
    if any(importer.startswith(a) and imported.startswith(b) for a, b in DECLARED):
        return None
    if presentation and target.startswith("painclinic.web.") and target != "painclinic.web.demo":
        return None  # pages may use any app below the demo and the command line
    if layer_of(target) <= layer_of(source):
        return f"{importer} -> {imported} (up or sideways)"
    return None


def violations() -> list[str]:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        importer = module_name(path)
        if "migrations" in path.parts or importer.startswith(PROJECT):
            continue
        for imported in imports_of(path):
            problem = edge_problem(importer, imported, is_presentation(path))
            if problem:
                problems.append(problem)
    return problems


def test_the_contract_catches_what_it_forbids():
    """The judge itself: known-bad edges are refused, known-good ones pass."""
    web = "painclinic.web."
    assert edge_problem(web + "patients.services", web + "infusions.models", False)
    assert edge_problem(web + "scheduling.services", web + "drugregister.models", False)
    assert edge_problem(web + "audit.chain", web + "lib.service", False)
    assert edge_problem("painclinic.pharmacology.models", "painclinic.clinical", False)
    assert edge_problem(web + "infusions.services", web + "infusions.views", False)
    assert edge_problem(web + "treatments.services", web + "patients.views", False)
    assert edge_problem(web + "infusions.services", web + "drugregister.services", False) is None
    assert edge_problem(web + "drugregister.views", web + "infusions.models", True) is None
    assert edge_problem(web + "drugregister.services", web + "infusions.models", False) is None
    assert edge_problem(web + "drugregister.services", web + "infusions.services", False)


def test_every_import_points_down_the_layers_or_is_declared():
    assert not violations(), "\n".join(violations())


def test_the_declared_exceptions_are_still_needed():
    """An exception nobody uses any more is removed from the list, not kept as a permit."""
    used = set()
    for path in SRC.rglob("*.py"):
        importer = module_name(path)
        for imported in imports_of(path):
            for a, b in DECLARED:
                if importer.startswith(a) and imported.startswith(b):
                    used.add((a, b))
    assert used == set(DECLARED)


def test_every_part_of_the_package_is_placed_in_a_layer():
    unplaced = {
        module_name(path)
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts
        and part_of(module_name(path)) is None
        and not module_name(path).startswith(PROJECT)
    }
    assert unplaced <= {"painclinic", "painclinic.web", "painclinic.web.settings_test"}, unplaced


def test_the_cores_import_nothing_above_them():
    for path in (SRC / "pharmacology").rglob("*.py"):
        assert not [m for m in imports_of(path) if not m.startswith("painclinic.pharmacology")]
    for path in (SRC / "clinical").rglob("*.py"):
        outside = [
            m
            for m in imports_of(path)
            if not m.startswith(("painclinic.clinical", "painclinic.pharmacology"))
        ]
        assert not outside, (path, outside)
