"""The door's speed in `make bench`: the time from the wallet's answer to the door's result.

The portal runs under gunicorn with production settings and the ACA-Py backend, pointed at a
stand-in verifier on loopback that speaks the three calls of the door (create-request, the
out-of-band invitation, the record). A member of staff's browser opens the door and polls its
status as the page does, every ``REGISTERFT_DOOR_POLL_INTERVAL_MS``; the stand-in's wallet
answers at a moment of its own. The figure includes the wait for the page's next poll, as staff
see it; the portal's own part (one record read and the check-in written) is the rest.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ISSUER_DID = "did:key:z6MkbenchDoorIssuer"
ANSWERS = 10
POLL_MS = 500
PASSWORD = "a long bench door password"


class StandInVerifier:
    """ACA-Py's present-proof 2.0 admin calls, as the door uses them; ``answer()`` is the wallet."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.presentations: dict[str, dict] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        verifier = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body are two writes (tests/fakes/agent.py)

            def log_message(self, *args) -> None:  # quiet
                pass

            def reply(self, data: dict, status: int = 200) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/present-proof-2.0/create-request":
                    pres_ex_id = str(uuid.uuid4())
                    verifier.records[pres_ex_id] = {"pres_ex_id": pres_ex_id, "state": "request-sent",
                                                    "thread_id": str(uuid.uuid4())}
                    self.reply(verifier.records[pres_ex_id])
                elif self.path == "/out-of-band/create-invitation":
                    self.reply({"invitation_url": f"{verifier.base_url}?oob=e30", "invi_msg_id": "bench"})
                else:
                    self.reply({}, 404)

            def do_GET(self) -> None:  # noqa: N802
                pres_ex_id = self.path.rsplit("/", 1)[-1]
                record = verifier.records.get(pres_ex_id)
                self.reply(record, 200) if record else self.reply({}, 404)

        return Handler

    def answer(self, pres_ex_id: str, registration: str) -> None:
        credential = {
            "id": f"urn:uuid:{registration}", "type": ["VerifiableCredential", "RegisterftCredential"],
            "issuer": ISSUER_DID, "credentialSubject": {"first_name": "Bench"},
        }
        self.records[pres_ex_id] = {
            **self.records[pres_ex_id], "state": "done", "verified": "true",
            "by_format": {"pres": {"dif": {"verifiableCredential": [credential], "proof": {}}}},
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SETUP = """
import json
from django.contrib.auth.models import Permission, User
from onboarding.models import Registration
user = User.objects.create_user("bench-door", password={password!r})
user.user_permissions.add(Permission.objects.get(codename="check_in"))
print(json.dumps([str(Registration.objects.create(backend="acapy", invitation_id=str(n), invitation_url="/x",
      state="issued", attributes={{"first_name": "Bench"}}).pk) for n in range({count})]))
"""


def _measure(portal, verifier: StandInVerifier, flow) -> list[float]:
    from bench.__main__ import PYTHON, ROOT

    made = subprocess.run([PYTHON, "manage.py", "shell", "-c", SETUP.format(password=PASSWORD, count=ANSWERS)],
                          cwd=ROOT, env=portal.env, check=True, capture_output=True, text=True)
    registrations = json.loads(made.stdout.strip().splitlines()[-1])
    staff = flow.Visitor(portal.base_url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', staff.send("GET", "/door/login/").text).group(1)
    staff.send("POST", "/door/login/", data={"username": "bench-door", "password": PASSWORD,
                                              "csrfmiddlewaretoken": token})
    seconds = []
    for number, registration in enumerate(registrations):
        request_path = staff.send("GET", "/door/").headers["Location"]
        pres_ex_id = next(reversed(verifier.records))
        loaded = time.monotonic()
        # The page polls at its own cadence from the moment it loaded; the wallet answers at any
        # moment of that cycle (spread over it), after the first poll.
        answer_at = loaded + POLL_MS / 1000 * (1.1 + (number % 5) / 5)
        answered: list[float] = []
        timer = threading.Timer(answer_at - loaded, lambda r=registration, p=pres_ex_id: (
            verifier.answer(p, r), answered.append(time.monotonic())))
        timer.start()
        poll = 0
        while True:
            poll += 1
            time.sleep(max(0.0, loaded + poll * POLL_MS / 1000 - time.monotonic()))
            if staff.send("GET", request_path + "status").json()["next"]:
                break
        timer.join()
        seconds.append(time.monotonic() - answered[0])
    return seconds


def report() -> str:
    """One line for the benchmark's report."""
    from bench import visitors as flow
    from bench.__main__ import Portal, log, standin_env

    log(f"the door: {ANSWERS} wallet answers to the door's result")
    verifier = StandInVerifier()
    with tempfile.TemporaryDirectory(prefix="registerft-bench-door-") as tmp:
        portal = Portal(workdir=Path(tmp), issuer_env=standin_env("acapy", verifier))
        portal.env.update({"ACAPY_ISSUER_DID": ISSUER_DID, "REGISTERFT_DOOR_POLL_INTERVAL_MS": str(POLL_MS)})
        try:
            portal.prepare()
            portal.start()
            seconds = _measure(portal, verifier, flow)
        finally:
            portal.stop()
            verifier.stop()
    return (f"door: the wallet's answer to the door's result, {len(seconds)} answers, page polling every "
            f"{POLL_MS} ms: median {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms")


if __name__ == "__main__":
    print(report())
