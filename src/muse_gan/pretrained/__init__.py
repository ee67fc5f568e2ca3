"""Small pretrained models shipped inside the package, by name.

Each ``NAME.safetensors`` here is the ``model.safetensors`` of a run trained with
``configs/NAME.toml`` (see the README for the command that reproduces it).
"""

from pathlib import Path

FOLDER = Path(__file__).parent
DEFAULT = "bach-rnn"
DESCRIPTIONS = {
    "bach-rnn": "four-voice Bach chorales (SATB, 4/4, 16th-note steps); LSTM with a pitchwise head",
    "bach-gan": "the same chorales in C major / A minor as 4-bar segments; MuseGAN-style, harmonizes a soprano (--primer)",
    "bach-vae": "the same chorales as 2-bar segments; MusicVAE-style, for `muse interpolate`",
    "bach-coconet": "the same chorales; Coconet-style masked model, fills any bars and voices (`muse infill`, `muse harmonize`)",
    "folk-melody": "music21's folk tunes as one-line melodies in 4/4, 2/4, 3/4, 6/8 and 9/8; LSTM conditioned on the meter (`--meter 6/8`)",
    "palestrina": "Palestrina's masses, 4-6 voices ranked by height into six tracks (4/2, 8th-note steps); LSTM with a voicewise head, conditioned on the voice count (`--voices 5`)",
    "digits-gan": "scikit-learn's handwritten digits, 16 x 16; class-conditional GAN (`muse sample --label 7`)",
    "notes-gan": "one-second notes of 8 GM instruments as log-mel spectrograms; pitch-conditioned GAN (`--pitch 60`)",
    "folk-rnn": "music21's 12,949 folk tunes as ABC tokens; LSTM (`muse sample -o tune.abc`, or -o tune.mid)",
}


def bundled_path(name: str) -> Path | None:
    return FOLDER / f"{name}.safetensors" if name in DESCRIPTIONS else None
