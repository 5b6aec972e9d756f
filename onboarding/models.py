from __future__ import annotations

import secrets
import uuid

from django.db import models
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
    connected_at = models.DateTimeField(null=True, blank=True)
    offered_at = models.DateTimeField(null=True, blank=True)
    # Set while a request is sending the offer, so that a second submit does not send another.
    offer_started_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    # When the portal last asked the issuer, or heard from it (webhook), about this registration.
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

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

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"demo credential {self.id} ({self.state})"


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
