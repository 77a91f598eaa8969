"""``python -m doc_service`` runs the command line."""

from doc_service.cli import main

main()
