"""``manage.py runserver`` that serves the whole ASGI application (``/mcp`` included).

Django 5.2's runserver is WSGI-only, and ``/mcp`` needs ASGI with a lifespan. This
keeps runserver's arguments (``[addr:]port``, ``--noreload``, ``-6``) and runs
uvicorn on ``mcpdemo.asgi:application``, reloading on code changes.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.commands.runserver import Command as DjangoRunserver


class Command(DjangoRunserver):
    help = "Starts the ASGI development server (uvicorn) with auto-reload."
    # Set by Django's runserver.handle() from the addrport argument (absent from django-stubs).
    addr: str
    port: str

    def run(self, **options: Any) -> None:
        if not options["skip_checks"]:
            self.check(display_num_errors=True)
        self.check_migrations()
        host = self.addr.strip("[]")  # Django keeps an IPv6 address without brackets, or with them given raw
        display = f"[{host}]" if ":" in host else host
        self.stdout.write(
            f"Django {self.get_version()} (ASGI, uvicorn), settings {settings.SETTINGS_MODULE}\n"
            f"Serving http://{display}:{self.port}/   MCP endpoint: http://{display}:{self.port}/mcp\n"
            "Quit with CONTROL-C."
        )
        uvicorn.run(
            "mcpdemo.asgi:application",
            host=host,
            port=int(self.port),
            reload=options["use_reloader"],
            reload_dirs=[str(settings.BASE_DIR)],
            reload_includes=["*.py", "*.html", "*.css"],
            reload_excludes=[".venv/*", "*/.venv/*"],
            lifespan="on",
            log_level=settings.LOG_LEVEL.lower(),
        )
