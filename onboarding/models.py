from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_short_code() -> str:
    return secrets.token_urlsafe(9)


def new_demo_token() -> str:
    return secrets.token_urlsafe(18)


class Registration(models.Model):
    """One visitor's way through the flow: the single record of their progress.

    The visitor's session only holds this record's id.
    """

    class State(models.TextChoices):
        # Offer-first order only: the details are kept while the visitor waits for a place.
        SAVED = "saved", _("Details saved, waiting for a place")
        INVITED = "invited", _("Waiting for the wallet to connect")
        CONNECTED = "connected", _("Connected, waiting for details")
        OFFERED = "offered", _("Credential offered")
        ISSUED = "issued", _("Credential accepted")
        FAILED = "failed", _("Failed")

    class Failure(models.TextChoices):
        NONE = "", _("None")
        CONNECTION_FAILED = "connection_failed", _("The wallet could not connect")
        INVITATION_EXPIRED = "invitation_expired", _("The invitation expired")
        DETAILS_EXPIRED = "details_expired", _("The details were not sent in time")
        OFFER_DECLINED = "offer_declined", _("The credential was declined")
        OFFER_EXPIRED = "offer_expired", _("The credential was not accepted in time")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    backend = models.CharField(max_length=20)
    state = models.CharField(max_length=20, choices=State.choices, default=State.INVITED, db_index=True)
    failure = models.CharField(max_length=30, choices=Failure.choices, blank=True, default="")
    failure_detail = models.CharField(max_length=300, blank=True, default="")

    invitation_id = models.CharField(max_length=200, db_index=True)
    invitation_url = models.TextField()
    short_code = models.CharField(max_length=20, unique=True, default=new_short_code)
    connection_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    process_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    # The offer sent before the current one, when the visitor asked for it to be sent again: a
    # wallet that accepts the earlier offer after all has still got its credential.
    previous_process_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Offer-first order: the transaction code the wallet asks for, shown on the visitor's page
    # next to the QR code (never in it); "" where the issuer uses none.
    offer_pin = models.CharField(max_length=20, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When a wallet first opened the QR code's link: its connection is under way.
    link_opened_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    offered_at = models.DateTimeField(null=True, blank=True)
    # Set while a request is sending the offer, so that a second submit does not send another.
    offer_started_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    # When the portal last asked the issuer, or heard from it (webhook), about this registration.
    checked_at = models.DateTimeField(null=True, blank=True)
    # Withdrawn by an admin: the door refuses its credential from then on.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("withdraw_registration", "Can withdraw a registration (the door refuses it)")]

    @property
    def credential_id(self) -> str:
        """The id the registration's credential carries, which the door admits once."""
        return f"urn:uuid:{self.pk}"

    def __str__(self) -> str:
        return f"{self.id} ({self.state})"


class DemoConnection(models.Model):
    """The embedded demo issuer's side of a connection: its state lives in the database so that
    it works under several gunicorn workers."""

    class State(models.TextChoices):
        INVITED = "invited", _("Invited")
        ACTIVE = "active", _("Active")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token = models.CharField(max_length=40, unique=True, default=new_demo_token)
    label = models.CharField(max_length=200)
    state = models.CharField(max_length=20, choices=State.choices, default=State.INVITED)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"demo connection {self.id} ({self.state})"


class DemoCredential(models.Model):
    class State(models.TextChoices):
        OFFERED = "offered", _("Offered")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(DemoConnection, on_delete=models.CASCADE, related_name="credentials")
    attributes = models.JSONField(default=dict)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OFFERED)
    created_at = models.DateTimeField(auto_now_add=True)
    # What the door checks: the credential's id (``urn:uuid:`` of the registration) and its expiry.
    credential_id = models.CharField(max_length=100, blank=True, default="")
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"demo credential {self.id} ({self.state})"


