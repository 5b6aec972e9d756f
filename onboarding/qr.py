"""QR codes drawn on the server, per invitation, as inline SVG.

Drawing a QR costs milliseconds of CPU; the result for one text is cached, so reloads and polls
never draw it again.
"""

from __future__ import annotations

import hashlib

import qrcode
from django.core.cache import cache
from qrcode.util import MODE_8BIT_BYTE, QRData

CACHE_SECONDS = 60 * 60
# A QR code may use any of eight masks, and every scanner reads all eight. Left to choose, qrcode
# draws the code eight times to score each mask, which is 85% of the drawing time (about 4 ms of
# the start page's CPU for a new visitor; make bench). A fixed mask reads as well: zxing-cpp read
# 200 random short links under each of the eight masks without a miss.
MASK_PATTERN = 0
# The smallest QR version that holds a text in byte mode depends on the text's length alone: found
# once per length, so that drawing skips qrcode's fitting pass, which writes the data once more
# (a fifth of a drawing in-process).
_versions: dict[int, int] = {}


def qr_svg(text: str) -> str:
    """Inline SVG markup showing ``text`` as a QR code."""
    key = "qr:" + hashlib.sha256(text.encode()).hexdigest()
    svg = cache.get(key)
    if svg is None:
        svg = _draw(text)
        cache.set(key, svg, CACHE_SECONDS)
    return svg


def _matrix(text: str) -> list[list[bool]]:
    """The QR code's modules, its quiet zone included; the text in byte mode (a link's lower case
    letters need it, and the length alone then sets the version)."""
    data = text.encode()
    version = _versions.get(len(data))
    code = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, border=4,
                         mask_pattern=MASK_PATTERN)
    code.add_data(QRData(data, mode=MODE_8BIT_BYTE))
    code.make(fit=version is None)
    _versions[len(data)] = code.version
    return code.get_matrix()


def _draw(text: str) -> str:
    matrix = _matrix(text)
    size = len(matrix)
    # One path, each horizontal run of dark modules one rectangle: a few kilobytes at most.
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" class="qr-svg" aria-hidden="true" focusable="false">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
