"""Real (tiny) training runs on real Bach chorales, on the CPU: run folders, resuming, fine-tuning,
choosing weights, and faults (kills, non-finite steps, doctored checkpoints). What is refused
before any data is read is in tests/unit/test_training.py."""

import subprocess
import sys
import time

import mido
import pytest
import torch

import muse_gan
from muse_gan.assembly import load_config, read_config, resolve_model
from muse_gan.core import checkpoint as ckpt
from muse_gan.core.scalars import read_scalars
from muse_gan.errors import MuseError
from muse_gan.training import starting_config, train

from .. import midi_files
from ..conftest import TINY, set_options, write_quartet


def tiny(*overrides):
    return load_config(None, TINY + list(overrides))


def test_a_run_folder_holds_config_checkpoints_curves_and_samples(tiny_run):
    assert (tiny_run / "config.toml").read_text().startswith("[data]")
    assert (tiny_run / "checkpoints" / "latest.safetensors").exists()
    assert (tiny_run / "model.safetensors").exists()
    curves = read_scalars(tiny_run / "scalars.csv")
    assert [step for step, _ in curves["train/loss"]] == [2, 4]
    assert [step for step, _ in curves["valid/loss"]] == [2, 4]
    assert all(value > 0 for _, value in curves["train/loss"] + curves["valid/loss"])
    assert (tiny_run / "loss_curve.png").read_bytes().startswith(b"\x89PNG")
    sample = tiny_run / "samples" / "step_000004.mid"
    assert len(mido.MidiFile(sample).tracks) == 5  # tempo and meter, then one per voice
    assert (tiny_run / "samples" / "step_000004.png").exists()


def test_loss_goes_down_on_real_chorales(tmp_path):
    trainer = train(
        tiny("train.steps=30", "train.eval_every=30", "train.lr=0.01", "data.limit=4"),
        tmp_path / "run",
        quiet=True,
    )
    losses = [value for _, value in read_scalars(tmp_path / "run" / "scalars.csv")["train/loss"]]
    assert trainer.step == 30
    assert losses[-1] < 0.7 * losses[0]


def test_resume_continues_to_the_same_weights_as_one_run(tmp_path):
    constant = ['train.lr_schedule="constant"', "train.checkpoint_every=3"]
    whole = train(tiny("train.steps=6", *constant), tmp_path / "whole", quiet=True)
    interrupted = train(tiny("train.steps=3", *constant), tmp_path / "part", quiet=True)
    assert interrupted.step == 3
    # how fast it runs may change on resume (workers preparing data), not what it computes
    resumed = train(
        tiny("train.steps=6", "data.workers=1", *constant),
        tmp_path / "part",
        resume=True,
        quiet=True,
    )
    assert resumed.step == 6
    logged = [step for step, _ in read_scalars(tmp_path / "part" / "scalars.csv")["train/loss"]]
    assert logged == [2, 3, 4, 6]  # one curve, no step twice (3: where the first process ended)
    for name, value in whole.objective.state_dict().items():
        assert torch.equal(value, resumed.objective.state_dict()[name]), name


def test_fine_tuning_starts_from_the_given_model(tiny_run, tmp_path):
    clips = tmp_path / "my clips"
    for number in range(3):
        write_quartet(clips / f"clip{number}.mid", shift=number)
    config = load_config(tiny_run / "config.toml", ["train.steps=0", f'data.source="{clips}"'])
    trainer = train(config, tmp_path / "tuned", init=str(tiny_run), quiet=True)
    tensors, _ = ckpt.load_checkpoint(tiny_run / "model.safetensors")
    for name, value in ckpt.unprefixed("model.", tensors).items():
        assert torch.equal(trainer.objective.state_dict()[name], value), name


