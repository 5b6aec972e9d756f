"""What the fake agent knows and what it was asked: one ``Flow`` per invitation, and every call.

Every call is counted by the portal's operation (for the fault tests), logged as (method, path)
(for tests that check which calls were made), and attributed to the registration (invitation) it
concerns, so that the benchmark can say how many calls one registration cost the issuer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Calls that ask for a state (rather than create something): the ones the portal must spare.
STATE_CHECKS = frozenset(
    {"acapy.connections", "acapy.connection", "acapy.record", "acapy.records", "rest.connection", "rest.process_state"}
)


@dataclass
class Flow:
    """One invitation at the agent, and everything that followed from it."""

    key: str  # the invitation's id (ACA-Py's invi_msg_id)
    created: float
    connection_id: str
    calls: list[tuple[float, str]] = field(default_factory=list)
    fetched: bool = False  # the wallet answered the invitation: ACA-Py lists the connection
    connected: bool = False
    hold_offers: bool = False  # the wallet answers offers only when a test says so
    cred_ex_id: str = ""
    credential_done: bool = False


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flows: dict[str, Flow] = {}
        self.by_connection: dict[str, Flow] = {}
        self.by_exchange: dict[str, Flow] = {}
        self.unattributed: list[tuple[float, str]] = []
        self.operations: Counter[str] = Counter()
        self.received: list[tuple[str, str]] = []
        self.webhooks_sent = 0
        self.webhooks_failed = 0

    def reset(self) -> None:
        with self.lock:
            self.flows.clear()
            self.by_connection.clear()
            self.by_exchange.clear()
            self.unattributed.clear()
            self.operations.clear()
            self.received.clear()
            self.webhooks_sent = self.webhooks_failed = 0

    # --- Recording ----------------------------------------------------------------------------

    def receive(self, method: str, path: str) -> None:
        with self.lock:
            self.received.append((method, path))

    def count(self, operation: str) -> None:
        with self.lock:
            self.operations[operation] += 1

    def record(self, name: str, flow: Flow | None) -> None:
        with self.lock:
            (flow.calls if flow else self.unattributed).append((time.monotonic(), name))

    def webhook_done(self, ok: bool) -> None:
        with self.lock:
            if ok:
                self.webhooks_sent += 1
            else:
                self.webhooks_failed += 1

    # --- Flows --------------------------------------------------------------------------------

    def new_flow(self) -> Flow:
        flow = Flow(key=uuid.uuid4().hex, created=time.monotonic(), connection_id=str(uuid.uuid4()))
        with self.lock:
            self.flows[flow.key] = flow
            self.by_connection[flow.connection_id] = flow
        return flow

    def find(self, *, key: str = "", connection_id: str = "", cred_ex_id: str = "") -> Flow | None:
        with self.lock:
            if key:
                return self.flows.get(key)
            if connection_id:
                return self.by_connection.get(connection_id)
            return self.by_exchange.get(cred_ex_id)

    def new_exchange(self, flow: Flow) -> None:
        """An offer went out on ``flow``: it has a (new) credential exchange."""
        flow.cred_ex_id = str(uuid.uuid4())
        with self.lock:
            self.by_exchange[flow.cred_ex_id] = flow

    def forget_exchange(self, cred_ex_id: str) -> bool:
        with self.lock:
            return self.by_exchange.pop(cred_ex_id, None) is not None

    def all_flows(self) -> list[Flow]:
        """Every flow, oldest first."""
        with self.lock:
            return list(self.flows.values())

    # --- Reading ------------------------------------------------------------------------------

    def summary(self, *, since: float = 0.0) -> dict[str, Any]:
        """Calls per completed registration, and the shortest gap between two state checks of one
        registration, over the registrations started since ``since`` (``time.monotonic()``)."""
        with self.lock:
            recent = [flow for flow in self.flows.values() if flow.created >= since]
            flows = [flow for flow in recent if flow.credential_done]
            shared = [name for at, name in self.unattributed if at >= since]
            per_flow = [len(flow.calls) for flow in flows]
            gaps = []
            for flow in recent:
                checks = sorted(at for at, name in flow.calls if name in STATE_CHECKS)
                gaps.extend(later - earlier for earlier, later in zip(checks, checks[1:]))
            operations = Counter(name for flow in flows for _at, name in flow.calls)
            operations.update(shared)
            sent, failed = self.webhooks_sent, self.webhooks_failed
        completed = len(flows)
        return {
            "completed": completed,
            # Calls not tied to one registration (an issuer DID, a status) are shared out.
            "calls_per_registration": (sum(per_flow) + len(shared)) / completed if completed else None,
            "max_calls_one_registration": max(per_flow, default=0),
            "unattributed_calls": len(shared),
            "min_check_gap_s": min(gaps) if gaps else None,
            "operations": dict(operations),
            "webhooks_sent": sent,  # since the start
            "webhooks_failed": failed,
        }
