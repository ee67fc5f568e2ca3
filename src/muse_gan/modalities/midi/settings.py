"""The ``[midi]`` config section: how pieces become piano rolls, and how rolls are trained on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...core.config import register_section, toml_key
from ...errors import ConfigError
from ...options import PULLS

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
    # each track is one voice: at a step it sounds one pitch or rests (its pitches share one
    # softmax with a rest), so it cannot sound chords or split a note across neighbouring pitches
    one_note_per_voice: bool = False
    # with one_note_per_voice: notes are decoded voice by voice as the likeliest path through
    # rest and pitches, each change of note costing this many nats (0: the likeliest at each step)
    note_change_cost: float = 0.0


@register_section("midi")
@dataclass(frozen=True)
class MidiConfig:
    """Piano-roll settings. Time is counted in steps of 1/steps_per_beat quarter note.

    The track settings (``track_mapping``, ``track_names``, ``programs``, ``drum_tracks``), the
    dynamics, the meters and what a model is conditioned on can each be left to the data
    ("auto", empty): training then fills them in from what it reads, prints them in one line and
    stores them in the run's config (see ``layout`` and ``docs/your-midi.md``).
    """

    steps_per_beat: int = 4
    # "auto": each piece's own time signatures (a piece whose meter changes is cut at the
    # changes); "N/D": every piece read with bar lines every N/D (the bundled chorale models: "4/4")
    meter: str = "auto"
    pitch_low: int = 28  # lowest MIDI pitch in the roll (inclusive)
    pitch_high: int = 96  # highest MIDI pitch in the roll (inclusive)
    # "auto" (from the data), "keep" (one track per part: by name, else in order), "merge" (all
    # pitched parts in one), "families" (one per General MIDI family), "voices" (parts ranked by
    # height into voice slots, highest first, lowest last)
    track_mapping: str = "auto"
    track_names: tuple[str, ...] = ()
    programs: tuple[int, ...] = ()  # General MIDI, 0-based, one per track
    drum_tracks: tuple[
        int, ...
    ] = ()  # indices of tracks of drums (MIDI channel 10, onsets on the GM drum map)
    require_parts: int = 0  # use only pieces with exactly this many parts (0: any)
    quantize: str = "round"  # "round": onsets/offsets to the nearest step; "sample": notes sounding at each step's start
    # "auto": note velocities modelled when the data's vary, else every note gets the data's one
    # velocity; "on"; "off" (every note gets ``velocity``)
    dynamics: str = "auto"
    velocity_bins: int = 8  # velocities modelled as this many equal bins of 1-127
    velocity: int = 80  # the velocity of every note when dynamics are off
    # also model where notes start, so a repeated note stays two notes (on whenever dynamics are)
    onsets: bool = False
    # what a model is conditioned on: "meter" (compose in any meter it knows: --meter 6/8),
    # "voices" (compose for as many voices as asked: --voices 5); ["auto"]: the meter when the
    # data has several
    conditions: tuple[str, ...] = ("auto",)
    meters: tuple[str, ...] = ()  # the meters a model knows, most frequent first (from the data)
    tempo: float = 100.0  # quarter notes per minute, when the caller gives none
    window_bars: int = 4  # training windows, in bars; windows start on bar lines
    transpose: int = 6  # augmentation: each training window shifted by a random interval of up to ± this many semitones
    # move every piece to C major or A minor first (its estimated key); see keys.py
    common_key: bool = False
    # composing (RNN, VAE; the masked model at each Gibbs pass): how much is taken off the logit
    # of a pitch outside the key of the notes so far (keys.KeyLeaning), so that a long piece
    # stays in its key; 0: off
    key_hold: float = 1.0
    # composing frame by frame (RNN, VAE): how much is added to the logit of a pitch that
    # sounded in the frame before (keys.HeldNotes), so that a voice holds its notes rather than
    # flickering between pitches; below 0, a voice moves on sooner than the model would; 0: off
    note_hold: float = 0.0
    # composing frame by frame (RNN, VAE): the most semitones a voice's notes so far and a new
    # one may span before each semitone more costs a logit (keys.VoiceSpan), so that a melody
    # keeps its register instead of wandering off it; 0: off
    voice_span: int = 0
    # composing frame by frame (RNN, VAE): the same for all pitched tracks together
    # (keys.EnsembleSpan), so that a choir keeps its compass; 0: off
    ensemble_span: int = 0
    # composing frame by frame (RNN, VAE): how much is added to the logits of a voice that
    # sounded in the frame before, and taken off one that rested (keys.RestHold), so that its
    # rests are fewer and longer; 0: off
    rest_hold: float = 0.0
    # the pulls above for one class of a conditioned model, where its pieces need their own:
    # {"6 voices": {"rest_hold": 0.5}} (TOML: [midi.class_pulls."6 voices"]); a pull asked
    # for one piece (--rest-hold) still wins. A dict in a frozen dataclass: settings are never
    # hashed, and never changed in place (dataclasses.replace shares it)
    class_pulls: dict[str, dict[str, float]] = field(default_factory=dict)
    gan: RollGanTerms = field(default_factory=RollGanTerms)

    # Keys that lived in other sections before (config files and checkpoints of format 1 use them).
    MOVED: ClassVar[dict[str, str]] = {
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

    # What training fills in from the data when left at these defaults; a run resumed, or a model
    # fine-tuned, keeps the values its data gave.
    FROM_DATA: ClassVar[tuple[str, ...]] = (
        "track_mapping",
        "track_names",
        "programs",
        "drum_tracks",
        "dynamics",
        "velocity",
        "conditions",
        "meters",
    )

    # What a fine-tune (--init) may change: which pieces are read (their part count), the
    # training windows' transposition, the GAN's training terms and decoding, the pulls while
    # composing (key, held notes, a voice's span, the ensemble's, rests). The rest shapes what the
    # networks read and write.
    FINE_TUNABLE: ClassVar[tuple[str, ...]] = (
        "require_parts",
        "transpose",
        "gan",
        *PULLS,
        "class_pulls",
    )

    # What reading a file depends on: the prepared cache (note tables) is keyed by these alone.
    READING: ClassVar[tuple[str, ...]] = ("steps_per_beat", "quantize", "tempo")

    @staticmethod
    def legacy(values: dict) -> dict:
        """Settings written before meters, dynamics and inferred layouts (they have
        ``beats_per_bar``): one fixed meter x/4, flat velocity, no conditions, the old defaults
        (four voices, church organ), and a piece refused unless its parts are as many as the
        tracks, as those models were trained."""
        if "beats_per_bar" not in values:
            return values
        values = dict(values)
        meter = f"{values.pop('beats_per_bar')}/4"
        old = {
            "meter": meter,
            "dynamics": "off",
            "conditions": [],
            "track_mapping": "keep",
            "track_names": ["Soprano", "Alto", "Tenor", "Bass"],
            "programs": [19, 19, 19, 19],
        } | values
        if old["track_mapping"] == "keep" and not old.get("require_parts"):
            old["require_parts"] = len(old["track_names"])
        return old


MAPPINGS = ("auto", "keep", "merge", "families", "voices")
CONDITIONS = ("auto", "meter", "voices")
MAX_STEPS_PER_BEAT = 48


def check(settings: MidiConfig) -> None:
    """Settings the dataclass types alone don't rule out: a ``ConfigError`` naming the key."""

    def fail(key, reason):
        raise ConfigError(f"midi.{key}: {reason}")

    if not 0 <= settings.pitch_low <= settings.pitch_high <= 127:
        fail("pitch_low", "need 0 <= pitch_low <= pitch_high <= 127")
    if (
        not 1 <= settings.steps_per_beat <= MAX_STEPS_PER_BEAT
        or TICKS_PER_BEAT % settings.steps_per_beat
    ):
        fail("steps_per_beat", f"must divide {TICKS_PER_BEAT} (1 to {MAX_STEPS_PER_BEAT})")
    for meter in ((settings.meter,) if settings.meter != "auto" else ()) + settings.meters:
        try:
            bar_steps(meter, settings.steps_per_beat)
        except ValueError as error:
            fail("meter" if meter == settings.meter else "meters", f"{meter!r}: {error}")
    if settings.track_mapping not in MAPPINGS:
        fail("track_mapping", f"must be one of {', '.join(MAPPINGS)}")
    if settings.track_mapping not in ("auto", "merge") and not settings.track_names:
        fail("track_names", f'track_mapping "{settings.track_mapping}" needs the tracks named')
    if settings.programs and len(settings.programs) != len(settings.track_names):
        fail("programs", "need one program per track name")
    if not all(0 <= program <= 127 for program in settings.programs):
        fail("programs", "General MIDI programs are 0-127")
    if not all(0 <= track < len(settings.track_names) for track in settings.drum_tracks):
        fail("drum_tracks", "must be track indices")
    if not 0 <= settings.require_parts <= 128:
        fail("require_parts", "must be from 0 (any) to 128 parts")
    if settings.quantize not in ("round", "sample"):
        fail("quantize", 'must be "round" or "sample"')
    if settings.dynamics not in ("auto", "on", "off"):
        fail("dynamics", 'must be "auto", "on" or "off"')
    if not 2 <= settings.velocity_bins <= 32:
        fail("velocity_bins", "must be from 2 to 32")
    if not 1 <= settings.velocity <= 127:
        fail("velocity", "must be 1-127")
    if not set(settings.conditions) <= set(CONDITIONS) or (
        "auto" in settings.conditions and len(settings.conditions) > 1
    ):
        fail("conditions", 'must be ["auto"], or a list of "meter" and "voices" (or empty)')
    if not 10 <= settings.tempo <= 400:
        fail("tempo", "must be from 10 to 400 quarter notes per minute")
    if not 1 <= settings.window_bars <= 64:
        fail("window_bars", "must be from 1 to 64 bars")
    if not 0 <= settings.transpose <= 12:
        fail("transpose", "must be from 0 to 12 semitones")
    if not 0 <= settings.gan.note_change_cost <= 100:
        fail("gan.note_change_cost", "must be from 0 to 100 nats")
    _check_pulls("", {name: getattr(settings, name) for name in PULLS}, fail)
    for label, pulls in settings.class_pulls.items():
        _check_pulls(f"class_pulls.{toml_key(label)}.", pulls, fail)
    if settings.gan.one_note_per_voice and (settings.onsets or settings.dynamics == "on"):
        fail(
            "gan.one_note_per_voice",
            "needs a roll of sounding pitches only (onsets and dynamics off)",
        )
    for key in ("activity_weight", "harmony_weight", "rhythm_weight"):
        if not 0 <= getattr(settings.gan, key) <= 1000:
            fail(f"gan.{key}", "must be from 0 to 1000")


