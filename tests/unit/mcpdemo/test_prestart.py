from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db
def test_prestart_runs_the_checks_and_leaves_nothing_to_migrate(settings: Any) -> None:
    settings.MCPDEMO_CIMD_ALLOWED_HOSTS = ["claude.ai"]

    call_command("prestart", verbosity=0)

    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


def test_a_failing_check_stops_prestart_before_the_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    migrated: list[str] = []

    def always_wrong(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
        return [checks.Error("broken on purpose", id="tests.E001")]

    checks.register(always_wrong, deploy=True)
    monkeypatch.setattr("django.core.management.commands.migrate.Command.handle", lambda *a, **k: migrated.append("x"))
    try:
        with pytest.raises(SystemCheckError, match="broken on purpose"):
            call_command("prestart", verbosity=0)
    finally:
        checks.registry.registry.registered_checks.discard(always_wrong)
        checks.registry.registry.deployment_checks.discard(always_wrong)

    assert migrated == []
