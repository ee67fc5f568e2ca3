"""MIDI to audio: a piece (``pretty_midi.PrettyMIDI``) becomes a mono waveform to listen to.

Two synthesizers. FluidSynth plays the piece with a General MIDI SoundFont (recorded
instruments) when the ``fluidsynth`` program and a SoundFont are installed. The built-in
additive synthesizer needs nothing but numpy, so every machine can render: each General MIDI
family has its own harmonic recipe and envelope, and drums are shaped noise.

Units: note times are seconds, as pretty_midi gives them (tempo changes already applied);
a waveform is a 1-D float32 array of samples at ``sample_rate`` Hz, in [-1, 1].

Example::

    waveform = render(song)                         # a pretty_midi.PrettyMIDI
    write_atomically(Path("song.wav"), wav_bytes(waveform, SAMPLE_RATE))
"""

from __future__ import annotations

import glob
import io
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import MuseError

if TYPE_CHECKING:
    import pretty_midi

SAMPLE_RATE = 22050
SYNTHS = ("auto", "fluidsynth", "builtin")
PEAK = 0.9  # loudest sample after mixing: headroom so the 16-bit WAV never clips
NOTE_LEVEL = 0.2  # peak of one velocity-127 note: a loud four-part chord lands near PEAK
SILENCE_S = 0.5  # what a piece without notes renders to
FLUIDSYNTH_GAIN = 0.6  # FluidSynth's default (0.2) leaves a solo line very quiet
FLUIDSYNTH_TAIL_S = 1.5  # kept after the last note ends: its release and reverb (FluidSynth renders several seconds)