def _check_pulls(prefix: str, pulls: dict, fail) -> None:
    """``fail(key, reason)`` for the first of ``pulls`` (name → strength) that is no pull or out
    of its range (``options.Pull``); keys named after ``prefix``."""
    for name, strength in pulls.items():
        if name not in PULLS:
            fail(prefix + name, f"not a pull (known: {', '.join(PULLS)})")
        if not PULLS[name].takes(strength):
            fail(prefix + name, PULLS[name].allowed() + (" semitones" if PULLS[name].whole else ""))


def parse_meter(meter: str) -> tuple[int, int]:
    """ "6/8" → (6, 8); a ``ValueError`` saying why for anything else."""
    numerator, slash, denominator = meter.partition("/")
    if not (slash and numerator.isdigit() and denominator.isdigit()):
        raise ValueError("a meter is written like 4/4 or 6/8")
    numerator, denominator = int(numerator), int(denominator)
    if not 1 <= numerator <= 32 or denominator not in (1, 2, 4, 8, 16, 32):
        raise ValueError("a meter has 1-32 beats of a whole, half, quarter, eighth, 16th or 32nd")
    return numerator, denominator


def bar_steps(meter: str, steps_per_beat: int) -> int:
    """Steps in one bar of ``meter`` at ``steps_per_beat`` steps per quarter note; a
    ``ValueError`` when a bar is not a whole number of steps (3/8 needs 2 steps per quarter)."""
    numerator, denominator = parse_meter(meter)
    steps = numerator * steps_per_beat * 4 / denominator
    if steps != int(steps):
        raise ValueError(f"a bar is {steps:g} steps at {steps_per_beat} per quarter note")
    return int(steps)
