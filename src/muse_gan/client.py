"""Talk to a running `muse serve` from any Python, with the standard library alone.

A DAW's scripting host (REAPER's ReaScript, a plug-in host, a notebook) imports this module
without torch or any other dependency: it sends clips as notes and gets notes, MIDI or WAV
back. Notes are timed in beats (quarter notes) from the clip's start, so they fit any tempo.

    >>> from muse_gan.client import Client, Note
    >>> client = Client()                                  # http://127.0.0.1:8765
    >>> answer = client.compose(bars=4, seed=7)            # an Answer holding notes
    >>> answer.notes[0]
    Note(pitch=..., start=0.0, end=..., velocity=..., voice=...)
    >>> primer = [Note(72, 0, 1), Note(74, 1, 2)]
    >>> longer = client.continue_clip(primer, bars=4, seed=1, tempo=92)

Every request is checked against the model's controls (``GET /models``): ``understood``
splits what a DAW would like to send (tempo, meter, key...) into what the model takes and
what it would ignore, so a script can say which settings did not apply.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

DEFAULT_URL = "http://127.0.0.1:8765"


class ServerError(Exception):
    """The server refused a request (``status``: the HTTP status) or could not be reached
    (``status`` 0); the message is the server's one line naming the field and the reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Note:
    """One note: MIDI ``pitch``, ``start`` and ``end`` in beats (quarter notes) from the clip's
    start, ``velocity`` 1-127, and the ``voice`` (track) it belongs to, 0 being the highest
    voice of a chorale model (Soprano)."""

    pitch: int
    start: float
    end: float
    velocity: int = 100
    voice: int = 0


@dataclass
class Answer:
    """What the server made: ``notes`` (with ``format="notes"``) or the file's ``data`` (MIDI or
    WAV), plus the ``seed`` it used (give it back to get the same answer again)."""

    seed: int | None
    model: str | None
    data: bytes = b""
    notes: list[Note] = field(default_factory=list)
    tempo: float | None = None
    bars: int | None = None
    meter: str | None = None
    voices: list[str] = field(default_factory=list)

    def beats(self) -> float:
        """The piece's length in quarter notes: its whole bars (a piece may end on a rest), or
        its last note's end where that is later or the server sent no bars."""
        last = max((note.end for note in self.notes), default=0.0)
        return max(last, (self.bars or 0) * quarters_per_bar(self.meter))


def notes_json(notes: list[Note]) -> list[dict]:
    return [asdict(note) for note in notes]


def clip_of_notes(notes: list[Note], tempo: float | None = None) -> dict:
    """A clip for a request, from notes (beats); ``tempo`` in quarter notes per minute."""
    clip: dict = {"notes": notes_json(notes)}
    if tempo is not None:
        clip["tempo"] = tempo
    return clip


def clip_of_midi(data: bytes) -> dict:
    """A clip for a request, from the bytes of a standard MIDI file."""
    return {"midi": base64.b64encode(data).decode("ascii")}


def as_clip(clip) -> dict:
    """A request's clip from notes, MIDI bytes, or a clip dict as it is."""
    if isinstance(clip, (bytes, bytearray)):
        return clip_of_midi(bytes(clip))
    if isinstance(clip, dict):
        return clip
    return clip_of_notes(list(clip))


class Client:
    """A connection to `muse serve` at ``url`` (``token``: the server's ``--token``)."""

    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, timeout: float = 60.0):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        self._models: dict[str, dict] | None = None

    # what the server offers

    def models(self) -> dict[str, dict]:
        """The served models by name, each with its ``controls`` and ``endpoints``."""
        if self._models is None:
            listing = json.loads(self._request("GET", "/models"))
            self._models = {entry["name"]: entry for entry in listing["models"]}
        return self._models

    def default_model(self) -> str:
        return next(iter(self.models()))

    def understood(self, model: str | None, wanted: dict) -> tuple[dict, dict]:
        """``wanted`` settings split into those ``model`` takes and those it would ignore
        (a DAW's key where the model has no key control); settings given as None are dropped."""
        controls = self.models()[model or self.default_model()]["controls"]
        given = {name: value for name, value in wanted.items() if value is not None}
        taken = {name: value for name, value in given.items() if name in controls}
        return taken, {name: value for name, value in given.items() if name not in controls}

    # making music

    def compose(self, model: str | None = None, format: str = "notes", **controls) -> Answer:
        """A new piece: ``bars``, ``seed``, ``temperature``, ``tempo``... as ``GET /models`` lists."""
        return self._make("/compose", {"model": model, **controls}, format)

    def continue_clip(
        self, clip, model: str | None = None, format: str = "notes", **controls
    ) -> Answer:
        """A piece that starts with ``clip`` (notes, MIDI bytes or a clip dict) and goes on to
        ``bars`` bars."""
        return self._make(
            "/continue", {"model": model, "primer": as_clip(clip), **controls}, format
        )

    def interpolate(
        self, start, end, model: str | None = None, format: str = "notes", **controls
    ) -> Answer:
        """Clips on a path from ``start`` to ``end`` through a VAE's latent space, one after another."""
        body = {"model": model, "start": as_clip(start), "end": as_clip(end), **controls}
        return self._make("/interpolate", body, format)

    def infill(
        self, clip, bars: str, model: str | None = None, format: str = "notes", **controls
    ) -> Answer:
        """``clip`` with ``bars`` ("5-8", counted from 1) written again, in the voices named by
        ``tracks`` ("alto,tenor"; default all); every other note kept. Needs a model that fills
        (its ``endpoints`` list "infill")."""
        body = {"model": model, "clip": as_clip(clip), "bars": bars, **controls}
        return self._make("/infill", body, format)

    def harmonize(
        self, melody, model: str | None = None, format: str = "notes", **controls
    ) -> Answer:
        """The other voices written under ``melody`` (its top line), the melody kept."""
        body = {"model": model, "melody": as_clip(melody), **controls}
        return self._make("/harmonize", body, format)

    def render(self, clip, **options) -> bytes:
        """``clip`` played into a WAV file's bytes."""
        return self._request("POST", "/render", {"clip": as_clip(clip), **options})

    # plumbing

    def _make(self, path: str, body: dict, format: str) -> Answer:
        body = {name: value for name, value in body.items() if value is not None}
        headers: dict[str, str] = {}
        data = self._request("POST", path, {**body, "format": format}, headers)
        seed = headers.get("x-muse-seed")
        answer = Answer(int(seed) if seed else None, headers.get("x-muse-model"))
        if format != "notes":
            answer.data = data
            return answer
        piece = json.loads(data)
        answer.notes = [Note(**note) for note in piece["notes"]]
        answer.tempo, answer.bars = piece["tempo"], piece["bars"]
        answer.meter, answer.voices = piece["meter"], piece["voices"]
        return answer

    def _request(self, method: str, path: str, body=None, headers: dict | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, method=method)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                if headers is not None:
                    headers.update({key.lower(): value for key, value in response.headers.items()})
                return response.read()
        except urllib.error.HTTPError as error:
            raise ServerError(error.code, _error_line(error.read())) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServerError(0, f"{self.url}: no muse server answers ({reason})") from None


