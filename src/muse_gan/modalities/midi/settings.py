"""The ``[midi]`` config section: how pieces become piano rolls, and how rolls are trained on."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.config import register_section
from ...errors import ConfigError

# divisible by 2, 3, 4, 8, 12 and 16 steps per beat: note times land on exact ticks
TICKS_PER_BEAT = 480


@dataclass(frozen=True)
class RollGanTerms:
    """``[midi.gan]``: what piano rolls add to a GAN's training (see ``gan_terms``)."""

    # the critic also reads every track's pitch classes (MuseGAN's chroma stream)
    critic_chroma: bool = False
    # weight of matching each track's share of sounding steps to the data's
    activity_weight: float = 0.0
    # weight of matching each pair of tracks' tonal distance per bar to the data's
    harmony_weight: float = 0.0
    # weight of matching how often each track starts a note at each step of the bar
    rhythm_weight: float = 0.0
    voice_ranges: bool = False  # each track sounds only pitches it has in the training data


@register_section("midi")
@dataclass(frozen=True)
class MidiConfig:
    """Piano-roll settings. A beat is a quarter note; time is counted in steps of 1/steps_per_beat."""

    steps_per_beat: int = 4
    beats_per_bar: int = 4  # the model's time signature is beats_per_bar/4
    pitch_low: int = 28  # lowest MIDI pitch in the roll (inclusive)
    pitch_high: int = 96  # highest MIDI pitch in the roll (inclusive)
    track_mapping: str = "keep"  # "keep": one track per part/instrument; "merge": all into one
    track_names: tuple[str, ...] = ("Soprano", "Alto", "Tenor", "Bass")
    programs: tuple[int, ...] = (19, 19, 19, 19)  # General MIDI, 0-based (19: church organ)
    drum_tracks: tuple[int, ...] = ()  # indices of tracks written as drums (MIDI channel 10)
    require_parts: int = 0  # use only pieces with exactly this many parts (0: any)
    quantize: str = "round"  # "round": onsets/offsets to the nearest step; "sample": notes sounding at each step's start
    velocity: int = 80
    tempo: float = 100.0  # quarter notes per minute, when the caller gives none
    window_bars: int = 4  # training windows, in bars; windows start on bar lines
    transpose: int = 6  # augmentation: each training window shifted by a random interval of up to ± this many semitones
    # move every piece to C major or A minor first (its estimated key); see keys.py
    common_key: bool = False
    gan: RollGanTerms = field(default_factory=RollGanTerms)

    # Keys that lived in other sections before (config files and checkpoints of format 1 use them).
    MOVED = {
        "data.window_bars": "window_bars",
        "data.transpose": "transpose",
        "data.common_key": "common_key",
    } | {
        f"gan.{key}": f"gan.{key}"
        for key in (
            "critic_chroma",
            "activity_weight",
            "harmony_weight",
            "rhythm_weight",
            "voice_ranges",
        )
    }

    # What only training reads: the prepared cache does not depend on these.
    TRAINING_ONLY = ("window_bars", "transpose", "common_key", "gan")


def check(settings: MidiConfig) -> None:
    """Settings the dataclass types alone don't rule out: a ``ConfigError`` naming the key."""

    def fail(key, reason):
        raise ConfigError(f"midi.{key}: {reason}")

    if not 0 <= settings.pitch_low <= settings.pitch_high <= 127:
        fail("pitch_low", "need 0 <= pitch_low <= pitch_high <= 127")
    if settings.steps_per_beat < 1 or TICKS_PER_BEAT % settings.steps_per_beat:
        fail("steps_per_beat", f"must divide {TICKS_PER_BEAT}")
    if not 1 <= settings.beats_per_bar <= 32:
        fail("beats_per_bar", "must be from 1 to 32")
    if settings.track_mapping not in ("keep", "merge"):
        fail("track_mapping", 'must be "keep" or "merge"')
    if not 0 <= settings.require_parts <= 128:
        fail("require_parts", "must be from 0 (any) to 128 parts")
    if settings.quantize not in ("round", "sample"):
        fail("quantize", 'must be "round" or "sample"')
    if len(settings.programs) != len(settings.track_names) or not settings.track_names:
        fail("programs", "need one program per track name")
    if not all(0 <= program <= 127 for program in settings.programs):
        fail("programs", "General MIDI programs are 0-127")
    if not 1 <= settings.velocity <= 127:
        fail("velocity", "must be 1-127")
    if not 10 <= settings.tempo <= 400:
        fail("tempo", "must be from 10 to 400 quarter notes per minute")
    if not all(0 <= track < len(settings.track_names) for track in settings.drum_tracks):
        fail("drum_tracks", "must be track indices")
    if not 1 <= settings.window_bars <= 64:
        fail("window_bars", "must be from 1 to 64 bars")
    if not 0 <= settings.transpose <= 12:
        fail("transpose", "must be from 0 to 12 semitones")
    for key in ("activity_weight", "harmony_weight", "rhythm_weight"):
        if not 0 <= getattr(settings.gan, key) <= 1000:
            fail(f"gan.{key}", "must be from 0 to 1000")
