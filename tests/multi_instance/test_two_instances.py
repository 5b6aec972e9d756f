"""A visitor's flow across two portal instances that share PostgreSQL and Redis.

The visitor's browser is one requests.Session whose cookies go to both instances (same host name,
different ports: cookies do not care about ports), as behind a load balancer that sends each request
to either. The demo wallet (the phone) is another session that also uses either instance. Two more
instances with the ACA-Py backend (pointed at a fake agent) show that a webhook taken by one
instance moves the visitor on the other.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator

import pytest
import requests

from tests.multi_instance import services
from tests.multi_instance.conftest import Cluster
from tests.multi_instance.services import Instance

pytestmark = pytest.mark.timeout(600)  # the first run may install PostgreSQL and Redis

TIMEOUT = 10


class Browser:
    """One person's cookie jar, sending each request to the instance it is given."""

    def __init__(self, cluster: Cluster) -> None:
        self.session = requests.Session()
        # Per request, not on the session: REQUESTS_CA_BUNDLE would override the session's.
        self.verify = str(cluster.cert)

    def get(self, instance: Instance, path: str, **kwargs) -> requests.Response:
        return self.session.get(
            instance.url + path, verify=self.verify, timeout=TIMEOUT, allow_redirects=False, **kwargs
        )

    def post(self, instance: Instance, path: str, data: dict[str, str], *, token_from: str) -> requests.Response:
        """A form post with the CSRF token of the page it came from. The Origin is the instance
        posted to, as a browser behind one load balancer would send its one origin."""
        return self.session.post(
            instance.url + path, data={**data, "csrfmiddlewaretoken": csrf_token(token_from)},
            headers={"Origin": instance.url}, verify=self.verify, timeout=TIMEOUT, allow_redirects=False,
        )


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def path_of(url: str) -> str:
    return re.sub(r"^https://127\.0\.0\.1:\d+", "", url)


def alternating(cluster: Cluster) -> Iterator[Instance]:
    return itertools.cycle(cluster.instances)


def test_both_instances_are_ready_on_the_shared_database_and_cache(cluster):
    for instance in cluster.instances:
        body = requests.get(f"{instance.url}/readyz", verify=str(cluster.cert), timeout=TIMEOUT).json()
        assert (body["database"], body["cache"]) == ("ok", "ok")


def test_a_visitor_completes_the_flow_with_requests_alternating_between_instances(cluster):
    visitor, wallet = Browser(cluster), Browser(cluster)
    turn = alternating(cluster)  # the visitor's next instance
    a, b = cluster.instances

    start = visitor.get(next(turn), "/")
    assert start.status_code == 200 and "<svg" in start.text
    short_link = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', start.text).group(1)

    # The phone opens the QR's link on the other instance, and accepts the connection on the first.
    redirect = wallet.get(b, path_of(short_link))
    assert redirect.status_code == 302
    wallet_path = path_of(redirect.headers["Location"])
    page = wallet.get(a, wallet_path)
    assert wallet.post(b, wallet_path, {"action": "connect"}, token_from=page.text).status_code == 302

    status = visitor.get(next(turn), "/check_connection/status").json()
    assert (status["state"], status["next"]) == ("moved", "/name")

    form = visitor.get(next(turn), "/name")
    assert form.status_code == 200
    # A name of its own: the other tests' registrations share the database.
    details = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Demo flow " + secrets.token_hex(4)}
    sent = visitor.post(next(turn), "/name", details, token_from=form.text)
    assert (sent.status_code, sent.headers.get("Location")) == (302, "/loading/")
    # The committed step gave the visitor a new session key; the other instance must know it.
    assert visitor.get(next(turn), "/loading/status").json()["state"] == "waiting"

    offer = wallet.get(b, wallet_path)
    assert "Lovelace" in offer.text
    credential = re.search(r'name="credential" value="([^"]+)"', offer.text).group(1)
    accepted = wallet.post(a, wallet_path, {"action": "accept", "credential": credential}, token_from=offer.text)
    assert accepted.status_code == 302

    assert visitor.get(next(turn), "/loading/status").json()["next"] == "/success"
    for _ in cluster.instances:  # the thank-you page, and its reload on the other instance
        assert visitor.get(next(turn), "/success").status_code == 200

    with cluster.postgres.connect() as connection:
        state, attributes = connection.execute(
            "SELECT state, attributes FROM onboarding_registration WHERE attributes->>'institution' = %s",
            [details["institution"]],
        ).fetchone()
        sessions_in_database = connection.execute("SELECT count(*) FROM django_session").fetchone()[0]
    assert state == "issued"
    assert attributes == details
    # cached_db sessions: in Redis for speed and in PostgreSQL to outlive a Redis restart. The QR
    # code drawn by one instance is in Redis for the other.
    assert sessions_in_database >= 1
    keys = [key.decode() for key in cluster.redis.client().keys("registerft:*")]
    assert any("django.contrib.sessions.cached_db" in key for key in keys)
    assert any(":qr:" in key for key in keys)


