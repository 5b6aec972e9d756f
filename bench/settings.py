"""The production settings plus one bench-only URL (the minimal view that serves as the ceiling)."""

from registerft.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
