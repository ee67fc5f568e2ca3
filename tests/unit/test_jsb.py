"""The JSB-chorales likelihood benchmark's pieces: the published data set's pickle (read with an
unpickler that builds data alone), its split kept, a validation folder of one's own
(``data.valid_source``), the NLL of whole pieces, and the Transformer backbone of the RNN family.
tests/e2e/test_jsb.py trains on them."""

import math
import pickle
import subprocess
import sys

import pretty_midi
import pytest
import torch

from muse_gan.assembly import build_adapter, build_objective, check_config, load_config
from muse_gan.core.store import Piece, data_parts, load_pieces, split
from muse_gan.errors import ConfigError, DataError
from muse_gan.evaluation import frame_nll
from muse_gan.models.rnn import FrameRNN

from ..conftest import write_quartet

pytestmark = pytest.mark.usefixtures("one_thread")

# the classic set-up of configs/jsb-chorales.toml, its network small
JSB = [
    "midi.steps_per_beat=1",
    "midi.pitch_low=21",
    "midi.pitch_high=108",
    'midi.meter="4/4"',
    'midi.track_mapping="merge"',
    'midi.track_names=["Chorale"]',
    "midi.programs=[19]",
    'midi.quantize="sample"',
    'midi.dynamics="off"',
    "midi.conditions=[]",
    "midi.window_bars=2",
    "model.hidden=16",
    "model.head_hidden=16",
    "model.layers=1",
]
C_MAJOR = (48, 64, 67, 72)
G_MAJOR = (43, 62, 67, 71)


def published(path, parts: dict):
    with open(path, "wb") as file:
        pickle.dump(parts, file, protocol=2)  # as the data sets were published: before protocol 4
    return path


def test_a_published_pickle_is_read_into_its_parts_frame_by_frame(tmp_path):
    adapter = build_adapter(load_config(None, JSB))
    frames = [C_MAJOR, C_MAJOR, [43, 62, 67, 71], G_MAJOR, (), C_MAJOR]
    path = published(
        tmp_path / "JSB Chorales.pickle",
        {"train": [frames, frames[:4]], "valid": [frames[2:]], "test": [frames[:3]]},
    )
    pieces = load_pieces(adapter, str(path), quiet=True)
    parts = split(pieces, valid_fraction=0.5, test_fraction=0.5)  # the file's own split wins
    assert [len(parts[name]) for name in ("train", "valid", "test")] == [2, 1, 1]
    roll = adapter.tensor_of(adapter.model_view(parts["train"][:1])[0])[0]
    read = [tuple(int(21 + key) for key in torch.nonzero(row)[:, 0]) for row in roll]
    assert read[: len(frames)] == [tuple(frame) for frame in frames]
    assert not roll[len(frames) :].any()  # the rest of the last bar is silent


def test_a_pickle_that_would_run_code_is_refused_unread(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (subprocess.call, ([sys.executable, "-c", f"open({str(marker)!r}, 'w')"],))

    path = published(tmp_path / "evil.pickle", {"train": [[C_MAJOR]], "x": Payload()})
    adapter = build_adapter(load_config(None, JSB))
    with pytest.raises(DataError, match=r"evil\.pickle: refused: it asks for \w+\.call"):
        adapter.read(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([1, 2, 3], "not a published data set"),
        ({"train": [[["C", "E"]]]}, "frame 0 is not a list of MIDI pitches"),
        ({"train": [[(60, 200)]]}, "outside MIDI's 0-127"),
    ],
)
def test_a_pickle_of_something_else_is_one_clear_error(tmp_path, data, reason):
    path = published(tmp_path / "other.pickle", data)
    with pytest.raises(DataError, match=reason):
        build_adapter(load_config(None, JSB)).read(path)


def test_a_validation_source_replaces_the_validation_fraction(tmp_path):
    adapter = build_adapter(load_config(None, JSB))
    folder = tmp_path / "mine"
    write_quartet(folder / "a.mid")
    write_quartet(folder / "deeper" / "b.mid", shift=2)
    pieces = [Piece(f"bwv{number}.mxl", torch.zeros(1)) for number in range(40)]
    config = load_config(None, [*JSB, "data.valid_fraction=0.3", "data.test_fraction=0.2"])
    without = data_parts(adapter, config.data, pieces)
    config = config.override([f'data.valid_source="{folder}"'])
    parts = data_parts(adapter, config.data, pieces, quiet=True)
    assert [piece.name for piece in parts["valid"]] == [
        str(folder / "a.mid"),
        str(folder / "deeper" / "b.mid"),
    ]
    assert parts["test"] == without["test"]  # the test part stays what it was
    # the pieces the fraction would have held out for validation train
    assert {piece.name for piece in parts["train"]} == {
        piece.name for piece in without["train"] + without["valid"]
    }
    assert without["valid"]


