"""The library face with the bundled models: load, compose, continue a primer, sample, morph,
animate; model files from elsewhere; and one way to a file: what the library writes is what
the command line writes."""

import pretty_midi
import pytest
import torch

import muse_gan
from muse_gan.api import load
from muse_gan.core import checkpoint as ckpt
from muse_gan.errors import MuseError
from muse_gan.pretrained import DEFAULT, DESCRIPTIONS, bundled_path

from ..conftest import write_quartet
from .test_cli import muse


def bar_seconds(model, tempo):
    return model.adapter.steps_per_bar / model.adapter.settings.steps_per_beat * 60 / tempo


# compose


def test_compose_returns_exactly_the_asked_bars():
    model = load()  # the default model
    piece = model.compose(bars=3, seed=1, tempo=120)
    assert isinstance(piece, pretty_midi.PrettyMIDI) and (piece.bars, piece.tempo) == (3, 120)
    assert piece.roll.shape == (4, 3 * model.adapter.steps_per_bar, model.adapter.pitches)
    assert piece.get_end_time() <= 3 * bar_seconds(model, 120) + 1e-9
    assert [(ts.numerator, ts.denominator) for ts in piece.time_signature_changes] == [(4, 4)]
    assert piece.get_tempo_changes()[1][0] == pytest.approx(120)
    assert [instrument.name for instrument in piece.instruments] == [
        "Soprano",
        "Alto",
        "Tenor",
        "Bass",
    ]
    low, high = model.adapter.settings.pitch_low, model.adapter.settings.pitch_high
    notes = [note for instrument in piece.instruments for note in instrument.notes]
    assert notes and all(low <= note.pitch <= high and note.velocity > 0 for note in notes)


def test_same_seed_same_piece_other_seed_other_piece():
    model = load("bach-rnn")
    first, again, other = (
        model.compose(bars=2, seed=seed).file_bytes(".mid") for seed in (5, 5, 6)
    )
    assert first == again
    assert first != other


def test_a_primer_is_continued(tmp_path):
    primer = write_quartet(tmp_path / "primer.mid")
    piece = load("bach-rnn").compose(bars=4, seed=2, primer=primer)
    original = pretty_midi.PrettyMIDI(str(primer))
    for voice, part in zip(piece.instruments, original.instruments):
        for mine, theirs in zip(voice.notes, part.notes[:-1]):  # the last may be held on
            assert (mine.pitch, round(mine.start, 6), round(mine.end, 6)) == (
                theirs.pitch,
                round(theirs.start, 6),
                round(theirs.end, 6),
            )
        assert (
            voice.notes[len(part.notes) - 1].pitch,
            round(voice.notes[len(part.notes) - 1].start, 6),
        ) == (part.notes[-1].pitch, round(part.notes[-1].start, 6))
    assert piece.get_end_time() > original.get_end_time()  # and it goes on after the primer
    assert piece.tempo == pytest.approx(100)  # at the primer's tempo


def test_a_primer_longer_than_the_piece_is_refused(tmp_path):
    primer = write_quartet(tmp_path / "primer.mid", bars=3)
    with pytest.raises(MuseError, match="--bars must be at least"):
        load("bach-gan").compose(bars=2, primer=primer)


@pytest.mark.parametrize("bars", [0, 257, 2.5, True])
def test_bars_out_of_range_or_not_whole_are_refused(bars):
    with pytest.raises(MuseError, match=f"^--bars {bars}: must be a whole number from 1 to 256$"):
        load("bach-gan").compose(bars=bars)


def test_bars_may_be_any_kind_of_integer():
    import numpy as np

    model = load("bach-gan")
    assert model.compose(bars=np.int64(2), seed=0).roll.equal(model.compose(bars=2, seed=0).roll)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(MuseError, match=DEFAULT):
        load("no-such-model")


@pytest.mark.parametrize("name", [name for name in DESCRIPTIONS if name.startswith("bach")])
def test_every_bundled_music_model_is_small_and_composes_sixteen_bars(name):
    path = bundled_path(name)
    assert path.stat().st_size <= 10 * 2**20
    model = muse_gan.load(None if name == DEFAULT else name)
    piece = model.compose(bars=16, seed=1)
    steps_per_bar = model.adapter.steps_per_bar
    assert piece.roll.shape == (4, 16 * steps_per_bar, model.adapter.pitches)
    sounding = piece.roll.reshape(4, 16, steps_per_bar, -1).any(dim=3).any(dim=2)  # (voice, bar)
    assert sounding.any(dim=1).all() and sounding.float().mean() >= 0.5  # every voice, in most bars
    assert len(piece.instruments) == 4


