"""The portal's WSGI application as production runs it (registerft/wsgi.py); for the event scenario
(``BENCH_CPU_DIR`` set) wrapped in the count of CPU time by kind of request (bench/cpu.py)."""

import os

from registerft.wsgi import application as portal

from bench.cpu import RequestCpu

application = RequestCpu(portal) if os.environ.get("BENCH_CPU_DIR") else portal