def test_a_missing_validation_source_is_named():
    adapter = build_adapter(load_config(None, JSB))
    config = load_config(None, [*JSB, 'data.valid_source="/no/such/folder"'])
    with pytest.raises(Exception, match="data.valid_source /no/such/folder: no such file"):
        data_parts(adapter, config.data, [Piece("a.mid", torch.zeros(1))])


def test_with_a_validation_folder_a_published_splits_own_validation_pieces_train(tmp_path):
    folder = tmp_path / "mine"
    write_quartet(folder / "a.mid")
    adapter = build_adapter(load_config(None, JSB))
    pieces = [Piece(f"JSB#{number}", torch.zeros(1), info={"part": part}) for number, part in
              enumerate(["train", "valid", "test", "valid"])]  # fmt: skip
    config = load_config(None, [*JSB, f'data.valid_source="{folder}"'])
    parts = data_parts(adapter, config.data, pieces, quiet=True)
    assert [piece.name for piece in parts["train"]] == ["JSB#0", "JSB#1", "JSB#3"]
    assert [piece.name for piece in parts["valid"]] == [str(folder / "a.mid")]


def test_the_nll_of_whole_pieces_is_the_mean_over_their_sounding_frames(tmp_path):
    """By hand: a piece whose first note starts on beat 2 (a pickup) and whose last ends on beat
    7 of 8 is scored on steps 1..6, every step read; another fills its two bars."""
    config = load_config(None, JSB)
    adapter = build_adapter(config)
    midi = pretty_midi.PrettyMIDI(initial_tempo=60.0)  # a beat a second
    voice = pretty_midi.Instrument(19, name="Chorale")
    voice.notes += [pretty_midi.Note(90, 60 + beat, beat, beat + 1.0) for beat in range(1, 7)]
    voice.notes += [pretty_midi.Note(90, 48, 1.0, 7.0)]
    midi.instruments.append(voice)
    full = pretty_midi.PrettyMIDI(initial_tempo=60.0)
    full.instruments.append(pretty_midi.Instrument(19, name="Chorale"))
    full.instruments[0].notes += [
        pretty_midi.Note(90, 55 + beat, beat, beat + 1.0) for beat in range(8)
    ]
    pieces = [
        Piece(name, adapter.encode(item), info=adapter.piece_info(item))
        for name, item in (("pickup.mid", midi), ("full.mid", full))
    ]
    view = adapter.model_view(pieces)
    torch.manual_seed(0)
    objective = build_objective(adapter, config).eval()
    with torch.no_grad():
        per_frame = [objective.frame_nll(adapter.tensor_of(piece)[None])[0] for piece in view]
    assert [len(frames) for frames in per_frame] == [8, 8]
    scored = torch.cat([per_frame[0][1:7], per_frame[1]])
    nll, frames = frame_nll(objective, view, adapter)
    assert frames == 6 + 8
    assert nll == pytest.approx(scored.mean().item(), rel=1e-6)
    assert nll != pytest.approx(torch.cat(per_frame).mean().item(), rel=1e-3)


def test_a_common_key_models_nll_counts_the_key_each_piece_was_moved_from():
    """A model of pieces moved to C major is a model of pieces in any key once the key is drawn
    too: each piece's NLL gains log 12 (and the near octave's share, 63/64)."""
    config = load_config(None, [*JSB, "midi.common_key=true", "midi.transpose=0"])
    adapter = build_adapter(config)
    midi = pretty_midi.PrettyMIDI(initial_tempo=60.0)
    voice = pretty_midi.Instrument(19, name="Chorale")
    d_major = [62, 64, 66, 67, 69, 71, 73, 74]
    voice.notes += [
        pretty_midi.Note(90, pitch, beat, beat + 1.0) for beat, pitch in enumerate(d_major)
    ]
    midi.instruments.append(voice)
    view = adapter.model_view([Piece("d.mid", adapter.encode(midi), info=adapter.piece_info(midi))])
    assert view[0].info["shift"] == -2
    torch.manual_seed(0)
    objective = build_objective(adapter, config).eval()
    with torch.no_grad():
        frames_nll = objective.frame_nll(adapter.tensor_of(view[0])[None])[0]
    nll, frames = frame_nll(objective, view, adapter)
    assert frames == 8
    key = math.log(12) + math.log(64 / 63)
    assert nll == pytest.approx((frames_nll.sum().item() + key) / 8, rel=1e-6)


