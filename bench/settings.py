"""Benchmark settings: the production settings, with static files collected into a temp dir.

With ``DJANGO_DEBUG=0`` the manifest static storage needs ``collectstatic``; its output goes
to ``BENCH_STATIC_ROOT`` (a temporary directory) rather than the work tree. Nothing else
differs from ``mcpdemo.settings``.
"""

from __future__ import annotations

import os
from pathlib import Path

from mcpdemo.settings import *  # noqa: F403

STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