class DemoProofRequest(models.Model):
    """The demo verifier's side of a door's request: the demo wallet page answers it with a
    credential it holds, or refuses."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        PRESENTED = "presented", _("Presented")
        REFUSED = "refused", _("Refused")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token = models.CharField(max_length=40, unique=True, default=new_demo_token)
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED)
    credential = models.ForeignKey(DemoCredential, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"demo proof request {self.id} ({self.state})"


class AcaPyIssuerDid(models.Model):
    """The did:key that signs the portal's credentials at one ACA-Py agent (by admin URL).

    Created at the agent once and kept here, so that every worker signs with the same DID.
    """

    admin_url = models.CharField(max_length=300, unique=True)
    did = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.did} at {self.admin_url}"


class Lease(models.Model):
    """The throttle's one primitive (onboarding/throttle.py): a named row that one holder may hold
    until a moment, or that counts within a window. Places at the agent, calls in flight, rate
    windows and the line's counters are all leases, shared by every worker and instance through
    the database; a holder that died frees its lease when ``until`` passes."""

    key = models.CharField(max_length=200, primary_key=True)
    holder = models.CharField(max_length=64, blank=True, default="")
    count = models.PositiveBigIntegerField(default=0)
    until = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.holder or self.count})"


class LineTicket(models.Model):
    """A new visitor's place in the line at the door. The id is the place: the line is served in
    id order, and a position is the id less the tickets served so far."""

    id = models.BigAutoField(primary_key=True)
    token = models.CharField(max_length=40, unique=True)
    address = models.CharField(max_length=64, db_index=True)
    # Present: polled within their page's own interval; only present visitors hold up those behind.
    present_until = models.DateTimeField(db_index=True)
    # Told "your turn" at this moment; a call not answered soon no longer holds anybody up.
    called_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"ticket {self.id}"


class DoorRequest(models.Model):
    """One proof request a door shows as a QR code, fresh for each visitor."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the wallet")
        DONE = "done", _("Answered")
        NO_ANSWER = "no_answer", _("No answer in time")
        DECLINED = "declined", _("Declined by the wallet")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    backend = models.CharField(max_length=20)
    door = models.CharField(max_length=60)
    # The verifier's handle for the request (ACA-Py: pres_ex_id) and the thread a refusal names.
    request_id = models.CharField(max_length=200, db_index=True)
    thread_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    invitation_url = models.TextField()
    short_code = models.CharField(max_length=20, unique=True, default=new_short_code)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    check_in = models.OneToOneField("CheckIn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"door request {self.id} ({self.state})"


class CheckIn(models.Model):
    """One visitor at the door: admitted, admitted again, or refused with a reason; a record of
    who let them in, where and when. A credential is admitted once (a constraint: two doors at
    the same moment cannot both admit it); "admit again" is a record of its own."""

    class Outcome(models.TextChoices):
        ADMITTED = "admitted", _("Admitted")
        READMITTED = "readmitted", _("Admitted again")
        REFUSED = "refused", _("Refused")

    class Reason(models.TextChoices):
        NONE = "", _("None")
        WRONG_CREDENTIAL = "wrong_credential", _("Not this event's credential")
        INVALID_SIGNATURE = "invalid_signature", _("Invalid signature")
        OTHER_HOLDER = "other_holder", _("Presented by somebody else")
        WITHDRAWN = "withdrawn", _("Registration withdrawn")
        EXPIRED = "expired", _("Expired")
        NO_ANSWER = "no_answer", _("No answer in time")
        DECLINED = "declined", _("Declined by the wallet")
        ALREADY = "already", _("Already checked in")

    class Method(models.TextChoices):
        SCAN = "scan", _("Scanned")
        MANUAL = "manual", _("By hand")

    id = models.BigAutoField(primary_key=True)
    registration = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.CASCADE, related_name="check_ins"
    )
    credential_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reason = models.CharField(max_length=30, choices=Reason.choices, blank=True, default="")
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.SCAN)
    door = models.CharField(max_length=60)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    staff_name = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("check_in", "Can check visitors in at the door")]
        constraints = [
            models.UniqueConstraint(
                fields=["credential_id"],
                condition=models.Q(outcome="admitted"),
                name="checkin_credential_admitted_once",
            )
        ]

    def __str__(self) -> str:
        return f"check-in {self.id} ({self.outcome})"
