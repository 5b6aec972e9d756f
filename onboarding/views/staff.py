"""What django-axes needs of the portal to guard the staff's logins."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from onboarding.views.limits import visitor_address


def login_address(request: HttpRequest) -> str | None:
    """The client address a failed login counts against (AXES_CLIENT_IP_CALLABLE): the rate limits'
    own rule (a trusted proxy's header, an IPv6 client as its /64), written as one address, as the
    database's address column wants (a /64 as its first address; none when it cannot be read)."""
    address = visitor_address(request)
    try:
        return str(ipaddress.ip_network(address, strict=False).network_address)
    except ValueError:
        return None
