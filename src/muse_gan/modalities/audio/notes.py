"""The built-in sounds: single notes rendered from MIDI (FluidSynth with a General MIDI SoundFont
when both are installed, else the built-in synthesizer), 36 pitches × 8 instruments × 2
loudnesses, as one-second WAVs, one folder per MIDI pitch. Nothing downloads.

They are written once into the cache, so they go through the same reader, labels and cache as
a folder of the user's own sounds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ...core.store import cache_dir
from ...files import materialize
from ..midi.render import find_soundfont, render

NOTES_VERSION = 1  # bump when the written files change
NOTE_PITCHES = range(48, 84)  # C3 to B5
# piano, vibraphone, organ, guitar, violin, trumpet, clarinet, flute
NOTE_PROGRAMS = (
    0,
    11,
    19,
    24,
    40,
    56,
    71,
    73,
)
NOTE_VELOCITIES = (70, 110)
NOTE_SECONDS, NOTE_SPACING, CLIP_SECONDS = 0.75, 1.25, 1.0


def notes_files(sample_rate: int) -> list[Path]:
    """The note WAVs, ``cache/builtin/notes-v1-RATE-SYNTH/<pitch>/<program>-<velocity>.wav``,
    rendered on first use; listed instrument by instrument, so a ``data.limit`` takes every pitch."""
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

    notes = [(pitch, velocity) for pitch in NOTE_PITCHES for velocity in NOTE_VELOCITIES]
    clip = round(CLIP_SECONDS * sample_rate)

    def write(temporary: Path) -> None:
        for program in NOTE_PROGRAMS:
            piece = pretty_midi.PrettyMIDI(initial_tempo=120)
            instrument = pretty_midi.Instrument(program)
            instrument.notes = [
                pretty_midi.Note(
                    velocity, pitch, index * NOTE_SPACING, index * NOTE_SPACING + NOTE_SECONDS
                )
                for index, (pitch, velocity) in enumerate(notes)
            ]
            piece.instruments.append(instrument)
            sound = render(piece, sample_rate, synth=synth)
            for index, (pitch, velocity) in enumerate(notes):
                start = round(index * NOTE_SPACING * sample_rate)
                target = temporary / str(pitch) / f"{program:03d}-{velocity}.wav"
                target.parent.mkdir(exist_ok=True)
                soundfile.write(
                    str(target), sound[start : start + clip], sample_rate, subtype="PCM_16"
                )

    materialize(folder, write)
