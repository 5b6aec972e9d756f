"""The wallets' part, played by the fake agent, so that no phone is needed.

A wallet that fetched its invitation URL (as one that scanned the QR code would) connects a moment
later, and accepts each credential offer a moment after it was sent, unless it holds its offers (a
visitor left waiting on the loading page). A test may also play a wallet by hand: ``connect`` and
``accept`` act at once, and a wallet connected by hand holds its offers until ``accept``.

Each change is told by ``notify(topic, payload)`` (the agent's webhooks).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.fakes.ledger import Flow
from tests.fakes.shapes import connection_record, exchange_record

Notify = Callable[[str, dict[str, Any]], None]


class Wallets:
    def __init__(self, *, notify: Notify, connect_delay: float, accept_delay: float) -> None:
        self.notify = notify
        self.connect_delay = connect_delay
        self.accept_delay = accept_delay
        # The wallets' answers wait on one timer thread, then go out from a small pool, so that a
        # thousand visitors scanning at once do not need a thousand threads.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-wallet")
        self._due: list[tuple[float, int, Callable[[Flow], None], Flow]] = []
        self._changed = threading.Condition()
        self._started = self._stopped = False
        self._running = 0
        self._sequence = itertools.count()

    def start(self) -> None:
        with self._changed:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run_timers, name="fake-wallet-timers", daemon=True).start()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- What the agent tells the wallets -----------------------------------------------------

    def invitation_fetched(self, flow: Flow, *, hold_offers: bool) -> None:
        flow.hold_offers = flow.hold_offers or hold_offers
        if flow.fetched:
            return
        flow.fetched = True
        self._later(self.connect_delay, self.connect, flow)

    def offer_sent(self, flow: Flow) -> None:
        if not flow.hold_offers:
            self._later(self.accept_delay, self.accept, flow)

    # --- What a wallet does (by itself, later; or at once, when a test plays it) ---------------

    def connect(self, flow: Flow) -> None:
        flow.fetched = flow.connected = True
        self.notify("connections", connection_record(flow, state="active"))

    def accept(self, flow: Flow) -> None:
        flow.credential_done = True
        self.notify("issue_credential_v2_0", exchange_record(flow))

    # --- Timers -------------------------------------------------------------------------------

    def _later(self, delay: float, action: Callable[[Flow], None], flow: Flow) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._sequence), action, flow))
            self._changed.notify_all()

    def _run_timers(self) -> None:
        while True:
            with self._changed:
                while not self._stopped and (not self._due or self._due[0][0] > time.monotonic()):
                    self._changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                if self._stopped:
                    return
                _at, _sequence, action, flow = heapq.heappop(self._due)
                self._running += 1
            try:
                self._pool.submit(self._run_one, action, flow)
            except RuntimeError:  # the pool was shut down meanwhile
                return

    def _run_one(self, action: Callable[[Flow], None], flow: Flow) -> None:
        try:
            action(flow)
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every answer the wallets still owe (and its webhook) has gone out. False on
        timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._due or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))
        return True