@pytest.mark.parametrize(
    "setting", ['model.head="bernoulli"', 'model.head="voicewise"', 'model.cell="gru"']
)
def test_other_heads_and_cells_train(tmp_path, setting):
    trainer = train(tiny(setting), tmp_path / "run", quiet=True)
    assert trainer.step == 4
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_select_by_piece_nll_refuses_validation_pieces_the_model_cannot_read(tmp_path):
    """A validation folder of pieces in a meter the model does not know: one clear line, not a
    run chosen by the loss without a word (nor an error from an empty window table)."""
    import pretty_midi

    piece = pretty_midi.PrettyMIDI(initial_tempo=100)
    piece.time_signature_changes.append(pretty_midi.TimeSignature(5, 4, 0))
    for name, root in zip(("Soprano", "Alto", "Tenor", "Bass"), (72, 67, 64, 48)):
        voice = pretty_midi.Instrument(19, name=name)
        voice.notes.append(pretty_midi.Note(90, root, 0.0, 6.0))
        piece.instruments.append(voice)
    (tmp_path / "valid").mkdir()
    piece.write(str(tmp_path / "valid" / "five.mid"))
    source = f'data.valid_source="{tmp_path / "valid"}"'
    with pytest.raises(MuseError, match=r"^train.select_by = .piece_nll. .* reads none of .*meter"):
        train(tiny('train.select_by="piece_nll"', source), tmp_path / "run", quiet=True)
    # chosen by the loss, the same run trains, without validation
    trainer = train(tiny(source), tmp_path / "by loss", quiet=True)
    assert trainer.step == 4 and trainer.valid_windows is None
    # a fraction so small that none of the 8 chorales falls in it
    with pytest.raises(MuseError, match=r'^train.select_by = "piece_nll" .* this run has none'):
        few = tiny('train.select_by="piece_nll"', "data.valid_fraction=0.0001")
        train(few, tmp_path / "none", quiet=True)


def test_with_a_moving_average_a_checkpoint_composes_with_the_averaged_weights(tmp_path):
    from muse_gan.api import load

    trainer = train(tiny("train.ema=0.9"), tmp_path / "run", quiet=True)
    checkpoint = load(
        tmp_path / "run" / "checkpoints" / "latest.safetensors"
    ).objective.state_dict()
    # both at the last step, as the checkpoint
    average, live = (
        trainer.ema.state_dict(),
        trainer.objective.state_dict(),
    )
    assert all(torch.equal(value, checkpoint[name]) for name, value in average.items())
    # averaged, not live
    assert not all(torch.equal(value, live[name]) for name, value in average.items())


def test_select_by_overlap_keeps_the_weights_whose_samples_overlap_most_with_the_validation_pieces(
    tmp_path,
):
    trainer = train(
        tiny(
            'train.select_by="overlap"',
            "midi.window_bars=1",
            "train.steps=4",
            "train.eval_every=1",
            "train.lr=0.05",
        ),
        tmp_path / "run",
        quiet=True,
    )
    scalars = read_scalars(tmp_path / "run" / "scalars.csv")
    overlaps = scalars["valid/overlap"]
    assert len(overlaps) == 4 and all(0 <= value <= 1 for _, value in overlaps)
    # the first of equals, as the run keeps it
    best_step, best = max(overlaps, key=lambda pair: pair[1])
    _, info = ckpt.load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert info["step"] == best_step
    assert trainer.best_valid == pytest.approx(1 - best)
    # measured: overlap best at step 2, loss at step 4. The overlaps come from samples, which
    # float rounding moves (another CPU, another thread count: 0.35 or 0.40 at step 2 on 1 or 2
    # threads), and two of train.seed 0-5 have both best at step 4: were they one step here, this
    # run could not tell selection by overlap from selection by loss, which is said, not failed
    loss_step = min(scalars["valid/loss"], key=lambda pair: pair[1])[0]
    if best_step == loss_step:
        pytest.skip(f"overlap and loss both best at step {best_step}: cannot tell them apart")


def test_a_fine_tune_says_what_the_model_cannot_read_and_trains_on_the_rest(tmp_path, capsys):
    # palestrina knows 3 to 6 voices: the duet is left out with its reason, the quartet trains
    for voices in (2, 4):
        midi_files.motet(tmp_path / "mine" / f"{voices}.mid", voices)
    config = read_config(resolve_model("palestrina")).override(
        [f'data.source="{tmp_path / "mine"}"', "data.valid_fraction=0", "data.test_fraction=0"]
        + ['train.select_by="auto"', "train.steps=1", "train.sample_every=0", "train.threads=1"]
    )
    trainer = train(config, tmp_path / "run", init="palestrina")
    assert trainer.step == 1
    err = capsys.readouterr().err
    assert "from the data: left out: 1 stretch in 2 voices, which the model does not know" in err


