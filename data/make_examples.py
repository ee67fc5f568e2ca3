"""Makes the example inputs the README and docs use, from the chorales in music21's corpus.

    python data/make_examples.py          # writes data/primer.mid, data/melody.mid, data/my_midi/

- ``primer.mid``: the first two bars of Bach's chorale BWV 10.7, four voices: a clip to continue.
- ``melody.mid``: the soprano alone of its first four bars: a melody to harmonize.
- ``my_midi/``: eight four-bar, four-part excerpts of other chorales, as a folder of "your own"
  MIDI to train or fine-tune on.

The files are committed; running this again writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi

from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter
from muse_gan.modalities.midi.scores import bach_chorales, read_scores

HERE = Path(__file__).parent
EXCERPTS = (
    "bwv101.7.mxl",
    "bwv102.7.mxl",
    "bwv103.6.mxl",
    "bwv104.6.mxl",
    "bwv108.6.mxl",
    "bwv11.6.mxl",
    "bwv110.7.mxl",
    "bwv111.6.mxl",
)


def chorale_roll(name: str, rolls: PianoRollAdapter):
    path = next(path for path in bach_chorales() if path.name == name)
    return rolls.encode(read_scores(path, default_tempo=96.0)[0])


def write(piece: pretty_midi.PrettyMIDI, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(piece.file_bytes(".mid"))
    print(f"wrote {path}")


def main() -> None:
    rolls = PianoRollAdapter(MidiConfig(tempo=96.0))
    bar = rolls.steps_per_bar
    opening = chorale_roll("bwv10.7.mxl", rolls)
    write(rolls.piece(opening[:, : 2 * bar]), HERE / "primer.mid")
    melody = opening[:, : 4 * bar].clone()
    melody[1:] = 0  # only the soprano sounds
    write(rolls.piece(melody), HERE / "melody.mid")
    for name in EXCERPTS:
        write(
            rolls.piece(chorale_roll(name, rolls)[:, : 4 * bar]),
            HERE / "my_midi" / name.replace(".mxl", ".mid"),
        )


if __name__ == "__main__":
    main()