def test_a_rate_limit_counted_on_one_instance_holds_on_the_other(cluster):
    """REGISTERFT_RATE_INVITATIONS_PER_SESSION is 2/10m here: two invitations through instance A,
    then instance B refuses the third, though it never served this visitor before."""
    visitor = Browser(cluster)
    a, b = cluster.instances
    for _ in range(2):
        start = visitor.get(a, "/")
        assert start.status_code == 200
        assert visitor.post(a, "/restart/", {}, token_from=start.text).status_code == 302
    refused = visitor.get(b, "/")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_a_session_started_on_one_instance_is_the_same_on_the_other(cluster):
    visitor = Browser(cluster)
    a, b = cluster.instances
    first = visitor.get(a, "/")
    short_link = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', first.text).group(1)
    # A reload on the other instance shows the same invitation rather than creating a new one.
    again = visitor.get(b, "/")
    assert re.search(r'id="invitation-url"[^>]*value="([^"]+)"', again.text).group(1).endswith(
        path_of(short_link)
    )


def test_without_the_programs_and_no_way_to_install_them_it_names_the_install_command(monkeypatch):
    monkeypatch.setattr(services, "find_programs", lambda: None)
    monkeypatch.setattr(services, "can_install", lambda: False)
    with pytest.raises(services.ServiceSetupError, match=re.escape(services.INSTALL_COMMAND)):
        services.ensure_programs()


def test_the_deploy_checks_pass_with_the_instances_environment(cluster, tmp_path):
    environ = {**cluster.environ, "REGISTERFT_VAR_DIR": str(tmp_path)}
    result = services.manage(environ, "check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in result.stdout


def webhook(cluster: Cluster, instance: Instance, secret: str, topic: str, payload: dict) -> int:
    """What the agent posts on a state change, sent to the instance the test chooses."""
    response = requests.post(
        f"{instance.url}/webhooks/acapy/topic/{topic}/", json=payload, headers={"x-api-key": secret},
        verify=str(cluster.cert), timeout=TIMEOUT,
    )
    return response.status_code


def test_a_webhook_to_either_instance_moves_the_visitor_on_the_other(cluster, agent_pair):
    visitor = Browser(cluster)
    a, b = agent_pair.instances
    secret, agent = agent_pair.webhook_secret, agent_pair.agent

    assert visitor.get(a, "/").status_code == 200
    # The wallet answers at the agent; the test tells instance B, not the agent.
    [wallet] = agent.connect(agent.latest_flow().key)
    connected = {"connection_id": wallet.connection_id, "invitation_msg_id": wallet.key, "state": "active"}
    assert webhook(cluster, b, secret, "connections", connected) == 204
    assert visitor.get(a, "/check_connection/status").json()["next"] == "/name"

    form = visitor.get(b, "/name")
    details = {"first_name": "Grace", "last_name": "Hopper", "institution": "Webhooks " + secrets.token_hex(4)}
    assert visitor.post(a, "/name", details, token_from=form.text).headers.get("Location") == "/loading/"
    assert visitor.get(b, "/loading/status").json()["state"] == "waiting"

    issued = {
        "cred_ex_id": wallet.cred_ex_id, "connection_id": wallet.connection_id, "state": "done", "role": "issuer",
    }
    assert webhook(cluster, a, secret, "issue_credential_v2_0", issued) == 204
    assert visitor.get(b, "/loading/status").json()["next"] == "/success"
    assert visitor.get(a, "/success").status_code == 200
    with cluster.postgres.connect() as connection:
        state, process_id = connection.execute(
            "SELECT state, process_id FROM onboarding_registration WHERE attributes->>'institution' = %s",
            [details["institution"]],
        ).fetchone()
    assert (state, process_id) == ("issued", issued["cred_ex_id"])
    # The states came from the webhooks alone: neither instance asked the agent for them.
    assert not [call for call in agent.received if call[0] == "GET" and call[1] != "/status"]


def test_a_webhook_without_the_secret_is_refused_by_every_instance(cluster, agent_pair):
    for instance in agent_pair.instances:
        assert webhook(cluster, instance, "wrong", "connections", {"state": "active"}) == 401


@pytest.mark.parametrize("broken", ["DATABASE_URL", "REDIS_URL"])
def test_an_instance_that_cannot_reach_the_database_or_redis_is_alive_but_not_ready(
    cluster, broken, tmp_path, request
):
    """What takes an instance out of the load balancer's rotation, with the real drivers."""
    nowhere = {
        "DATABASE_URL": cluster.postgres.url.replace(f":{cluster.postgres.port}/", f":{services.free_port()}/"),
        "REDIS_URL": cluster.redis.url.replace(f":{cluster.redis.port}/", f":{services.free_port()}/"),
    }
    stoppers: list = []
    environ = {**cluster.environ, broken: nowhere[broken]}
    instance, process = services.start_portal("broken", environ, tmp_path, stoppers)
    for stop in stoppers:
        request.addfinalizer(stop)

    def alive() -> bool:
        return requests.get(f"{instance.url}/healthz", verify=str(cluster.cert), timeout=3).status_code == 200

    process.wait_until(alive, what="answering /healthz")
    ready = requests.get(f"{instance.url}/readyz", verify=str(cluster.cert), timeout=TIMEOUT)
    assert ready.status_code == 503
    part = "database" if broken == "DATABASE_URL" else "cache"
    assert ready.json()[part] == "unreachable"
