"""The classic polyphonic-music data sets as they were published (Boulanger-Lewandowski et al.
2012: JSB Chorales, Nottingham, MuseData, Piano-midi.de): a Python pickle of a dict
``{"train", "valid", "test"}`` → pieces → frames → the MIDI pitches sounding in the frame.

A pickle can run any code when it is loaded, so this one is read by an unpickler that builds
nothing but dicts, lists, tuples, sets, strings and numbers; a file that asks for anything else
is refused, unread, with one line. Each piece becomes a ``PublishedPiece``: one part (every
pitch of a frame in it), a frame one quarter note, and the part of the published split it
belongs to, which ``core.store.split`` keeps whatever the fractions.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pretty_midi

from ...errors import DataError

CLASSIC_SUFFIXES = (".pickle", ".pkl")
PARTS = ("train", "valid", "test")
# what a data set's pickle may name (a set is pickled as a call to set() before protocol 4)
ALLOWED = {("builtins", "set"), ("builtins", "frozenset"), ("__builtin__", "set")}


class PublishedPiece(pretty_midi.PrettyMIDI):
    """A piece of a published data set, and the part of its split (``PARTS``) it is in."""

    def __init__(self, part: str, tempo: float):
        super().__init__(initial_tempo=tempo)
        self.part = part


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it asks for {module}.{name}")


def load_split(path: Path) -> dict:
    """The pickle at ``path`` read with ``_DataOnly``: ``{part: [piece: [frame: pitches]]}``.
    ``DataError`` naming the file when it is not such a pickle."""
    try:
        data = _DataOnly(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    except pickle.UnpicklingError as error:
        raise DataError(
            f"{path}: refused: {error}; a data set's pickle holds only lists, tuples, dicts, "
            "sets and numbers (a pickle can run code as it loads)"
        ) from None
    except Exception as error:  # truncated or not a pickle at all
        raise DataError(f"{path}: not a readable pickle ({type(error).__name__})") from None
    if not isinstance(data, dict) or not set(data) & set(PARTS):
        raise DataError(
            f"{path}: not a published data set (expected a dict with 'train', 'valid', 'test')"
        )
    return data


def read_published(path: Path, tempo: float) -> list[PublishedPiece]:
    """Every piece of every part of the data set at ``path``, in the order train, valid, test;
    a frame is a quarter note at ``tempo``; the frames a pitch sounds in one after another are
    one note (the published rolls do not tell a held note from one struck again)."""
    data = load_split(path)
    pieces = []
    for part in PARTS:
        for number, frames in enumerate(data.get(part, [])):
            pieces.append(_piece(frames, part, tempo, f"{path}: {part} piece {number}"))
    return pieces


def _piece(frames, part: str, tempo: float, where: str) -> PublishedPiece:
    if not isinstance(frames, (list, tuple)):
        raise DataError(f"{where}: expected a list of frames, got {type(frames).__name__}")
    piece = PublishedPiece(part, tempo)
    beat = 60.0 / tempo
    voice = pretty_midi.Instrument(0, name="Chorale")
    sounding: dict[int, int] = {}  # pitch → the frame its note began in
    for step, frame in enumerate([*frames, ()]):  # an empty frame at the end closes every note
        try:
            pitches = {int(pitch) for pitch in frame}
        except (TypeError, ValueError):
            raise DataError(f"{where}: frame {step} is not a list of MIDI pitches") from None
        if any(not 0 <= pitch <= 127 for pitch in pitches):
            raise DataError(f"{where}: frame {step} holds a pitch outside MIDI's 0-127")
        for pitch in sorted(set(sounding) - pitches):
            start = sounding.pop(pitch)
            voice.notes.append(pretty_midi.Note(90, pitch, start * beat, step * beat))
        for pitch in pitches - set(sounding):
            sounding[pitch] = step
    voice.notes.sort(key=lambda note: (note.start, note.pitch))
    piece.instruments.append(voice)
    return piece
