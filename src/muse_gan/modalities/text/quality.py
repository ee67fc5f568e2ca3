"""How good is generated text? For ABC: does it parse into music; for any text: how close are
its character n-grams to real text's.

- ``abc_parse_rate``: the share of tunes that music21 parses into a score with notes (and so
  converts to MIDI).
- ``inner_bars_full``: of the tunes' inner bars (all but each tune's first and last), the
  share whose notes and rests add up to exactly the meter's bar (``bar_lengths`` reads them
  from the text: music21 splits a bar that runs over into bars of its own); pooled over the
  tunes.
- ``headers_complete``: the share of tunes whose header has ``X:``, ``M:`` (a meter: ``n/d``,
  ``C`` or ``C|``), ``L:`` and, last before the music, ``K:``.
- ``ngram_js_divergence``: Jensen-Shannon divergence (bits, 0 to 1) between the character
  n-gram distributions of two sets of texts, for each n.

(Bits per character, for likelihood models: ``TextAdapter.likelihood``.)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from fractions import Fraction

from ...errors import DataError
from ..midi.scores import abc_to_midi
from .pieces import abc_fraction, abc_length

HEADER_LINE = re.compile(r"([A-Za-z]):\s*([^\n]*)")
MUSIC_TOKEN = re.compile(
    r"""(?P<bar>(?:\[\||\|\]|\|\||\|:|:+\|+:*|::|\|)(?:\s*\[?\d+)?)
      | (?P<line>\n)
      | (?P<tuplet>\(\d(:\d*)?(:\d*)?)
      | (?P<broken>>{1,2}|<{1,2})
      | (?P<note>(\[(?P<chord>[\^=_A-Ga-gz,'\d/]*)\]|[\^=_]*[A-Ga-gzx][,']*)(?P<length>\d*/*\d*))
      | (?P<bar_rest>Z\d*)
    """,
    re.VERBOSE,
)
METER = re.compile(r"\d+/\d+|C\|?")


def abc_parse_rate(tunes: list[str]) -> float:
    parsed = 0
    for tune in tunes:
        try:
            abc_to_midi(tune)
            parsed += 1
        except DataError:
            pass
    return parsed / len(tunes) if tunes else math.nan


def inner_bars_full(tunes: list[str]) -> float:
    """The share of the tunes' inner bars that fill the meter exactly (NaN: no inner bars)."""
    full = inner = 0
    for tune in tunes:
        bars, meter = bar_lengths(tune)
        for length in bars[1:-1]:
            inner += 1
            full += length == meter
    return full / inner if inner else math.nan


def bar_lengths(tune: str) -> tuple[list[Fraction], Fraction | None]:
    """The length of each bar of an ABC tune's music, and of the meter's bar, in whole notes
    (no bars for a tune without a meter of ``n/d``, ``C`` or ``C|``).

    A bar is what stands between two bar lines (``|``, ``||``, ``|]``, ``[|``, ``|:``,
    ``:|``, ``::``; an ending's number after one starts no new bar); stretches with no note or
    rest, as between a line's closing ``|`` and the next line's ``|:``, are not bars; a line
    break after a full bar ends it (as in the Essen collection's tunes). A note or
    rest is its letter's unit length (``L:``, or the standard's default) times its length
    (``2``, ``3/2``, ``/``); a chord ``[...]`` lasts as its first note; ``>``/``<`` move half
    a note's length to or from the next note (``>>``: three quarters); ``(p`` plays the next
    p notes in the time of q (3 in 2, 2 in 3, 4 in 3, 6 in 2, or ``(p:q``); grace notes,
    quoted text, decorations, fields and comments take no time; ``Z`` is one bar.
    Changes of meter or unit inside the music are not followed.
    """
    header, body = _header_and_body(tune)
    meter = abc_fraction(header.get("M", ""))
    if meter is None:
        return [], None
    default = Fraction(1, 16) if meter < Fraction(3, 4) else Fraction(1, 8)
    unit = abc_fraction(header.get("L", "")) or default
    body = re.sub(
        r'"[^"\n]*"|![^!\n]*!|\{[^}\n]*\}|\[[A-Za-z]:[^\]\n]*\]|%[^\n]*|^[A-Za-z]:[^\n]*',
        "",
        body,
        flags=re.MULTILINE,
    )
    bars, bar, notes, carry, tuplet = [], Fraction(0), 0, Fraction(1), (0, Fraction(1))
    last = Fraction(0)
    for match in MUSIC_TOKEN.finditer(body):
        kind, text = match.lastgroup, match.group()
        if kind == "bar" or (kind == "line" and bar == meter):
            if notes:
                bars.append(bar)
            bar, notes = Fraction(0), 0
        elif kind == "tuplet":
            tuplet = _tuplet(text, meter)
        elif kind == "broken":
            moved = Fraction(1, 2) if len(text) == 1 else Fraction(3, 4)
            lengthen = text[0] == ">"
            bar += last * (moved if lengthen else -moved)
            carry = 1 - moved if lengthen else 1 + moved
        elif kind in ("note", "bar_rest"):
            length = meter if kind == "bar_rest" else unit * _note_length(match)
            if tuplet[0]:
                length, tuplet = length * tuplet[1], (tuplet[0] - 1, tuplet[1])
            last, carry = length * carry, Fraction(1)
            bar, notes = bar + last, notes + 1
    if notes:
        bars.append(bar)
    return bars, meter


def _header_and_body(tune: str) -> tuple[dict[str, str], str]:
    """The tune's header fields (up to the first ``K:`` line) and the music after them."""
    fields, lines = {}, tune.splitlines()
    for number, line in enumerate(lines):
        field = HEADER_LINE.fullmatch(line.strip())
        if field:
            fields[field.group(1)] = field.group(2).strip()
        if field and field.group(1) == "K":
            return fields, "\n".join(lines[number + 1 :])
    return fields, ""


def _note_length(note: re.Match) -> Fraction:
    """A note's or chord's written length in units (a chord: its first note's)."""
    inside = re.match(r"[\^=_]*[A-Ga-gz][,']*(\d*/*\d*)", note.group("chord") or "")
    return abc_length(note.group("length")) * (abc_length(inside.group(1)) if inside else 1)


def _tuplet(text: str, meter: Fraction) -> tuple[int, Fraction]:
    """How many notes a ``(p:q:r`` tuplet takes and the factor of their lengths."""
    numbers = [int(number) if number else None for number in text[1:].split(":")]
    p, q = numbers[0], numbers[1] if len(numbers) > 1 else None
    if not p:  # "(0": no tuplet
        return 0, Fraction(1)
    compound = meter.numerator % 3 == 0 and meter.numerator > 3
    q = q or {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if compound else 2)
    r = (numbers[2] if len(numbers) > 2 else None) or p
    return r, Fraction(q, p)


def headers_complete(tunes: list[str]) -> float:
    return sum(_header_complete(tune) for tune in tunes) / len(tunes) if tunes else math.nan


def _header_complete(tune: str) -> bool:
    fields = []
    for line in tune.splitlines():
        field = HEADER_LINE.fullmatch(line.strip())
        if not field:
            break
        fields.append((field.group(1), field.group(2).strip()))
    names = [name for name, _value in fields]
    meters = [value for name, value in fields if name == "M"]
    return (
        {"X", "M", "L", "K"} <= set(names)
        and names[-1] == "K"
        and all(METER.fullmatch(meter) for meter in meters)
    )


def ngram_counts(texts: list[str], n: int) -> Counter:
    return Counter(text[start : start + n] for text in texts for start in range(len(text) - n + 1))


def js_divergence(first: Counter, second: Counter) -> float:
    """Jensen-Shannon divergence in bits of two count tables (as distributions); NaN if one is empty."""
    first_total, second_total = sum(first.values()), sum(second.values())
    if not first_total or not second_total:
        return math.nan
    divergence = 0.0
    for key in first.keys() | second.keys():
        p, q = first[key] / first_total, second[key] / second_total
        middle = (p + q) / 2
        divergence += 0.5 * (p * math.log2(p / middle) if p else 0.0) + 0.5 * (
            q * math.log2(q / middle) if q else 0.0
        )
    return divergence


def ngram_js_divergence(
    texts: list[str], reference: list[str], orders=(1, 2, 3, 4)
) -> dict[int, float]:
    return {n: js_divergence(ngram_counts(texts, n), ngram_counts(reference, n)) for n in orders}
