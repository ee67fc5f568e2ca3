"""Text files as pieces, and pieces as the prepared cache stores them (UTF-8 bytes).

A file holds ABC tunes (each from its ``X:`` header to the next) or stretches of text between
blank lines. Of ABC tunes only the headers that shape the music are kept (``MUSIC_HEADERS``).
"""

from __future__ import annotations

import re
from fractions import Fraction

import torch

MUSIC_HEADERS = ("X", "M", "L", "K")


def text_of(stored: torch.Tensor) -> str:
    return bytes(stored.tolist()).decode("utf-8")


def split_pieces(text: str, abc: bool) -> list[str]:
    """ABC tunes (each from an ``X:`` line to the next) when ``abc`` and the text has any, else
    the stretches between blank lines."""
    if abc and re.search(r"^X:", text, re.MULTILINE):
        starts = [match.start() for match in re.finditer(r"^X:", text, re.MULTILINE)]
        return [
            text[start:end].strip() + "\n" for start, end in zip(starts, starts[1:] + [len(text)])
        ]
    return [piece.strip() + "\n" for piece in re.split(r"\n\s*\n", text) if piece.strip()]


def music_only(tune: str) -> str:
    """An ABC tune with only the headers that shape its music, comments and lyrics dropped, and
    ``X:`` set to 1: titles and notes on the source are not music."""
    lines = []
    for line in tune.splitlines():
        field = re.match(r"^([A-Za-z]):", line)
        if line.startswith("%") or (field and field.group(1) not in MUSIC_HEADERS):
            continue
        lines.append("X:1" if field and field.group(1) == "X" else line.rstrip())
    return "\n".join(line for line in lines if line) + "\n"


def numbered(tune: str, number: int) -> str:
    """The tune with its ``X:`` header set to ``number`` (added when missing)."""
    if re.match(r"^X:", tune):
        return re.sub(r"^X:[^\n]*", f"X:{number}", tune, count=1)
    return f"X:{number}\n{tune}"


def abc_fraction(text: str) -> Fraction | None:
    """A meter or unit length (``n/d``, ``C``: 4/4, ``C|``: 2/2) as a fraction of a whole note."""
    if text in ("C", "C|"):
        return Fraction(1)
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not int(match.group(1)) or not int(match.group(2)):
        return None
    return Fraction(int(match.group(1)), int(match.group(2)))


def abc_length(text: str) -> Fraction:
    """A note's written length, "3/2", "2", "/", "//", "/4", "3/" as a multiple of the unit."""
    if not text:
        return Fraction(1)
    top, slashes, bottom = re.fullmatch(r"(\d*)(/*)(\d*)", text).groups()
    top = int(top) if top else 1
    if not slashes:
        return Fraction(top)
    return (
        Fraction(top, int(bottom) if bottom else 2 ** len(slashes))
        if bottom != "0"
        else Fraction(top)
    )
