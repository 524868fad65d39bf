"""The one `painclinic` command: the pure cores, clinic operations, and Django management.

One module per command group, each with ``register(app)``; ``_io`` holds what they share
(exit codes, one-line errors, strict JSON input, JSON output) and ``_django`` the Django set-up
of the operations commands. The order of ``GROUPS`` is the order of ``painclinic --help``.
"""

from __future__ import annotations

import typer

from painclinic.cli import (
    accounts,
    audit,
    clinical,
    demo,
    manage,
    pharmacology,
    serve,
    worker,
)

app = typer.Typer(
    help="painclinic: ketamine and lidocaine infusion programme for chronic pain.",
    no_args_is_help=True,
    add_completion=False,
)

GROUPS = (serve, worker, demo, accounts, audit, manage, pharmacology, clinical)

for _group in GROUPS:
    _group.register(app)


def main() -> None:
    app(prog_name="painclinic")


if __name__ == "__main__":
    main()
