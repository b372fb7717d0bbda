"""Benchmark harness for mcpdemo (``bench/run``); not part of the test suite."""

from __future__ import annotations
