"""The shapes of the fake agent's answers and webhooks, as ACA-Py and the agent REST API send them."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fakes.ledger import Flow

# The state an agent answers with under the UNKNOWN_STATE fault: one no backend knows.
ODD_STATE = "teleported"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def invitation_key(encoded: str) -> str | None:
    """The invitation id (``@id``) inside an ``oob=`` or ``c_i=`` parameter; None if there is none."""
    try:
        message = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        return str(message["@id"])
    except (ValueError, KeyError, TypeError):
        return None


def invitation_message(flow: Flow, label: str) -> dict[str, Any]:
    return {
        "@type": "https://didcomm.org/out-of-band/1.1/invitation",
        "@id": flow.key,
        "label": label,
        "handshake_protocols": ["https://didcomm.org/didexchange/1.1"],
        "services": [f"did:peer:2.fake{flow.key[:8]}"],
    }


def connection_record(flow: Flow, *, state: str | None = None) -> dict[str, Any]:
    state = state or ("active" if flow.connected else "invitation")
    return {
        "connection_id": flow.connection_id,
        "invitation_msg_id": flow.key,
        "state": state,
        "rfc23_state": "completed" if state == "active" else "invitation-sent",
        "their_label": "fake wallet",
        "connection_protocol": "didexchange/1.1",
        "their_role": "invitee",
    }


def exchange_record(flow: Flow, *, state: str | None = None) -> dict[str, Any]:
    return {
        "cred_ex_id": flow.cred_ex_id,
        "connection_id": flow.connection_id,
        "role": "issuer",
        "state": state or ("done" if flow.credential_done else "offer-sent"),
        "thread_id": flow.cred_ex_id,
    }
