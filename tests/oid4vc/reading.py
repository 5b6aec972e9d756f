"""What the tests read: the QR code's pixels, and the SD-JWT VC the holder stored."""

from __future__ import annotations

import re

from PIL import Image, ImageDraw

SCALE = 8


def qr_pixels(svg: str) -> Image.Image:
    """The portal's QR code SVG (onboarding/qr.py: one path of horizontal runs ``M{x} {y}h{w}v1h-{w}z``
    on a white square) drawn as pixels, as a screen shows it; tests/browser lets Chromium draw it."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    image = Image.new("L", (size * SCALE, size * SCALE), 255)
    draw = ImageDraw.Draw(image)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        left, top = int(x) * SCALE, int(y) * SCALE
        draw.rectangle([left, top, left + int(width) * SCALE - 1, top + SCALE - 1], fill=0)
    return image


def decode_qr_image(image: Image.Image) -> list[str]:
    import zxingcpp

    return [result.text for result in zxingcpp.read_barcodes(image)]


def verified_claims(sd_jwt_vc: str, issuer_jwk: dict) -> dict:
    """The SD-JWT VC's claims, its disclosures applied, after its signature verified against the
    issuer's key (PyPI sd-jwt); raises if it does not verify."""
    from jwcrypto.jwk import JWK
    from sd_jwt.verifier import SDJWTVerifier

    return SDJWTVerifier(sd_jwt_vc, lambda issuer, header: JWK(**issuer_jwk)).get_verified_payload()
