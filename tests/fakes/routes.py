"""The healthy agent's answers: ACA-Py's admin API and the agent REST API, side by side.

Each route has a name (the benchmark's count of calls, e.g. ``acapy.send``) and the portal's
operation it serves (where a fault test breaks it, e.g. ``offer_credential``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from tests.fakes.shapes import ODD_STATE, b64, connection_record, exchange_record, invitation_message

if TYPE_CHECKING:
    from tests.fakes.agent import FakeAgent


@dataclass(frozen=True)
class Call:
    parts: tuple[str, ...]
    query: dict[str, str]
    body: dict[str, Any]
    odd_state: bool = False  # the UNKNOWN_STATE fault: states nobody knows


Answer = tuple[int, Any]
Handler = Callable[["FakeAgent", Call], Answer]


class Route(NamedTuple):
    name: str
    operation: str
    handler: Handler


# --- ACA-Py's admin API -------------------------------------------------------------------------


def acapy_create_invitation(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.new_flow()
    agent.ledger.record("acapy.create_invitation", flow)
    message = invitation_message(flow, str(call.body.get("my_label", "issuer")))
    return 200, {
        "oob_id": str(uuid.uuid4()),
        "invi_msg_id": flow.key,
        "invitation": message,
        "invitation_url": f"{agent.base_url}/invitation?oob={b64(message)}",
        "state": "initial",
        "trace": False,
    }


def acapy_connections(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(key=call.query.get("invitation_msg_id", ""))
    agent.ledger.record("acapy.connections", flow)
    # ACA-Py lists the connection only once the wallet has answered the invitation; an agent in
    # an odd state shows it in that state.
    if flow is None or not (flow.fetched or call.odd_state):
        return 200, {"results": []}
    return 200, {"results": [connection_record(flow, state=ODD_STATE if call.odd_state else None)]}


def acapy_connection(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(connection_id=call.parts[1])
    agent.ledger.record("acapy.connection", flow)
    if flow is None or not (flow.fetched or call.odd_state):
        return 404, {"message": "Record not found"}
    return 200, connection_record(flow, state=ODD_STATE if call.odd_state else None)


def acapy_did_create(agent: FakeAgent, call: Call) -> Answer:
    agent.ledger.record("acapy.did_create", None)
    return 200, {"result": {"did": "did:key:z6MkfakeIssuer", "verkey": "fake", "method": "key",
                            "key_type": "ed25519", "posture": "wallet_only"}}


def acapy_send(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(connection_id=str(call.body.get("connection_id", "")))
    agent.ledger.record("acapy.send", flow)
    if flow is None or not flow.connected:
        return 400, {"message": "Connection not ready"}
    if not isinstance(call.body.get("filter"), dict):
        return 422, {"message": "filter is required"}
    agent.ledger.new_exchange(flow)
    agent.wallets.offer_sent(flow)
    return 200, exchange_record(flow)


def acapy_record(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(cred_ex_id=call.parts[2])
    agent.ledger.record("acapy.record", flow)
    if flow is None:
        return 404, {"message": "Record not found"}
    return 200, {"cred_ex_record": exchange_record(flow, state=ODD_STATE if call.odd_state else None)}


def acapy_records(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(connection_id=call.query.get("connection_id", ""))
    agent.ledger.record("acapy.records", flow)
    records = [{"cred_ex_record": exchange_record(flow)}] if flow and flow.cred_ex_id else []
    return 200, {"results": records}


def acapy_delete_record(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(cred_ex_id=call.parts[2])
    agent.ledger.record("acapy.delete_record", flow)
    if not agent.ledger.forget_exchange(call.parts[2]):
        return 404, {"message": "Record not found"}
    return 200, {}


def acapy_status(agent: FakeAgent, call: Call) -> Answer:
    agent.ledger.record("acapy.status", None)
    if call.parts[-1] == "ready":
        return 200, {"ready": True}
    if call.parts[-1] == "live":
        return 200, {"alive": True}
    return 200, {"version": "1.7.0-fake", "label": "fake issuer"}


# --- The agent REST API -------------------------------------------------------------------------


def rest_invitation(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.new_flow()
    agent.ledger.record("rest.create_invitation", flow)
    message = invitation_message(flow, "issuer")
    return 200, {"connectionId": flow.connection_id,
                 "invitationUrl": f"{agent.base_url}/invitation?c_i={b64(message)}"}


def rest_connection(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(connection_id=call.parts[1])
    agent.ledger.record("rest.connection", flow)
    if flow is None:
        return 404, {"message": "Unknown connection"}
    if call.odd_state:
        return 200, ODD_STATE
    return 200, "established" if flow.connected else "invited"


def rest_process(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(connection_id=str(call.body.get("connectionId", "")))
    agent.ledger.record("rest.process", flow)
    if flow is None or not flow.connected:
        return 400, {"message": "Connection not established"}
    if not isinstance(call.body.get("attributes"), dict):
        return 400, {"message": "attributes are required"}
    agent.ledger.new_exchange(flow)
    agent.wallets.offer_sent(flow)
    return 200, {"processId": flow.cred_ex_id}


def rest_process_state(agent: FakeAgent, call: Call) -> Answer:
    flow = agent.ledger.find(cred_ex_id=call.parts[2])
    agent.ledger.record("rest.process_state", flow)
    if flow is None:
        return 404, {"message": "Unknown process"}
    if call.odd_state:
        return 200, ODD_STATE.upper()
    return 200, "DONE" if flow.credential_done else "IN_PROGRESS"


def route(method: str, parts: tuple[str, ...]) -> Route | None:
    """The route a request belongs to; None for a path neither API has."""
    match method, parts:
        case "POST", ("out-of-band", "create-invitation"):
            return Route("acapy.create_invitation", "create_invitation", acapy_create_invitation)
        case "GET", ("connections",):
            return Route("acapy.connections", "connection_status", acapy_connections)
        case "GET", ("connections", _):
            return Route("acapy.connection", "connection_status", acapy_connection)
        case "POST", ("wallet", "did", "create"):
            return Route("acapy.did_create", "create_did", acapy_did_create)
        case "POST", ("issue-credential-2.0", "send" | "send-offer"):
            return Route("acapy.send", "offer_credential", acapy_send)
        case "GET", ("issue-credential-2.0", "records"):
            return Route("acapy.records", "credential_status", acapy_records)
        case "GET", ("issue-credential-2.0", "records", _):
            return Route("acapy.record", "credential_status", acapy_record)
        case "DELETE", ("issue-credential-2.0", "records", _):
            return Route("acapy.delete_record", "forget_credential", acapy_delete_record)
        case "GET", ("status",) | ("status", "ready" | "live"):
            return Route("acapy.status", "health", acapy_status)
        case "POST", ("connection", "invitation"):
            return Route("rest.create_invitation", "create_invitation", rest_invitation)
        case "GET", ("connection", _):
            return Route("rest.connection", "connection_status", rest_connection)
        case "POST", ("issue", "process"):
            return Route("rest.process", "offer_credential", rest_process)
        case "GET", ("issue", "process", _, "state"):
            return Route("rest.process_state", "credential_status", rest_process_state)
    return None
