"""Built-in image and audio data, made from installed packages: nothing downloads.

Each corpus is written once as files into the cache, one folder per class, so it goes through
the same reader, labels and cache as a folder of the user's own files:

- digits: the handwritten digits bundled with scikit-learn (1,797 images of 8 × 8 pixels,
  17 grey levels, digits 0-9), as PNGs, one folder per digit;
- folk: the ABC folk tunes in music21's corpus (essenFolksong, oneills1850, ryansMammoth,
  nottingham-dataset: about 12,000 tunes), read where they are installed;
- notes: single notes rendered from MIDI (FluidSynth with a General MIDI SoundFont when both
  are installed, else the built-in synthesizer), 36 pitches × 8 instruments × 2 loudnesses,
  as one-second WAVs, one folder per MIDI pitch.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import MuseError

DIGITS_VERSION = 1  # bump when the written files change


FOLK_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "nottingham-dataset")


def folk_tunes() -> list[Path]:
    """The ABC files of music21's folk collections, by collection and then name (no parsing)."""
    from .scores import _music21_corpus

    corpus = _music21_corpus()
    return [path for collection in FOLK_COLLECTIONS for path in sorted((corpus / collection).rglob("*.abc"))]


def digits_files() -> list[Path]:
    """The digit PNGs, ``cache/builtin/digits-v1/<digit>/<index>.png``, written on first use."""
    from .data import cache_dir

    folder = cache_dir() / "builtin" / f"digits-v{DIGITS_VERSION}"
    if not folder.exists():
        _write_digits(folder)
    return sorted(folder.rglob("*.png"), key=lambda path: path.name)  # scikit-learn's order: digits mixed


def _digits_table() -> np.ndarray:
    """(1797, 65): 64 pixel values from 0 to 16, row by row, then the digit."""
    found = importlib.util.find_spec("sklearn")
    table = Path(found.origin).parent / "datasets" / "data" / "digits.csv.gz" if found else None
    if table is None or not table.exists():
        raise MuseError("the built-in digits come with scikit-learn: pip install scikit-learn")
    return np.loadtxt(table, delimiter=",", dtype=np.float64)


def _write_digits(folder: Path) -> None:
    """All digits as 8-bit grey PNGs, ``<digit>/<index>.png``."""
    from PIL import Image

    def write(temporary: Path) -> None:
        for index, row in enumerate(_digits_table()):
            pixels = np.round(row[:64].reshape(8, 8) * 255 / 16).astype(np.uint8)
            target = temporary / str(int(row[64])) / f"{index:04d}.png"
            target.parent.mkdir(exist_ok=True)
            Image.fromarray(pixels, "L").save(target)

    _materialize(folder, write)


NOTES_VERSION = 1  # bump when the written files change
NOTE_PITCHES = range(48, 84)  # C3 to B5
NOTE_PROGRAMS = (0, 11, 19, 24, 40, 56, 71, 73)  # piano, vibraphone, organ, guitar, violin, trumpet, clarinet, flute
NOTE_VELOCITIES = (70, 110)
NOTE_SECONDS, NOTE_SPACING, CLIP_SECONDS = 0.75, 1.25, 1.0


def notes_files(sample_rate: int) -> list[Path]:
    """The note WAVs, ``cache/builtin/notes-v1-RATE-SYNTH/<pitch>/<program>-<velocity>.wav``,
    rendered on first use; listed instrument by instrument, so a ``data.limit`` takes every pitch."""
    from .data import cache_dir
    from .render import find_soundfont

    synth = "fluidsynth" if shutil.which("fluidsynth") and find_soundfont() else "builtin"
    folder = cache_dir() / "builtin" / f"notes-v{NOTES_VERSION}-{sample_rate}-{synth}"
    if not folder.exists():
        _write_notes(folder, sample_rate, synth)
    return sorted(folder.rglob("*.wav"), key=lambda path: (path.name, int(path.parent.name)))


def _write_notes(folder: Path, sample_rate: int, synth: str) -> None:
    """One rendering per instrument, every pitch and loudness in turn ``NOTE_SPACING`` apart,
    cut into one clip per note (rendering once is much faster than once per note)."""
    import pretty_midi
    import soundfile

    from .render import render

    notes = [(pitch, velocity) for pitch in NOTE_PITCHES for velocity in NOTE_VELOCITIES]
    clip = round(CLIP_SECONDS * sample_rate)

    def write(temporary: Path) -> None:
        for program in NOTE_PROGRAMS:
            piece = pretty_midi.PrettyMIDI(initial_tempo=120)
            instrument = pretty_midi.Instrument(program)
            instrument.notes = [pretty_midi.Note(velocity, pitch, index * NOTE_SPACING, index * NOTE_SPACING + NOTE_SECONDS)
                                for index, (pitch, velocity) in enumerate(notes)]
            piece.instruments.append(instrument)
            sound = render(piece, sample_rate, synth=synth)
            for index, (pitch, velocity) in enumerate(notes):
                start = round(index * NOTE_SPACING * sample_rate)
                target = temporary / str(pitch) / f"{program:03d}-{velocity}.wav"
                target.parent.mkdir(exist_ok=True)
                soundfile.write(str(target), sound[start:start + clip], sample_rate, subtype="PCM_16")

    _materialize(folder, write)


def _materialize(folder: Path, write) -> None:
    """``write(temporary_folder)``, then the folder renamed to ``folder``: a killed process leaves
    no half set behind, and two processes doing it at once both end well."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        write(temporary)
        os.replace(temporary, folder)
    except OSError:
        if not folder.exists():
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