# the other modalities


def test_the_bundled_picture_model_is_small_and_samples_digits():
    assert bundled_path("digits-gan").stat().st_size <= 10 * 2**20
    images = muse_gan.load("digits-gan").sample(4, seed=1, label="5")
    # strokes, not a black square
    assert images.tensors.shape == (4, 1, 16, 16) and images.tensors.mean() > 0.05
    assert len(images) == 4 and images[0].size == (16, 16)  # and the items are pictures


def test_the_bundled_tune_model_is_small_and_writes_abc_that_becomes_midi():
    from muse_gan.modalities.text.adapter import tune_bytes

    assert bundled_path("folk-rnn").stat().st_size <= 10 * 2**20
    tune = muse_gan.load("folk-rnn").sample(1, seed=2)[0]
    assert tune.startswith("X:") and "K:" in tune
    assert tune_bytes(tune, ".mid").startswith(b"MThd")


# interpolate


def test_interpolate_gives_the_asked_number_of_one_segment_clips(tmp_path):
    model = load("bach-vae")
    start, end = write_quartet(tmp_path / "a.mid"), write_quartet(tmp_path / "b.mid", shift=5)
    clips = model.interpolate(start, end, steps=4, seed=1)
    segment = model.config.midi.window_bars
    assert len(clips) == 4 and all(clip.bars == segment for clip in clips)
    assert all(clip.get_end_time() <= segment * bar_seconds(model, 100) + 1e-9 for clip in clips)
    again = model.interpolate(start, end, steps=4, seed=1)
    assert [clip.file_bytes(".mid") for clip in clips] == [
        clip.file_bytes(".mid") for clip in again
    ]
    assert model.join(clips).roll.equal(torch.cat([clip.roll for clip in clips], dim=1))


def test_interpolate_needs_a_latent_space(tmp_path):
    start = write_quartet(tmp_path / "a.mid")
    with pytest.raises(MuseError, match="VAE"):
        load("bach-rnn").interpolate(start, start)


@pytest.mark.parametrize("bars", [1, 3, 5])
def test_a_vae_composes_any_number_of_bars(bars):
    model = load("bach-vae")  # trained on two-bar segments
    assert model.compose(bars=bars, seed=3).roll.shape[1] == bars * model.adapter.steps_per_bar


# one way to a file: the library's write() and the command line make the same bytes


@pytest.mark.parametrize(
    "name, suffix",
    [
        ("bach-rnn", ".mid"),
        ("bach-rnn", ".png"),
        ("bach-gan", ".mid"),
        ("bach-gan", ".png"),
        ("bach-gan", ".wav"),
    ],
)
def test_a_composed_piece_writes_what_muse_compose_writes(tmp_path, name, suffix):
    muse_gan.load(name).compose(bars=2, seed=3).write(tmp_path / f"library{suffix}")
    result = muse(
        "compose", "--model", name, "--bars", 2, "--seed", 3, "-o", tmp_path / f"cli{suffix}"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"library{suffix}").read_bytes() == (tmp_path / f"cli{suffix}").read_bytes()


def test_a_written_piece_ends_on_its_last_bar_line(tmp_path):
    """Even where the last bar ends in a rest, a DAW sees the whole bar."""
    import mido

    piece = load("bach-gan").compose(bars=2, seed=3)
    piece.write(tmp_path / "song.mid")
    assert mido.MidiFile(tmp_path / "song.mid").length == pytest.approx(
        2 * bar_seconds(piece, piece.tempo)
    )


@pytest.mark.parametrize(
    "name, suffix, options",
    [("digits-gan", ".png", {"label": "7"}), ("folk-rnn", ".abc", {"length": 60})],
)
def test_sampled_items_write_what_muse_sample_writes(tmp_path, name, suffix, options):
    muse_gan.load(name).sample(3, seed=2, **options).write(tmp_path / f"library{suffix}")
    flags = [part for key, value in options.items() for part in (f"--{key}", value)]
    result = muse(
        "sample", "--model", name, "-n", 3, "--seed", 2, *flags, "-o", tmp_path / f"cli{suffix}"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"library{suffix}").read_bytes() == (tmp_path / f"cli{suffix}").read_bytes()


