"""Rendering pieces to audio: pitch, timbre, drums, timing, determinism, levels, FluidSynth.

Pieces are built here, small: one held note, a drum hit, a few beats at a given tempo.
"""

import io
import shutil

import mido
import numpy as np
import pretty_midi
import pytest
import torch

from muse_gan.errors import MuseError
from muse_gan.modalities.midi.render import (
    PEAK,
    SAMPLE_RATE,
    SOUNDFONT_VARIABLE,
    find_soundfont,
    render,
    synthesize,
    wav_bytes,
)

PIANO, ORGAN, STRINGS, TRUMPET, FLUTE = 0, 19, 48, 56, 73
KICK, SNARE, CLOSED_HAT = 36, 38, 42
HAVE_FLUIDSYNTH = shutil.which("fluidsynth") is not None
HAVE_SOUNDFONT = find_soundfont() is not None
needs_fluidsynth = pytest.mark.skipif(
    not (HAVE_FLUIDSYNTH and HAVE_SOUNDFONT),
    reason="needs the fluidsynth program and a General MIDI SoundFont",
)


def held_note(pitch=69, program=PIANO, seconds=1.5, velocity=100, is_drum=False, start=0.0):
    """A piece of one note from ``start`` for ``seconds``."""
    piece = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program, is_drum=is_drum)
    instrument.notes.append(pretty_midi.Note(velocity, pitch, start, start + seconds))
    piece.instruments.append(instrument)
    return piece