def test_a_folder_with_bad_files_trains_on_the_rest(tmp_path, capsys):
    data = tmp_path / "data"
    write_quartet(data / "good.mid")
    write_quartet(data / "sub" / "also good.midi", shift=2)
    (data / "truncated.mid").write_bytes((data / "good.mid").read_bytes()[:30])
    (data / "empty.mid").write_bytes(b"")
    (data / "notes.txt").write_text("not music")
    trainer = train(tiny(f'data.source="{data}"', "data.valid_fraction=0.0"), tmp_path / "run")
    assert trainer.step == 4
    err = capsys.readouterr().err
    assert "skipped" in err and "truncated.mid" in err and "empty.mid" in err
    assert "skipped 2 of 4 files" in err  # the MIDI files that could not be read
    assert "notes.txt: not a .mid/.midi/" in err and "skipped 1 file of other kinds" in err


def test_a_folder_with_nothing_usable_is_one_clear_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "broken.mid").write_bytes(b"MThd garbage")
    with pytest.raises(MuseError, match="no usable pieces"):
        train(tiny(f'data.source="{data}"'), tmp_path / "run", quiet=True)


# faults: kills, non-finite steps, doctored checkpoints

KILLABLE = [
    "train.steps=30",
    "train.checkpoint_every=1",
    "train.eval_every=1000",
    "train.sample_every=0",
    "train.log_every=1",
    "train.ema=0.9",
]


@pytest.mark.parametrize(
    "family",
    [
        ['model.family="rnn"'],
        ['model.family="gan"', "model.channels=4", "model.latent=4", "gan.critic_steps=2"],
    ],
    ids=["rnn", "gan"],
)
def test_a_run_killed_at_any_moment_resumes_to_the_same_weights(tmp_path, family):
    settings = TINY + KILLABLE + family
    # configured as `muse train` configures the killed run (a GAN starts from bach-gan's
    # settings); also prepares the data for it
    whole = train(starting_config(settings), tmp_path / "whole", quiet=True)
    run = tmp_path / "killed"
    options = set_options(settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "muse_gan", "train", "--out", str(run), "--quiet", *options],
        stderr=subprocess.DEVNULL,
    )
    latest = run / "checkpoints" / "latest.safetensors"
    deadline = time.time() + 300
    while not latest.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.kill()  # SIGKILL: no handler runs; with a checkpoint every step, often mid-write
    process.wait()
    _, info = ckpt.load_checkpoint(latest)  # whole, whenever the kill came
    assert 0 < info["step"] < 30  # killed mid-run, or this test would prove nothing
    resumed = train(read_config(latest), run, resume=True, quiet=True)
    assert resumed.step == 30
    for model, twin in [(whole.objective, resumed.objective), (whole.ema, resumed.ema)]:
        for name, value in model.state_dict().items():
            assert torch.equal(value, twin.state_dict()[name]), name  # bit for bit
    assert not list(run.rglob("*.tmp"))


