"""Housekeeping for a server with open registration. Run it daily from cron:

    17 3 * * *  cd /srv/mcpdemo && .venv/bin/python manage.py cleanup_oauth

It removes dynamically registered clients that never obtained a token within
``--unused-days`` days, then runs DOT's ``cleartokens`` (expired access tokens, grants,
registration tokens and revoked refresh tokens), and forgets expired consumed codes,
refresh answers and device sign-ins (``cleartokens`` leaves those), and removes tool
usage counts older than ``MCPDEMO_USAGE_RETENTION_DAYS``. Blocked clients and clients
created by an administrator are never removed automatically.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management import BaseCommand, call_command
from django.utils import timezone

from mcpapp import usage
from oauthapp.models import ConsumedCode, DeviceGrant, RefreshReplay
from oauthapp.registration import never_used_clients


def abandoned_clients(older_than: timedelta) -> Any:
    """Self-registered clients, unblocked, older than ``older_than``, that no user ever got a token for."""
    return never_used_clients().filter(blocked_at__isnull=True, created__lt=timezone.now() - older_than)


class Command(BaseCommand):
    help = "Remove abandoned self-registered clients, expired tokens, grants and replay records, and old tool usage."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--unused-days", type=int, default=1, help="age of a client with no token (default 1)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be removed")

    def handle(self, *args: Any, unused_days: int, dry_run: bool, **options: Any) -> None:
        clients = abandoned_clients(timedelta(days=unused_days))
        count = clients.count()
        if dry_run:
            self.stdout.write(f"would remove {count} abandoned client(s)")
            return
        clients.delete()
        call_command("cleartokens", verbosity=options["verbosity"])
        now = timezone.now()
        codes, _ = ConsumedCode.objects.filter(expires__lt=now).delete()
        replays, _ = RefreshReplay.objects.filter(expires__lt=now).delete()
        devices, _ = DeviceGrant.objects.filter(expires__lt=now).delete()
        usage_rows, _ = usage.expired(now).delete()
        self.stdout.write(
            f"removed {count} abandoned client(s), {codes} consumed-code record(s), {replays} refresh answer(s), "
            f"{devices} expired device sign-in(s), {usage_rows} hourly tool usage row(s)"
        )