def piece_in_beats(notes, tempos, program=ORGAN):
    """A MIDI file in ticks read back by pretty_midi, so its tempo map does the timing.

    ``notes`` are (pitch, start beat, end beat); ``tempos`` are (beat, beats per minute) changes.
    """
    ticks = 480
    events = [
        (round(beat * ticks), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        for beat, bpm in tempos
    ]
    events.append((0, 0, mido.Message("program_change", program=program)))
    for pitch, start, end in notes:
        events.append((round(start * ticks), 2, mido.Message("note_on", note=pitch, velocity=90)))
        events.append((round(end * ticks), 1, mido.Message("note_off", note=pitch)))
    track, now = mido.MidiTrack(), 0
    for tick, _, message in sorted(events, key=lambda event: event[:2]):
        track.append(message.copy(time=tick - now))
        now = tick
    file = io.BytesIO()
    mido.MidiFile(ticks_per_beat=ticks, tracks=[track]).save(file=file)
    file.seek(0)
    return pretty_midi.PrettyMIDI(file)


def between(waveform, start_s, end_s):
    return waveform[round(start_s * SAMPLE_RATE) : round(end_s * SAMPLE_RATE)]


def fundamental_hz(waveform):
    """The period from the autocorrelation peak over the note's steady middle, refined by a parabola.

    Autocorrelation peaks at the period even where an overtone is louder than the fundamental
    (as in many sampled pianos), which the highest FFT peak would not.
    """
    steady = between(waveform, 0.2, 1.0).astype(np.float64)
    correlation = np.fft.irfft(np.abs(np.fft.rfft(steady, 2 * steady.size)) ** 2)[: steady.size]
    shortest, longest = SAMPLE_RATE // 2000, SAMPLE_RATE // 100  # lags of 2000 Hz and 100 Hz
    lag = shortest + int(np.argmax(correlation[shortest:longest]))
    before, at, after = correlation[lag - 1 : lag + 2]
    return SAMPLE_RATE / (lag + 0.5 * (before - after) / (before - 2 * at + after))


def spectrum(waveform):
    """Frequencies (Hz) and power of a Hann-windowed stretch of samples."""
    power = np.abs(np.fft.rfft(waveform * np.hanning(waveform.size))) ** 2
    return np.fft.rfftfreq(waveform.size, 1 / SAMPLE_RATE), power


def spectral_centroid(waveform):
    """Power-weighted mean frequency: 440 Hz for a sine at A4, about twice that for a sawtooth."""
    frequencies, power = spectrum(waveform)
    return float(np.sum(frequencies * power) / np.sum(power))


def spectral_flatness(waveform):
    """Geometric over arithmetic mean of the power spectrum: near 1 for noise, near 0 for a tone."""
    power = spectrum(waveform)[1] + 1e-20
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


def rms(waveform):
    return float(np.sqrt(np.mean(waveform.astype(np.float64) ** 2)))


def sounding_span_s(waveform, threshold=0.05):
    """Seconds from the first to the last sample above ``threshold`` times the peak."""
    loud = np.flatnonzero(np.abs(waveform) > threshold * np.abs(waveform).max())
    return (loud[-1] - loud[0]) / SAMPLE_RATE


# --- pitch ---


def test_a_held_a4_sounds_at_440_hz_and_an_octave_up_at_880():
    a4 = fundamental_hz(synthesize(held_note(69)))
    a5 = fundamental_hz(synthesize(held_note(81)))
    assert a4 == pytest.approx(440, rel=0.01)
    assert a5 / a4 == pytest.approx(2, rel=0.01)


def test_harmonics_above_nyquist_are_dropped_not_aliased():
    sample_rate = 8000  # a 2637 Hz note: only its fundamental fits under 4000 Hz
    waveform = synthesize(held_note(100, TRUMPET), sample_rate)[sample_rate // 5 : sample_rate]
    power = np.abs(np.fft.rfft(waveform * np.hanning(waveform.size))) ** 2
    frequencies = np.fft.rfftfreq(waveform.size, 1 / sample_rate)
    near_fundamental = np.abs(frequencies - 2637) < 30
    assert power[near_fundamental].sum() > 0.999 * power.sum()


# --- timbre ---


@pytest.mark.parametrize("bright", [TRUMPET, STRINGS])
def test_a_flute_is_much_darker_than_brass_or_strings(bright):
    flute = spectral_centroid(between(synthesize(held_note(69, FLUTE)), 0.3, 1.0))
    sawtooth_like = spectral_centroid(between(synthesize(held_note(69, bright)), 0.3, 1.0))
    assert flute < 1.15 * 440 < 1.9 * 440 < sawtooth_like


def test_an_organ_holds_its_level_while_a_piano_decays():
    def late_over_early(program):
        waveform = synthesize(held_note(60, program, seconds=4.0))
        return rms(between(waveform, 3.0, 3.5)) / rms(between(waveform, 0.1, 0.6))

    assert late_over_early(ORGAN) > 0.9
    assert late_over_early(PIANO) < 0.3


def test_brass_gets_brighter_as_it_speaks():
    waveform = synthesize(held_note(57, TRUMPET))
    assert spectral_centroid(between(waveform, 0.0, 0.03)) < 0.7 * spectral_centroid(
        between(waveform, 0.3, 0.6)
    )


# --- drums ---


@pytest.mark.parametrize("key", [SNARE, CLOSED_HAT])
def test_a_snare_or_hat_is_noise_not_a_tone(key):
    hit = between(synthesize(held_note(key, seconds=0.1, is_drum=True)), 0.0, 0.1)
    tone = between(synthesize(held_note(69)), 0.0, 0.1)
    assert spectral_flatness(hit) > 0.05 > 1000 * spectral_flatness(tone)


def test_a_kick_sits_below_200_hz():
    frequencies, power = spectrum(
        between(synthesize(held_note(KICK, seconds=0.1, is_drum=True)), 0.0, 0.4)
    )
    assert power[frequencies < 200].sum() > 0.9 * power.sum()


# --- timing ---


@pytest.mark.parametrize(
    "tempos, beat, seconds",
    [
        ([(0, 120)], 4, 2.0),
        ([(0, 120), (4, 60)], 6, 4.0),  # four beats at 120, then two at 60
    ],
)
def test_a_note_starts_when_the_tempo_map_says(tempos, beat, seconds):
    waveform = synthesize(piece_in_beats([(69, beat, beat + 1)], tempos, program=PIANO))
    onset = np.flatnonzero(np.abs(waveform) > 0.1 * np.abs(waveform).max())[0] / SAMPLE_RATE
    assert onset == pytest.approx(seconds, abs=0.02)


def test_half_the_tempo_lasts_twice_as_long():
    melody = [(60 + step, step, step + 1) for step in range(8)]
    fast = sounding_span_s(synthesize(piece_in_beats(melody, [(0, 120)])))
    slow = sounding_span_s(synthesize(piece_in_beats(melody, [(0, 60)])))
    assert fast == pytest.approx(4.0, abs=0.1)
    assert slow / fast == pytest.approx(2, rel=0.03)


# --- determinism and levels ---


def band():
    """A few bars for everyone: piano chords, strings, flute, drums (noise included)."""
    piece = piece_in_beats(
        [(60 + 4 * (step % 3), step, step + 1) for step in range(8)], [(0, 100)], PIANO
    )
    for program, pitch in ((STRINGS, 48), (FLUTE, 79), (TRUMPET, 67)):
        voice = pretty_midi.Instrument(program)
        voice.notes += [
            pretty_midi.Note(110, pitch + step, step * 0.6, step * 0.6 + 0.6) for step in range(8)
        ]
        piece.instruments.append(voice)
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes += [
        pretty_midi.Note(120, key, step * 0.3, step * 0.3 + 0.1)
        for step, key in enumerate([KICK, CLOSED_HAT, SNARE, 46, 49, 45, 51, 39] * 2)
    ]
    piece.instruments.append(drums)
    return piece


def test_the_same_piece_gives_the_same_wav_bytes_and_another_piece_does_not():
    first = wav_bytes(synthesize(band()), SAMPLE_RATE)
    assert first[:4] == b"RIFF" and first == wav_bytes(synthesize(band()), SAMPLE_RATE)
    other = band()
    other.instruments[-1].notes[2].pitch = 40
    assert wav_bytes(synthesize(other), SAMPLE_RATE) != first


def test_a_loud_piece_is_limited_to_the_peak_and_a_quiet_one_is_not_boosted():
    loud = band()
    chord = pretty_midi.Instrument(ORGAN)
    chord.notes += [pretty_midi.Note(127, pitch, 0.0, 2.0) for pitch in range(48, 84, 3)]
    loud.instruments.append(chord)
    loud = synthesize(loud)
    assert np.isfinite(loud).all() and loud.dtype == np.float32
    assert np.abs(loud).max() == pytest.approx(PEAK, rel=1e-6)
    quiet, louder = (
        np.abs(synthesize(held_note(69, velocity=velocity))).max() for velocity in (40, 80)
    )
    assert 0 < quiet < louder < PEAK


def test_an_empty_piece_renders_as_a_short_silence():
    silence = render(pretty_midi.PrettyMIDI(), synth="builtin")
    assert 0 < silence.size <= SAMPLE_RATE and not silence.any()


def test_wav_bytes_holds_16_bit_mono_samples():
    import soundfile

    samples, sample_rate = soundfile.read(io.BytesIO(wav_bytes(synthesize(held_note(69)), 16000)))
    info = soundfile.info(io.BytesIO(wav_bytes(np.zeros(10), 16000)))
    assert sample_rate == 16000 and samples.ndim == 1
    assert (info.channels, info.subtype) == (1, "PCM_16")


# --- choosing a synthesizer and a SoundFont ---


def test_auto_falls_back_to_the_builtin_synthesizer_without_fluidsynth(monkeypatch):
    monkeypatch.setenv("PATH", "")
    piece = held_note(69, seconds=0.5)
    assert np.array_equal(render(piece), synthesize(piece))


def test_an_unknown_synthesizer_is_named_with_the_known_ones():
    with pytest.raises(MuseError, match="'moog'.*auto, fluidsynth, builtin"):
        render(held_note(), synth="moog")


def test_a_missing_soundfont_is_named(tmp_path):
    missing = tmp_path / "nowhere.sf2"
    for synth in ("fluidsynth", "auto"):
        with pytest.raises(MuseError, match="nowhere.sf2: no such SoundFont"):
            render(held_note(), soundfont=missing, synth=synth)


def test_the_soundfont_variable_comes_first_and_must_name_a_file(tmp_path, monkeypatch):
    chosen = tmp_path / "mine.sf2"
    chosen.write_bytes(b"RIFF")
    monkeypatch.setenv(SOUNDFONT_VARIABLE, str(chosen))
    assert find_soundfont() == chosen
    monkeypatch.setenv(SOUNDFONT_VARIABLE, str(tmp_path / "gone.sf2"))
    with pytest.raises(MuseError, match=f"\\${SOUNDFONT_VARIABLE}=.*gone.sf2"):
        find_soundfont()


@pytest.mark.skipif(not HAVE_FLUIDSYNTH, reason="needs the fluidsynth program")
def test_a_file_that_is_not_a_soundfont_is_a_clear_error(tmp_path):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"not a soundfont at all")
    with pytest.raises(MuseError, match="fluidsynth failed with SoundFont .*fake.sf2"):
        render(held_note(), soundfont=fake, synth="fluidsynth")


@needs_fluidsynth
def test_fluidsynth_plays_a4_at_440_hz_and_an_octave_up_at_880():
    a4 = fundamental_hz(render(held_note(69), synth="fluidsynth"))
    a5 = fundamental_hz(render(held_note(81), synth="fluidsynth"))
    assert a4 == pytest.approx(440, rel=0.01)
    assert a5 / a4 == pytest.approx(2, rel=0.01)


@needs_fluidsynth
def test_fluidsynth_gives_the_same_wav_bytes_every_time_within_the_peak():
    first = render(band(), synth="fluidsynth")
    assert wav_bytes(first, SAMPLE_RATE) == wav_bytes(
        render(band(), synth="fluidsynth"), SAMPLE_RATE
    )
    assert first.dtype == np.float32 and 0.1 < np.abs(first).max() <= PEAK


def test_a_piece_a_model_made_writes_the_wav_that_render_makes(tmp_path):
    from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter

    roll = np.zeros((4, 16, 69), dtype=np.uint8)
    roll[0, 0:8, 41] = roll[3, 0:16, 20] = 1  # a soprano's half note over a held bass
    piece = PianoRollAdapter(MidiConfig()).decode(torch.from_numpy(roll))
    piece.write(tmp_path / "piece.wav")
    assert (tmp_path / "piece.wav").read_bytes() == wav_bytes(render(piece), SAMPLE_RATE)
    # one 4/4 bar at 100 qpm, plus the release
    assert 2.4 <= len(render(piece)) / SAMPLE_RATE <= 4.0


@pytest.mark.parametrize("program", [PIANO, FLUTE])  # a flute breathes: noise of its own per note
def test_a_note_sounds_the_same_after_shorter_and_longer_notes_of_its_pitch(program):
    """The built-in synthesizer computes a voice's tone once per pitch and cuts each note's
    from it: a note among others of its pitch (shorter before it, longer after) sounds as it
    does alone."""
    lengths_s, gap_s = (0.2, 0.05, 1.3, 0.6), 2.0
    piece = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program)
    for number, seconds in enumerate(lengths_s):
        start = number * gap_s
        instrument.notes.append(pretty_midi.Note(100, 64, start, start + seconds))
    piece.instruments.append(instrument)
    together = synthesize(piece)
    for number, seconds in enumerate(lengths_s):
        start = round(number * gap_s * SAMPLE_RATE)
        alone = synthesize(held_note(64, program, seconds, start=number * gap_s))[start:]
        assert np.array_equal(together[start : start + alone.size], alone)