def _error_line(body: bytes) -> str:
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace").strip() or "no reason given"


# DAW positions ⇄ notes


def notes_from_ticks(
    events, ticks_per_beat: float, start_tick: float = 0.0, end_tick: float | None = None
) -> list[Note]:
    """Notes from a DAW's MIDI events ``(pitch, start_tick, end_tick, velocity, channel)``
    (REAPER: PPQ positions from ``MIDI_GetNote``), timed from ``start_tick``; the channel is the
    voice. With ``end_tick`` (a time selection), only what sounds before it, cut there."""
    notes = []
    for pitch, start, end, velocity, channel in events:
        if end_tick is not None:
            end = min(end, end_tick)
        start = max(start, start_tick)
        if end <= start:
            continue
        notes.append(
            Note(
                int(pitch),
                (start - start_tick) / ticks_per_beat,
                (end - start_tick) / ticks_per_beat,
                int(velocity),
                int(channel),
            )
        )
    return sorted(notes, key=lambda note: (note.start, note.voice, note.pitch))


def ticks_from_notes(notes: list[Note], ticks_per_beat: float, start_tick: float = 0.0) -> list:
    """The inverse of ``notes_from_ticks``: ``(pitch, start_tick, end_tick, velocity, channel)``
    for each note, whole ticks from ``start_tick``."""
    return [
        (
            note.pitch,
            round(start_tick + note.start * ticks_per_beat),
            round(start_tick + note.end * ticks_per_beat),
            note.velocity,
            note.voice,
        )
        for note in notes
    ]


COMMON_TIMES = {"C": "4/4", "C|": "2/2"}  # common and cut time, as ABC and scores write them


def quarters_per_bar(meter: str | None) -> float:
    """Quarter notes in a bar of ``meter`` ("6/8" → 3.0, "C" → 4.0); 4/4 where unknown (None).
    Anything else is a ValueError naming the meter."""
    numerator, slash, denominator = time_signature(meter).partition("/")
    if not (slash and numerator.strip().isdecimal() and denominator.strip().isdecimal()):
        raise ValueError(f"meter {meter!r}: not a time signature such as '6/8'")
    if int(numerator) == 0 or int(denominator) == 0:
        raise ValueError(f"meter {meter!r}: a time signature needs beats and a beat length")
    return int(numerator) * 4 / int(denominator)


def time_signature(meter: str | None) -> str:
    """``meter`` as "N/D": common and cut time as 4/4 and 2/2, nothing said as 4/4."""
    return COMMON_TIMES.get((meter or "4/4").strip(), meter or "4/4")


def bars_spanned(notes: list[Note], beats_per_bar: float) -> int:
    """Whole bars from the clip's start to its last note's end (at least one)."""
    last = max((note.end for note in notes), default=0.0)
    return max(1, -int(-last // beats_per_bar))


PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def key_name(root: int, scale: str = "") -> str:
    """A DAW's key as the ``key`` control takes it ("G major", "E minor"): ``root`` a pitch
    class (0 = C) and ``scale`` the DAW's pattern of twelve semitones from the root, "0" for
    one not in the scale (REAPER's major: "102034050607"); minor where it has the minor third
    and not the major one, else major."""
    minor = len(scale) == 12 and scale[3] != "0" and scale[4] == "0"
    return f"{PITCH_NAMES[root % 12]} {'minor' if minor else 'major'}"


def continuation_request(
    client: Client,
    model: str | None,
    notes: list[Note],
    extra_bars: int,
    daw: dict,
) -> tuple[dict, dict]:
    """The controls for continuing ``notes`` by ``extra_bars`` bars in a DAW whose project
    settings are ``daw`` (tempo, meter as "3/4", key as ``key_name`` gives it, seed,
    temperature, ``first_bar``: the bar of the song the clip starts at; None where unknown),
    and the settings the model would ignore: what a DAW script sends, whatever its DAW."""
    bars = bars_spanned(notes, quarters_per_bar(daw.get("meter"))) + extra_bars
    meter = {"meter": time_signature(daw["meter"])} if daw.get("meter") else {}  # "C": "4/4"
    return client.understood(model, {**daw, **meter, "bars": bars})
