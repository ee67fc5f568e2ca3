"""`muse eval`: the set metrics on hand-computed fixtures, the overlap that ranks weights, and
the command on small folders of tunes and on what it refuses (tests/e2e/test_evaluate.py runs
it on chorales, pictures, sounds and trained models)."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from muse_gan.measures.sets import frechet_distance, kernel_distance, kmeans, ndb

from .test_cli import assert_one_clear_line, muse

# set metrics


def two_clusters(count: int, generator: torch.Generator, share_near: float = 0.5) -> torch.Tensor:
    """Points around (0, 0) (a ``share_near`` of them) and around (10, 10)."""
    near = int(count * share_near)
    centres = torch.tensor([[0.0, 0.0]] * near + [[10.0, 10.0]] * (count - near))
    return centres + torch.randn(count, 2, generator=generator) * 0.5


def test_kmeans_finds_two_obvious_clusters():
    centres = kmeans(two_clusters(200, torch.Generator().manual_seed(0)), 2)
    assert sorted(centres.round().abs().sum(1).tolist()) == [0.0, 20.0]


def test_kmeans_asks_for_no_more_cells_than_distinct_points():
    assert len(kmeans(torch.tensor([[1.0], [1.0], [2.0]]), 5)) == 2


def test_ndb_counts_the_cells_whose_shares_differ():
    generator = torch.Generator().manual_seed(1)
    reference = two_clusters(400, generator)
    same = ndb(two_clusters(400, generator), reference, bins=2)
    # 90% where the data has 50%
    lopsided = ndb(two_clusters(400, generator, share_near=0.9), reference, bins=2)
    assert (same.different, same.bins) == (0, 2)
    assert (lopsided.different, lopsided.share) == (2, 1.0)


def test_ndb_counts_correlated_rows_as_the_samples_behind_them():
    generator = torch.Generator().manual_seed(2)
    # 40 sounds of 25 alike frames
    reference = two_clusters(40, generator).repeat_interleave(25, dim=0)
    generated = two_clusters(40, generator, share_near=0.65).repeat_interleave(25, dim=0)
    # 1,000 rows each: 65% against 50% looks certain
    assert ndb(generated, reference, bins=2).different == 2
    # 40 sounds each: it is not
    assert ndb(generated, reference, bins=2, samples=(40, 40)).different == 0


def test_frechet_distance_by_hand():
    # 1-D: FID = (μ1 − μ2)² + (σ1 − σ2)²; first: mean 0, variance 2 (n − 1); second: mean 3, variance 8
    first = torch.tensor([[-1.0], [1.0], [-1.0], [1.0], [0.0], [0.0]]) * math.sqrt(2 * 5 / 4)
    second = 3 + 2 * first
    assert frechet_distance(first, first) == pytest.approx(0, abs=1e-9)
    assert frechet_distance(first, second) == pytest.approx(
        3**2 + (math.sqrt(2) - math.sqrt(8)) ** 2
    )
    shifted = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(shifted, shifted + torch.tensor([1.0, 2.0, 0.0, 0.0])) == pytest.approx(
        5.0
    )


def test_kernel_distance_by_hand_and_near_zero_for_one_distribution():
    # k(x, y) = (xy + 1)³ with one feature: within X 1, within Y 8, across 1 → 1 + 8 − 2
    assert kernel_distance(torch.zeros(2, 1), torch.ones(2, 1)) == pytest.approx(7.0)
    generator = torch.Generator().manual_seed(0)
    same = kernel_distance(
        torch.randn(300, 8, generator=generator), torch.randn(300, 8, generator=generator)
    )
    apart = kernel_distance(
        torch.randn(300, 8, generator=generator), 1 + torch.randn(300, 8, generator=generator)
    )
    assert abs(same) < 0.05 < apart
    assert math.isnan(kernel_distance(torch.zeros(1, 3), torch.zeros(5, 3)))


def test_a_file_that_is_not_inception_weights_is_one_clear_line(tmp_path):
    (tmp_path / "digits").mkdir()
    for name in ("a.png", "b.png"):
        Image.new("L", (8, 8), 255).save(tmp_path / "digits" / name)
    weights = tmp_path / "resnet.pth"
    torch.save({"conv.weight": torch.zeros(1)}, weights)
    result = muse(
        "eval",
        "--files",
        tmp_path / "digits",
        "--reference",
        tmp_path / "digits",
        "--inception",
        weights,
    )
    assert_one_clear_line(result, str(weights), "Inception")


def test_mean_overlap_scores_a_metric_the_samples_never_define_as_no_overlap():
    """Every ranking averages over the reference's metrics: silence (no tonal distance) can't
    drop a metric it fails and so rank above music that has it."""
    from muse_gan.evaluation.overlap import mean_overlap

    # undefined in the reference: left out
    reference = {
        "polyphony": np.array([3.0, 4.0, 4.0]),
        "tonal_distance": np.array([0.8, 0.9, 1.0]),
        "drum_pattern_rate": np.array([math.nan] * 3),
    }
    samples = {
        "polyphony": np.array([3.0, 4.0, 4.0]),
        "tonal_distance": np.array([math.nan] * 3),
        "drum_pattern_rate": np.array([0.5] * 3),
    }
    assert mean_overlap(reference, samples) == pytest.approx(0.5, abs=1e-3)  # (1 + 0) / 2


@pytest.mark.parametrize(
    "names, modality",
    [
        (["a.mid", "b.midi", "c.mxl", "notes.txt"], "midi"),  # most files decide
        (["tunes.abc"], "text"),  # a score to MIDI, but generated .abc files are a text model's
        (["0.png", "1.jpg", "tune.abc"], "image"),
        (["note.wav"], "audio"),
    ],
)
def test_the_kind_of_generated_files_is_told_by_their_suffixes(tmp_path, names, modality):
    from muse_gan.evaluation import infer_modality

    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert infer_modality(str(tmp_path)) == modality


TUNES = [
    "X:1\nT:Up\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n",
    "X:2\nT:Down\nM:3/4\nL:1/8\nK:D\nf2ed cB|A2F2 D2|E2FG AB|d6|\n",
]


def test_abc_tunes_get_a_parse_rate_and_ngram_divergences(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "made").mkdir()
    (tmp_path / "real" / "tunes.abc").write_text("\n".join(TUNES))
    (tmp_path / "made" / "tunes.abc").write_text(TUNES[0] + "\nX:3\nM:4/4\nK:C\n|: :| z z |\n")
    result = muse(
        "eval",
        "--files",
        tmp_path / "made",
        "--reference",
        tmp_path / "real",
        "--json",
        tmp_path / "r.json",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert (
        metrics["abc_parse_rate"]["reference"] == 1.0
        and metrics["abc_parse_rate"]["made"]["value"] == 0.5
    )
    assert 0 < metrics["js_1gram"]["made"]["value"] < metrics["js_4gram"]["made"]["value"] <= 1


@pytest.mark.parametrize(
    "args, words",
    [
        ([], ["--model", "--files"]),
        (["--model", "bach-rnn", "--files", "."], ["--model", "--files"]),
        (["--files", "/no/such/folder"], ["/no/such/folder"]),
        (["--model", "bach-rnn", "--modality", "image"], ["image", "midi"]),
        (["--model", "bach-rnn", "--temperature", "0"], ["--temperature"]),
        (
            ["--model", "folk-rnn", "--reference", "bach"],
            ["--reference bach:", "no such file", "built-in data here: folk"],
        ),
    ],
)
def test_bad_eval_options_are_one_clear_line(args, words):
    assert_one_clear_line(muse("eval", *args), *words)


def test_an_empty_folder_of_generated_files_is_one_clear_line(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "x.mid").write_bytes(b"not midi")
    assert_one_clear_line(muse("eval", "--files", tmp_path, "--reference", tmp_path), "usable")


def chorale_like(path, bars: int) -> None:
    """A four-part 4/4 file of ``bars`` bars, a quarter note per beat in each part."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120)  # a beat is 0.5 s
    for name, pitch in zip(["Soprano", "Alto", "Tenor", "Bass"], [72, 67, 64, 48]):
        part = pretty_midi.Instrument(19, name=name)
        part.notes = [
            pretty_midi.Note(80, pitch + beat % 3, beat * 0.5, beat * 0.5 + 0.5)
            for beat in range(4 * bars)
        ]
        midi.instruments.append(part)
    midi.write(str(path))