def test_the_keys_cost_is_a_share_of_one_over_every_shift_and_nothing_without_a_common_key():
    """The near way (-6..5) holds 63/64 of each pitch class's twelfth, the octave way 1/64: over
    the 24 shifts a piece can be moved by, the shares sum to one."""
    moved = build_adapter(load_config(None, [*JSB, "midi.common_key=true"]))
    shifts = [*range(-11, 13)]
    shares = [math.exp(-moved.view_nats(Piece("a", None, info={"shift": s}))) for s in shifts]
    assert sum(shares) == pytest.approx(1.0)
    assert moved.view_nats(Piece("a", None, info={"shift": 7})) == pytest.approx(math.log(12 * 64))
    unmoved = build_adapter(load_config(None, JSB))
    assert unmoved.view_nats(Piece("a", None, info={"shift": 0})) == 0.0


# the Transformer backbone


def test_the_transformer_reads_a_piece_step_by_step_as_it_reads_it_whole():
    torch.manual_seed(0)
    network = FrameRNN(12, 4, "transformer", 16, 2, 0.1).eval()
    frames = torch.rand(3, 10, 12).round()
    whole, _ = network(frames)
    context, state = network.begin(3)
    contexts = [context]
    for step in range(1, 10):
        context, state = network.advance(frames[:, step - 1], step, state)
        contexts.append(context)
    assert torch.allclose(torch.stack(contexts, 1), whole, atol=1e-5)
    # continuing from the state of the first steps, as a primed sample does
    _, state = network(frames[:, :4])
    continued, _ = network(frames[:, 3:9], first_step=4, state=state, starting=False)
    assert torch.allclose(continued, whole[:, 4:], atol=1e-5)


def test_the_transformer_sees_no_later_frame():
    torch.manual_seed(0)
    network = FrameRNN(12, 4, "transformer", 16, 2, 0.0).eval()
    frames = torch.rand(1, 8, 12).round()
    changed = frames.clone()
    changed[:, 5:] = 1 - changed[:, 5:]
    assert torch.equal(network(frames)[0][:, :6], network(changed)[0][:, :6])
    assert not torch.equal(network(frames)[0][:, 6:], network(changed)[0][:, 6:])


def test_the_transformer_is_a_backbone_of_the_rnn_family_alone():
    with pytest.raises(ConfigError, match='model.cell: "transformer" is a backbone of the rnn'):
        check_config(load_config(None, ["model.family=vae", "model.cell=transformer"]))
    with pytest.raises(ConfigError, match="model.cell: unknown cell 'attention'"):
        FrameRNN(12, 4, "attention", 16, 1, 0.0)


def test_weight_drop_masks_the_recurrent_weights_while_training_only():
    torch.manual_seed(0)
    network = FrameRNN(12, 4, "lstm", 16, 2, 0.0, weight_drop=0.5)
    frames = (torch.rand(3, 8, 12) > 0.7).float()
    network.train()
    first, _ = network(frames)
    second, _ = network(frames)
    assert not torch.allclose(first, second)  # a fresh mask for each window
    first.sum().backward()
    hidden = network.rnn.weight_hh_l0.grad
    assert 0.3 < (hidden == 0).float().mean() < 0.7  # the dropped weights learn nothing this time
    assert (network.rnn.weight_ih_l0.grad == 0).float().mean() < 0.1  # the input weights all do
    network.eval()
    whole, _ = network(frames)
    plain = FrameRNN(12, 4, "lstm", 16, 2, 0.0).eval()
    plain.load_state_dict(network.state_dict())  # the same weights, no weight drop
    torch.testing.assert_close(whole, plain(frames)[0])  # composing uses every weight
    # step by step (how a piece is composed) reads it as the whole window does
    context, state = network.begin(3)
    contexts = [context]
    for step in range(1, 8):
        context, state = network.advance(frames[:, step - 1], step, state)
        contexts.append(context)
    torch.testing.assert_close(torch.stack(contexts, dim=1), whole, atol=1e-5, rtol=1e-4)


def test_weight_drop_is_checked_and_not_for_the_transformer():
    with pytest.raises(ConfigError, match="model.weight_drop: 1.0 must be from 0 to below 1"):
        check_config(load_config(None, ["model.weight_drop=1.0"]))
    with pytest.raises(ConfigError, match="model.weight_drop: drops an LSTM's or GRU's"):
        check_config(load_config(None, ["model.cell=transformer", "model.weight_drop=0.2"]))


@pytest.mark.parametrize(
    "settings, words",
    [
        (["model.calibration=0"], "model.calibration: 0.0 must be from 0.25 to 4.0"),
        (["model.calibration=nan"], "model.calibration: expected a finite number"),
        (["model.family=gan", "model.calibration=1.1"], "tempers an RNN's likelihood, not a gan's"),
    ],
)
def test_a_calibration_is_checked(settings, words):
    with pytest.raises(ConfigError, match=words):
        check_config(load_config(None, settings))
