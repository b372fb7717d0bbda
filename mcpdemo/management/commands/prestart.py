"""What a node does before it serves: the deployment checks, the migrations, and an empty
metrics directory (``PROMETHEUS_MULTIPROC_DIR``, when set), in one process.

``scripts/run-production`` runs this instead of ``check --deploy`` and ``migrate`` one after
the other: each Python process that loads the project costs about a second of start-up.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from mcpdemo import metrics


class Command(BaseCommand):
    help = (
        "Run the deployment system checks (errors stop here), apply the migrations, and empty "
        "PROMETHEUS_MULTIPROC_DIR (the values of the workers that served before)."
    )
    requires_system_checks: list[str] = []  # the deployment checks below include them

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--no-migrate", action="store_true", help="only the checks")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("check", deploy=True)
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
        # Else the values of the workers of the previous run would be added to this run's.
        metrics.prepare_multiprocess_dir()
