"""The production settings plus one bench-only URL (the minimal view that serves as the ceiling),
and, for the event scenario (``BENCH_CPU_DIR`` set), a middleware that counts the CPU time of each
kind of request (bench/cpu.py)."""

import os

from registerft.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_CPU_DIR"):
    MIDDLEWARE = ["bench.cpu.RequestCpuMiddleware", *MIDDLEWARE]  # noqa: F405