def test_an_animation_writes_what_muse_animate_writes(tmp_path):
    muse_gan.load("digits-gan").animate(frames=6, seed=1, label="3").write(
        tmp_path / "library.gif", fps=8
    )
    result = muse(
        "animate",
        "--model",
        "digits-gan",
        "--frames",
        6,
        "--seed",
        1,
        "--label",
        3,
        "--fps",
        8,
        "-o",
        tmp_path / "cli.gif",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "library.gif").read_bytes() == (tmp_path / "cli.gif").read_bytes()


def test_joined_interpolations_write_what_muse_interpolate_writes(tmp_path):
    start, end = write_quartet(tmp_path / "a.mid"), write_quartet(tmp_path / "b.mid", shift=4)
    model = muse_gan.load("bach-vae")
    model.join(model.interpolate(start, end, steps=3, seed=1)).write(tmp_path / "library.mid")
    result = muse(
        "interpolate",
        start,
        end,
        "--model",
        "bach-vae",
        "--steps",
        3,
        "--seed",
        1,
        "-o",
        tmp_path / "cli.mid",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "library.mid").read_bytes() == (tmp_path / "cli.mid").read_bytes()


# model files from elsewhere: doctored, foreign, truncated, or a pickle


def doctored(tmp_path, change):
    """bach-rnn's model file with ``change(info)`` applied to its header, saved outside the
    package (files from elsewhere are checked before they are built)."""
    tensors, info = ckpt.load_checkpoint(bundled_path("bach-rnn"))
    change(info)
    info.pop("format"), info.pop("version")
    path = tmp_path / "doctored.safetensors"
    ckpt.save_checkpoint(path, tensors, info)
    return path


def test_an_undoctored_copy_of_a_model_file_loads_and_composes_alike(tmp_path):
    """So what the doctored ones below fail on is their change."""
    path = doctored(tmp_path, lambda info: None)
    assert (
        load(path).compose(bars=1, seed=0).roll.equal(load("bach-rnn").compose(bars=1, seed=0).roll)
    )


# built on the meta device: no memory taken
@pytest.mark.parametrize(
    "change, words",
    [
        (lambda info: info.pop("modality"), ["has no modality"]),
        (
            lambda info: info.update(modality="video"),
            ["unknown modality 'video'", "audio, image, midi, text"],
        ),
        (lambda info: info.update(adapter=[1, 2]), ["has no adapter"]),
        (lambda info: info["adapter"].update(colour="red"), ["unknown key 'midi.colour'"]),
        (
            lambda info: info["adapter"].update(steps_per_beat="four"),
            ["midi.steps_per_beat", "expected int"],
        ),
        (
            lambda info: info["config"]["model"].update(family="diffusion"),
            ["unknown model family 'diffusion'"],
        ),
        (
            lambda info: info["config"]["model"].update(hidden=10**12),
            [],
        ),
        (lambda info: info["config"]["model"].update(hidden=8), ["weights do not fit"]),
        (lambda info: info["config"]["train"].update(lr=[]), ["train.lr", "expected float"]),
    ],
)
def test_a_doctored_model_file_is_one_error_naming_it(tmp_path, change, words):
    path = doctored(tmp_path, change)
    with pytest.raises(MuseError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for word in words:
        assert word in message


class _Payload:
    """A pickle that, if it were ever unpickled, would create ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("name", ["model.safetensors", "model.pt"])
def test_loading_a_pickle_runs_no_code_from_it(tmp_path, name):
    path, marker = tmp_path / name, tmp_path / "the payload ran"
    torch.save({"model": _Payload(marker)}, path)
    with pytest.raises(MuseError, match=f"^{path}: not a muse_gan checkpoint"):
        load(path)
    assert not marker.exists()


def test_a_truncated_model_file_is_one_error_naming_it(tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(bundled_path("bach-rnn").read_bytes()[:5000])
    with pytest.raises(MuseError, match=f"^{path}: not a muse_gan checkpoint"):
        load(path)
