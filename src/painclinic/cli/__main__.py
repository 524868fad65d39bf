"""`python -m painclinic.cli ...`, the same as the `painclinic` command."""

from painclinic.cli import main

main()