def test_long_windows_take_whole_pieces_at_least_half_as_long_when_too_few(tmp_path):
    # 16-bar windows: a 36-bar piece has two; a 10-bar one counts whole (10 of 16 bars, at
    # least half), a 6-bar one does not; with two windows asked for, no whole piece is needed
    import muse_gan
    from muse_gan.evaluation import evaluation_pieces
    from muse_gan.measures.judge import Options
    from muse_gan.modalities.midi.view import draw

    for bars in (36, 10, 6):
        chorale_like(tmp_path / f"piece{bars}.mid", bars)
    model = muse_gan.load("bach-rnn")
    pieces = evaluation_pieces(model.config, model.adapter, str(tmp_path), "all", quiet=True)
    segments = model.adapter.model_view(pieces)
    judge = model.adapter.judge(Options(bars=16))
    lengths = sorted(roll.shape[1] // bar for roll, bar in judge.windows("r", segments, 10).items)
    assert lengths == [10, 16, 16]
    assert [roll.shape[1] // 16 for roll, _ in judge.windows("r", segments, 2).items] == [16, 16]
    # openings alone: each piece's first 16 bars (the 36-bar piece's first window only), and
    # the 10-bar piece whole
    openings = judge.windows("r", segments, 10, openings=True).items
    assert sorted(roll.shape[1] // bar for roll, bar in openings) == [10, 16]
    first = next(roll for roll, bar in openings if roll.shape[1] == 16 * bar)
    (long,) = [segment for segment in segments if segment.info["steps"] == 36 * 16]
    bars_1_to_16 = draw(long, model.adapter.shape, 0, 16 * 16)[:, :, : model.adapter.pitches] > 0
    assert np.array_equal(first, bars_1_to_16)


def tunes_with_pickups(folder, count=3, bars=6):
    """Jigs that open with a pickup: the first bar an eighth at its end, then running eighths
    (120 quarters a minute: a 6/8 bar is 1.5 s)."""
    import pretty_midi

    from .. import midi_files

    for number in range(count):
        piece = midi_files.meter(pretty_midi.PrettyMIDI(initial_tempo=120.0), 6, 8)
        fiddle = pretty_midi.Instrument(40, name="Fiddle")
        starts = [1.25] + [1.5 + 0.25 * eighth for eighth in range(6 * (bars - 1))]
        fiddle.notes = [
            pretty_midi.Note(90, 67 + (n + number) % 5, t, t + 0.25) for n, t in enumerate(starts)
        ]
        piece.instruments.append(fiddle)
        midi_files.write(piece, folder / f"jig{number}.mid")
    return folder


def test_a_model_told_its_bar_numbers_is_judged_against_openings_unless_asked_otherwise(tmp_path):
    import muse_gan
    from muse_gan.evaluation import _windows_from, evaluate
    from muse_gan.measures.judge import Options

    folk = muse_gan.load("folk-melody")  # model.bar_numbers = 8: it composes a tune's first bars
    assert folk.config.model.bar_numbers
    jigs = str(tunes_with_pickups(tmp_path))
    small = {"count": 6, "bars": 2}
    said = "reference: each piece's first 2 bars, as a composed piece opens"
    by_default = evaluate(folk, reference=jigs, options=Options(**small))
    every = evaluate(folk, reference=jigs, options=Options(**small, openings=False))
    assert any(note.startswith(said) for note in by_default.notes)
    assert not any(note.startswith("reference:") for note in every.notes)
    # the openings' first bars hold a pickup, the later windows' are filled
    filled = {
        name: report.metrics["filled_bar_rate"]["reference"]
        for name, report in (("openings", by_default), ("every", every))
    }
    assert filled["openings"] == pytest.approx(0.5) and filled["every"] > 0.5, filled
    bach = muse_gan.load("bach-rnn")  # no bar numbers: every window, unless asked
    assert _windows_from(bach, Options())[0].openings is False
    assert _windows_from(bach, Options(openings=True))[0].openings is True


def test_a_model_with_classes_composes_them_as_often_as_the_reference_has_them(tmp_path):
    import muse_gan
    from muse_gan.core.store import load_pieces
    from muse_gan.measures.judge import Options, Samples

    from .. import midi_files

    folk = muse_gan.load("folk-melody")  # knows 2/4, 3/4, 4/4, 6/8 and 9/8
    tunes_with_pickups(tmp_path, count=3)  # three jigs (6/8) and a 4/4 piano piece
    midi_files.piano_solo(tmp_path / "solo.mid", bars=6)
    judge = folk.adapter.judge(Options(bars=2, count=8, openings=True))  # one a piece
    pieces = load_pieces(folk.adapter, str(tmp_path), quiet=True)
    reference = judge.samples("reference", pieces, 8)
    assert sorted(reference.labels) == ["4/4", "6/8", "6/8", "6/8"]
    generated = judge.generate(folk, 8, like=reference)
    assert generated.labels == reference.labels * 2
    # each piece composed in its meter: 6/8 bars of 12 sixteenths, 4/4 of 16
    bars = {"6/8": 12, "4/4": 16}
    assert [bar for _, bar in generated.items] == [bars[label] for label in generated.labels]
    # without a reference, each meter the model knows in turn
    assert judge.generate(folk, 5).labels == list(folk.adapter.classes)
    # voice counts alike: a 4-voice reference piece gets a piece that leaves two of six silent
    palestrina = muse_gan.load("palestrina")
    voices = palestrina.adapter.judge(Options(bars=2, count=2))
    like = Samples("reference", [None, None], ["4 voices", "6 voices"])
    four, six = (roll for roll, _ in voices.generate(palestrina, 2, like=like).items)
    sounding = [int(roll.any(axis=(1, 2)).sum()) for roll in (four, six)]
    assert sounding[0] <= 4 < sounding[1], sounding
    # a model without classes composes as ever, its pieces unlabelled
    bach = muse_gan.load("bach-rnn")
    assert bach.adapter.judge(Options(bars=1, count=2)).generate(bach, 2, like=like).labels is None


@pytest.mark.parametrize("flag, noted", [("--openings", True), ("--every-window", False)])
def test_the_command_line_chooses_openings_or_every_window(flag, noted, tmp_path):
    from .test_cli import muse

    jigs = tunes_with_pickups(tmp_path)
    result = muse(
        "eval", "--model", "folk-melody", "--reference", jigs, "--count", 4, "--bars", 2, flag
    )
    assert result.exit_code == 0, result.output
    assert ("reference: each piece's first 2 bars" in result.output) == noted