def test_resume_removes_what_a_kill_mid_write_left_and_reads_the_last_whole_checkpoint(
    tmp_path, capsys
):
    constant = ['train.lr_schedule="constant"', "train.sample_every=0"]
    train(tiny("train.steps=2", *constant), tmp_path / "run", quiet=True)
    whole = (tmp_path / "run" / "checkpoints" / "latest.safetensors").read_bytes()
    half = tmp_path / "run" / "checkpoints" / ".latest.safetensors.x1y2z3.tmp"
    half.write_bytes(whole[: len(whole) // 2])  # what SIGKILL during the step-4 write leaves
    resumed = train(tiny("train.steps=4", *constant), tmp_path / "run", resume=True)
    assert resumed.step == 4 and not half.exists()
    assert "removed 1 half-written files left by a killed run" in capsys.readouterr().err


def test_a_step_with_a_non_finite_loss_is_skipped_and_counted(tmp_path):
    trainer = train(tiny("train.steps=0"), tmp_path / "run", quiet=True)
    batch, labels, _spans = trainer.train_windows.batch(4)
    before = {name: value.clone() for name, value in trainer.objective.state_dict().items()}
    spoilt = batch.clone()
    spoilt[0, 0, 0, 0] = float("nan")
    trainer.train_step(spoilt, labels)
    assert (trainer.skipped, trainer.skipped_in_a_row) == (1, 1)
    for name, value in trainer.objective.state_dict().items():
        assert torch.equal(value, before[name]), name
    trainer.train_step(batch, labels)
    assert (trainer.skipped, trainer.skipped_in_a_row) == (1, 0)
    assert not torch.equal(
        trainer.objective.state_dict()["network.rnn.weight_hh_l0"],
        before["network.rnn.weight_hh_l0"],
    )


def test_training_stops_after_skip_limit_non_finite_steps_keeping_the_last_good_checkpoint(
    tmp_path, capsys
):
    run = tmp_path / "run"
    # the first step blows the weights up; every later loss is NaN
    config = tiny(
        "train.lr=1e10",
        "train.steps=40",
        "train.checkpoint_every=1",
        "train.skip_limit=3",
        "train.sample_every=0",
    )
    with pytest.raises(
        MuseError, match=r"^stopped at step 4: 3 steps in a row had a non-finite loss"
    ):
        train(config, run, quiet=True)
    assert capsys.readouterr().err.count("skipped: its loss or gradients are not finite") == 3
    tensors, info = ckpt.load_checkpoint(run / "checkpoints" / "latest.safetensors")
    assert info["step"] == 1
    assert all(
        torch.isfinite(value).all() for value in tensors.values() if value.is_floating_point()
    )


def test_resume_from_a_model_file_in_place_of_a_checkpoint_is_one_clear_error(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    # no optimizer state
    shutil.copy(run / "model.safetensors", run / "checkpoints" / "latest.safetensors")
    with pytest.raises(MuseError, match=r"latest.safetensors: cannot resume from it \(KeyError"):
        train(read_config(run / "model.safetensors"), run, resume=True, quiet=True)


def test_fine_tuning_into_networks_of_another_shape_is_one_clear_error(tmp_path):
    """A setting outside [midi] and [model] that shapes the networks: bach-gan is given a soprano
    (gan.condition_track = 0), so its generator has layers for it that this run's lacks."""
    config = read_config(resolve_model("bach-gan")).override(
        ["gan.condition_track=-1", "data.limit=6", "train.steps=0", 'train.device="cpu"']
    )
    with pytest.raises(
        MuseError,
        match=r"^--init bach-gan: its weights do not fit this run's networks "
        r"\(its generator\.melody\.\S+ is not in this run's\)$",
    ):
        train(config, tmp_path / "tuned", init="bach-gan", quiet=True)


def test_a_gan_fine_tuned_with_one_note_per_voice_trains_and_decodes_so(tmp_path):
    """--init with other [midi.gan] terms: the run trains with its own (the model's adapter
    takes them), writes them to its config, and composes one note per voice."""
    config = read_config(resolve_model("bach-gan")).override(
        [
            "midi.gan.one_note_per_voice=true",
            "midi.gan.note_change_cost=1.5",
            "data.limit=6",
            "train.steps=2",
            "train.eval_every=100",
            'train.device="cpu"',
        ]
    )
    train(config, tmp_path / "tuned", init="bach-gan", quiet=True)
    tuned = muse_gan.load(tmp_path / "tuned")
    assert tuned.adapter.settings.gan.one_note_per_voice
    assert (
        read_config(tmp_path / "tuned" / "model.safetensors").section("midi").gan.note_change_cost
        == 1.5
    )
    roll = tuned.compose(4, seed=1).roll[:, :, : tuned.adapter.pitches]
    assert roll.sum(-1).max() <= 1  # never two pitches in one voice at a step