SOUNDFONT_VARIABLE = "MUSE_GAN_SOUNDFONT"
# Looked through in this order; a pattern's matches in name order. The first two are what
# Debian's fluid-soundfont-gm and timgm6mb-soundfont install.
SOUNDFONT_PLACES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/*.sf2",
    "/usr/share/sounds/sf3/*.sf3",
    "~/.local/share/soundfonts/*.sf2",
)


def render(
    piece: pretty_midi.PrettyMIDI,
    sample_rate: int = SAMPLE_RATE,
    soundfont: str | Path | None = None,
    synth: str = "auto",
) -> np.ndarray:
    """Mono float32 waveform in [-1, 1] of the whole piece, plus a short release tail.

    ``synth`` is "auto" (FluidSynth when the ``fluidsynth`` program and a General MIDI
    SoundFont are found: ``soundfont``, else ``find_soundfont()``; otherwise the built-in
    synthesizer), "fluidsynth" (a ``MuseError`` if the program or a SoundFont is missing) or
    "builtin". A ``soundfont`` that is given must exist, whatever ``synth`` says.
    """
    if synth not in SYNTHS:
        raise MuseError(f"unknown synthesizer {synth!r} (known: {', '.join(SYNTHS)})")
    if synth == "builtin":
        return synthesize(piece, sample_rate)
    font = find_soundfont() if soundfont is None else _existing_soundfont(soundfont, str(soundfont))
    program = shutil.which("fluidsynth")
    if synth == "auto" and (program is None or font is None):
        return synthesize(piece, sample_rate)
    if font is None:
        raise MuseError(
            f"no General MIDI SoundFont found: pass one, set ${SOUNDFONT_VARIABLE}, "
            "or install one (Debian: timgm6mb-soundfont)"
        )
    if program is None:
        raise MuseError(
            "the fluidsynth program is not installed (Debian: fluidsynth); "
            "the built-in synthesizer needs nothing"
        )
    return _fluidsynth(piece, sample_rate, program, font)


def find_soundfont() -> Path | None:
    """A General MIDI SoundFont: ``$MUSE_GAN_SOUNDFONT``, else the first of ``SOUNDFONT_PLACES``.

    A ``$MUSE_GAN_SOUNDFONT`` naming no file is a ``MuseError``, not skipped: the user asked
    for that SoundFont and should hear why it isn't used.
    """
    chosen = os.environ.get(SOUNDFONT_VARIABLE)
    if chosen:
        return _existing_soundfont(chosen, f"${SOUNDFONT_VARIABLE}={chosen}")
    for pattern in SOUNDFONT_PLACES:
        for match in sorted(glob.glob(os.path.expanduser(pattern))):
            if Path(match).is_file():  # default-GM links can dangle
                return Path(match)
    return None


def _existing_soundfont(path: str | Path, named_as: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise MuseError(f"{named_as}: no such SoundFont file")
    return path


def wav_bytes(waveform: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV file bytes; the same waveform always gives the same bytes."""
    import soundfile

    buffer = io.BytesIO()
    samples = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    soundfile.write(buffer, samples, sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def _limit_peak(waveform: np.ndarray) -> np.ndarray:
    """Scaled down so the peak is at most ``PEAK``; never scaled up, so quiet stays quiet."""
    peak = float(np.max(np.abs(waveform), initial=0.0))
    gain = PEAK / peak if peak > PEAK else 1.0
    return (waveform * gain).astype(np.float32)


# --- FluidSynth ------------------------------------------------------------------------------


def _fluidsynth(piece, sample_rate: int, program: str, soundfont: Path) -> np.ndarray:
    """The piece played by the ``fluidsynth`` program, with ``FLUIDSYNTH_TAIL_S`` of its release tail."""
    import soundfile

    with tempfile.TemporaryDirectory(prefix="muse-render-") as folder:
        midi, wav = Path(folder) / "piece.mid", Path(folder) / "piece.wav"
        piece.write(str(midi))
        # Float samples: 16-bit output would be dithered, and then quantized a second time.
        _run_fluidsynth(
            [
                program,
                "-ni",
                "-q",
                "-g",
                str(FLUIDSYNTH_GAIN),
                "-r",
                str(sample_rate),
                "-T",
                "wav",
                "-O",
                "float",
                "-F",
                str(wav),
                str(soundfont),
                str(midi),
            ],
            soundfont,
        )
        try:
            audio, rate = soundfile.read(wav, dtype="float32", always_2d=True)
        except RuntimeError as error:
            raise MuseError(
                f"fluidsynth wrote no readable audio with SoundFont {soundfont} ({error})"
            ) from None
    mono = audio.mean(axis=1)[: round((piece.get_end_time() + FLUIDSYNTH_TAIL_S) * rate)]
    if rate != sample_rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate)
    return _limit_peak(mono)


def _run_fluidsynth(command: list[str], soundfont: Path) -> None:
    try:
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise MuseError(f"fluidsynth could not be started: {error}") from None
    # FluidSynth exits 0 even when it cannot load the SoundFont (it then plays its own default
    # instead), so any error it prints counts as a failure.
    errors = [line for line in finished.stderr.splitlines() if "error" in line.lower()]
    if finished.returncode or errors:
        reason = (
            errors or finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"]
        )[0]
        raise MuseError(f"fluidsynth failed with SoundFont {soundfont}: {reason}")


# --- The built-in synthesizer ------------------------------------------------------------------


def synthesize(piece: pretty_midi.PrettyMIDI, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The piece played by the built-in additive synthesizer: mono float32 in [-1, 1].

    Honours each note's start and end (seconds), velocity, and its instrument's General MIDI
    ``program`` and ``is_drum``; pitch bends and controllers are ignored. Deterministic: the
    same piece always gives the same samples. Each note is mixed in as it is made, so memory
    holds the mix and one note, however many notes the piece has.
    """
    notes = [(note, instrument) for instrument in piece.instruments for note in instrument.notes]
    ends = [
        round(note.start * sample_rate) + _note_samples(note, instrument, sample_rate)
        for note, instrument in notes
    ]
    mix = np.zeros(max([round(SILENCE_S * sample_rate)] + ends))
    steady = SteadyParts(sample_rate)
    for note, instrument in notes:
        start = round(note.start * sample_rate)
        sound = _note_sound(note, instrument, sample_rate, steady)
        mix[start : start + sound.size] += sound
    return _limit_peak(mix)


def _note_samples(note, instrument, sample_rate: int) -> int:
    """How many samples a note sounds for, its release or a drum's ring included."""
    if instrument.is_drum:
        return _samples(_drum_sound(note.pitch).length_s, sample_rate)
    release_s = FAMILY_VOICES[instrument.program // 8].release_s
    return _samples(max(note.end - note.start, 0.0) + release_s, sample_rate)


def _samples(seconds: float, sample_rate: int) -> int:
    return max(round(seconds * sample_rate), 0)


def _note_sound(note, instrument, sample_rate: int, steady: SteadyParts) -> np.ndarray:
    """One note's samples, from its start."""
    level = NOTE_LEVEL * (note.velocity / 127) ** 2  # about 40 dB from velocity 1 to 127
    if instrument.is_drum:
        noise = _note_noise(note, instrument, sample_rate)
        return level * _drum_hit(_drum_sound(note.pitch), sample_rate, noise)
    voice = FAMILY_VOICES[instrument.program // 8]
    noise = _note_noise(note, instrument, sample_rate) if voice.breath else None
    return level * _pitched_note(note, voice, sample_rate, noise, steady)


def _note_noise(note, instrument, sample_rate: int) -> np.random.Generator:
    """Noise seeded by the note itself, so it repeats."""
    seed = [
        note.pitch,
        max(round(note.start * sample_rate), 0),
        instrument.program,
        int(instrument.is_drum),
    ]
    return np.random.default_rng(seed)


def _time_axis(seconds: float, sample_rate: int) -> np.ndarray:
    return np.arange(_samples(seconds, sample_rate)) / sample_rate


def _fade_out(t: np.ndarray, end_s: float, fade_s: float) -> np.ndarray:
    """1 until ``fade_s`` before ``end_s``, then straight down to 0 at ``end_s``: no click."""
    return np.clip((end_s - t) / fade_s, 0.0, 1.0)


def _hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


@dataclass(frozen=True)
class Voice:
    """How a General MIDI family sounds: a harmonic recipe and an envelope. Times in seconds.

    A note is ``envelope(t) * sum_n harmonics[n-1] * brightness(t)**(n-1) * sin(n * phase(t))``,
    so ``brightness`` below 1 takes the upper harmonics down faster than the fundamental.
    """

    harmonics: tuple[float, ...]  # amplitude of harmonic 1 (the fundamental), 2, 3, ...
    attack_s: float
    decay_s: float  # time constant of the fall from the attack to `sustain`, for middle C
    sustain: float  # level held while the key is down, relative to the attack
    release_s: float  # fade to silence after the note ends
    high_decay: float = 0.0  # per second: brightness exp(-high_decay * t), highs die first (plucks)
    bloom_s: float = 0.0  # brightness grows as t / bloom_s: the tone brightens as it speaks (brass)
    vibrato_hz: float = 0.0
    vibrato_depth: float = 0.0  # fraction of the frequency
    breath: float = 0.0  # level of noise under the tone, relative to the tone's


def _series(count: int, rolloff: float, even: float = 1.0) -> tuple[float, ...]:
    """Harmonic n at n**-rolloff (1: sawtooth), even ones scaled by ``even`` (0: square)."""
    return tuple(n**-rolloff * (even if n % 2 == 0 else 1.0) for n in range(1, count + 1))


GUITAR = Voice(
    _series(12, 1.0), attack_s=0.003, decay_s=0.7, sustain=0.0, release_s=0.1, high_decay=4.0
)
STRINGS = Voice(
    _series(16, 1.0),
    attack_s=0.12,
    decay_s=0.5,
    sustain=1.0,
    release_s=0.25,
    vibrato_hz=5.5,
    vibrato_depth=0.004,
)
SYNTH_PAD = Voice(
    _series(10, 1.5),
    attack_s=0.35,
    decay_s=1.0,
    sustain=1.0,
    release_s=0.5,
    vibrato_hz=0.7,
    vibrato_depth=0.003,
)
# Indexed by program // 8: the sixteen General MIDI families, in their numbering order.
#
#
# mallets
#
#
#
#
#
#
# sound effects
FAMILY_VOICES = (
    Voice(
        _series(16, 1.3), attack_s=0.004, decay_s=1.0, sustain=0.0, release_s=0.12, high_decay=2.0
    ),  # piano
    Voice(
        _series(4, 2.5), attack_s=0.002, decay_s=0.5, sustain=0.0, release_s=0.15, high_decay=6.0
    ),
    Voice(
        (1.0, 0.7, 0.5, 0.45, 0.0, 0.3, 0.0, 0.25),
        attack_s=0.01,
        decay_s=0.1,
        sustain=1.0,
        release_s=0.06,
    ),  # organ: drawbars 8', 4', 2 2/3', 2', 1 1/3', 1'
    GUITAR,
    Voice(
        _series(6, 2.2), attack_s=0.006, decay_s=1.2, sustain=0.3, release_s=0.08, high_decay=1.5
    ),  # bass
    STRINGS,
    replace(STRINGS, attack_s=0.2, vibrato_hz=4.5),  # ensemble, choir
    Voice(
        _series(14, 0.8),
        attack_s=0.05,
        decay_s=0.4,
        sustain=0.85,
        release_s=0.12,
        bloom_s=0.08,
        vibrato_hz=5.0,
        vibrato_depth=0.002,
    ),  # brass
    Voice(
        _series(12, 1.2, even=0.2),
        attack_s=0.03,
        decay_s=0.3,
        sustain=0.9,
        release_s=0.08,
        vibrato_hz=5.0,
        vibrato_depth=0.002,
    ),  # reed: clarinet-like, odd harmonics
    Voice(
        (1.0, 0.08, 0.03),
        attack_s=0.06,
        decay_s=0.3,
        sustain=0.9,
        release_s=0.12,
        vibrato_hz=5.0,
        vibrato_depth=0.003,
        breath=0.02,
    ),  # pipe, flute
    Voice(
        _series(16, 1.0, even=0.0), attack_s=0.01, decay_s=0.2, sustain=0.9, release_s=0.08
    ),  # synth lead
    SYNTH_PAD,
    replace(SYNTH_PAD, bloom_s=0.5, breath=0.05),  # synth effects
    replace(GUITAR, harmonics=_series(14, 0.8), decay_s=0.5),  # ethnic: sitar, banjo, koto
    Voice(
        _series(3, 2.0), attack_s=0.002, decay_s=0.2, sustain=0.0, release_s=0.08, high_decay=8.0
    ),  # percussive
    Voice(_series(2, 2.0), attack_s=0.02, decay_s=0.3, sustain=0.7, release_s=0.2, breath=0.5),
)


class SteadyParts:
    """What every note of one voice and pitch shares, from its start: its time axis, its tone
    (the harmonics, without breath noise) and its envelope up to the release. Computed once per
    voice and pitch, as long as the longest such note asks (a longer one computes it again, at
    least twice as long), and cut to each note's length: a piece's thousands of notes cost a
    multiply-add per sample each, not one per harmonic. Each sample is computed from its own
    time alone, so a cut is the very samples the note would have computed itself."""

    def __init__(self, sample_rate: int):
        self.sample_rate, self.parts = sample_rate, {}

    def __call__(self, voice: Voice, pitch: int, size: int) -> tuple[np.ndarray, ...]:
        """(time axis in seconds, tone, envelope before the release), ``size`` samples each."""
        parts = self.parts.get((voice, pitch))
        if parts is None or parts[0].size < size:
            longer = max(size, 2 * parts[0].size) if parts else size
            parts = self.parts[(voice, pitch)] = self._compute(voice, pitch, longer)
        return tuple(part[:size] for part in parts)

    def _compute(self, voice: Voice, pitch: int, size: int) -> tuple[np.ndarray, ...]:
        t = np.arange(size) / self.sample_rate
        frequency = _hz(pitch)
        tone = _harmonic_sum(
            _phase(t, frequency, voice),
            _audible(voice, frequency, self.sample_rate),
            _brightness(t, voice),
        )
        return t, tone, _attack_and_decay(t, voice, pitch)


def _pitched_note(
    note, voice: Voice, sample_rate: int, rng: np.random.Generator | None, steady: SteadyParts
) -> np.ndarray:
    duration = max(note.end - note.start, 0.0)
    size = _samples(duration + voice.release_s, sample_rate)
    t, tone, shape = steady(voice, note.pitch, size)
    if voice.breath:
        tone = tone + voice.breath * rng.standard_normal(size)
    release = _fade_out(t, duration + voice.release_s, voice.release_s)
    return shape * release * tone


def _phase(t: np.ndarray, frequency: float, voice: Voice) -> np.ndarray:
    """Radians of the fundamental; vibrato enters as the integral of a sine-wobbling frequency."""
    phase = 2 * np.pi * frequency * t
    if voice.vibrato_hz:
        phase += (
            frequency
            * voice.vibrato_depth
            / voice.vibrato_hz
            * (1 - np.cos(2 * np.pi * voice.vibrato_hz * t))
        )
    return phase


def _audible(voice: Voice, frequency: float, sample_rate: int) -> np.ndarray:
    """The voice's harmonics at equal total power, less those above Nyquist (they would alias)."""
    amplitudes = np.asarray(voice.harmonics)
    amplitudes = amplitudes / np.sqrt(np.sum(amplitudes**2))
    highest = frequency * (1 + voice.vibrato_depth) * np.arange(1, amplitudes.size + 1)
    return amplitudes[highest < sample_rate / 2]


def _brightness(t: np.ndarray, voice: Voice) -> np.ndarray | float:
    brightness = np.exp(-voice.high_decay * t) if voice.high_decay else 1.0
    if voice.bloom_s:
        brightness = brightness * np.minimum(t / voice.bloom_s, 1.0)
    return brightness


def _harmonic_sum(phase: np.ndarray, amplitudes: np.ndarray, brightness) -> np.ndarray:
    """sum_n amplitudes[n-1] * brightness**(n-1) * sin(n * phase).

    sin(n x) comes from the recurrence sin(n x) = 2 cos(x) sin((n-1) x) - sin((n-2) x): a
    multiply-add per harmonic instead of a sine, which keeps a whole piece under a second.
    """
    twice_cos = 2 * np.cos(phase)
    previous, current = np.zeros_like(phase), np.sin(phase)
    total, weight = np.zeros_like(phase), 1.0
    for amplitude in amplitudes:
        if amplitude:
            total += amplitude * weight * current
        previous, current = current, twice_cos * current - previous
        weight = weight * brightness
    return total


def _attack_and_decay(t: np.ndarray, voice: Voice, pitch: int) -> np.ndarray:
    """Attack ramp and fall to the sustain level; the release after the key goes up is the
    note's own (``_fade_out``)."""
    decay_s = voice.decay_s * 2 ** ((60 - pitch) / 24)  # high strings ring shorter than low ones
    body = voice.sustain + (1 - voice.sustain) * np.exp(-t / decay_s)
    attack = np.minimum(t / voice.attack_s, 1.0)
    return attack * body


@dataclass(frozen=True)
class DrumSound:
    """A General MIDI drum: a decaying noise burst plus a decaying, falling sine. Times in seconds.

    The drum rings for ``length_s`` whatever the note's length: drum hits are one-shots.
    """

    length_s: float
    noise: float = 0.0  # level of the noise burst
    noise_decay_s: float = 0.05
    noise_tilt: int = 0  # times the noise is differenced: each tilts it up 6 dB per octave
    tone: float = 0.0  # level of the sine
    tone_hz: float = 0.0  # where the sine settles
    sweep_hz: float = 0.0  # extra pitch at the hit, falling away with time constant sweep_s
    sweep_s: float = 0.04
    tone_decay_s: float = 0.1


KICK = DrumSound(
    0.45, noise=0.1, noise_decay_s=0.005, tone=1.0, tone_hz=50.0, sweep_hz=100.0, tone_decay_s=0.15
)
SNARE = DrumSound(
    0.3, noise=0.8, noise_decay_s=0.1, noise_tilt=1, tone=0.5, tone_hz=180.0, tone_decay_s=0.05
)
CLOSED_HAT = DrumSound(0.12, noise=0.6, noise_decay_s=0.03, noise_tilt=2)
OPEN_HAT = replace(CLOSED_HAT, length_s=0.6, noise_decay_s=0.2)
CYMBAL = DrumSound(1.8, noise=0.6, noise_decay_s=0.6, noise_tilt=2)
CLICK = DrumSound(0.08, noise=0.5, noise_decay_s=0.015, noise_tilt=1)  # every other percussion key
DRUM_SOUNDS = {
    35: KICK,
    36: KICK,
    38: SNARE,
    40: SNARE,
    42: CLOSED_HAT,
    44: CLOSED_HAT,
    46: OPEN_HAT,
    49: CYMBAL,
    51: CYMBAL,
    52: CYMBAL,
    55: CYMBAL,
    57: CYMBAL,
    59: CYMBAL,
}
TOM_KEYS = (41, 43, 45, 47, 48, 50)  # low floor tom up to high tom


def _drum_sound(key: int) -> DrumSound:
    if key in TOM_KEYS:
        pitch_hz = _hz(key + 7)  # 131 Hz (key 41) to 220 Hz (key 50)
        return DrumSound(
            0.5,
            noise=0.15,
            noise_decay_s=0.01,
            tone=1.0,
            tone_hz=pitch_hz,
            sweep_hz=0.3 * pitch_hz,
            tone_decay_s=0.2,
        )
    return DRUM_SOUNDS.get(key, CLICK)


def _drum_hit(sound: DrumSound, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    t = _time_axis(sound.length_s, sample_rate)
    hit = np.zeros_like(t)
    if sound.noise:
        hit += (
            sound.noise
            * _tilted_noise(rng, t.size, sound.noise_tilt)
            * np.exp(-t / sound.noise_decay_s)
        )
    if sound.tone:
        phase = (
            2
            * np.pi
            * (
                sound.tone_hz * t
                + sound.sweep_hz * sound.sweep_s * (1 - np.exp(-t / sound.sweep_s))
            )
        )
        hit += sound.tone * np.sin(phase) * np.exp(-t / sound.tone_decay_s)
    return hit * _fade_out(t, sound.length_s, sound.length_s / 4)


def _tilted_noise(rng: np.random.Generator, size: int, tilt: int) -> np.ndarray:
    """White noise differenced ``tilt`` times, at unit variance (a difference of order k has C(2k, k))."""
    noise = np.diff(rng.standard_normal(size + tilt), n=tilt)
    return noise / math.sqrt(math.comb(2 * tilt, tilt))
