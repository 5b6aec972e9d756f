"""One fake issuer agent for the tests and the benchmark (``python -m bench``): ACA-Py's admin API
and the agent REST API, the wallets' part, webhooks and faults. No Django here: the benchmark
imports it outside the portal's process."""

from tests.fakes.agent import FakeAgent
from tests.fakes.faults import Fault
from tests.fakes.ledger import Flow

__all__ = ["FakeAgent", "Fault", "Flow"]
