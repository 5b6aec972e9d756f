"""Absolute links for QR codes and wallet buttons.

A phone cannot reach 127.0.0.1: links use ``REGISTERFT_PUBLIC_URL`` when it is set, else the host
the page was requested on.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings
from django.http import HttpRequest

from onboarding.issuers.base import credential_offer_json, invitation_oob


def absolute_url(request: HttpRequest, url: str) -> str:
    """``url`` itself when it is absolute; a path of the portal made absolute otherwise."""
    if not url.startswith("/"):
        return url
    base = settings.REGISTERFT_PUBLIC_URL or f"{request.scheme}://{request.get_host()}"
    return base + url


def wallet_link(request: HttpRequest, invitation_url: str) -> str:
    """The "open in wallet" link: ``REGISTERFT_WALLET_LINK`` filled with the invitation.

    ``{url}`` is the invitation URL (quoted with ``{url_quoted}``), ``{oob}`` the encoded invitation
    it carries (its ``oob`` or ``c_i`` parameter), for example ``didcomm://invite?oob={oob}``.
    """
    url = absolute_url(request, invitation_url)
    oob = invitation_oob(url)
    template = settings.REGISTERFT_WALLET_LINK
    if "{oob}" in template and not oob:
        return url
    return template.format(url=url, url_quoted=quote(url, safe=""), oob=quote(oob, safe=""))


def offer_link(request: HttpRequest, *, offer_url: str, short_path: str) -> str:
    """The offer-first QR code's and phone button's link.

    An OpenID4VCI offer is passed by reference, since the whole offer makes a dense QR code:
    ``<scheme>://?credential_offer_uri=<the short link>``, the short link serving the offer's
    JSON. The scheme is ``REGISTERFT_OFFER_SCHEME``, or else the issuer's own link's (``swiyu``,
    ``openid-credential-offer``). Any other link (the demo wallet's page) is the short link itself.
    """
    short_url = absolute_url(request, short_path)
    if credential_offer_json(offer_url) is None:
        return short_url
    scheme = settings.REGISTERFT_OFFER_SCHEME or urlsplit(offer_url).scheme or "openid-credential-offer"
    return f"{scheme}://?credential_offer_uri={quote(short_url, safe='')}"
