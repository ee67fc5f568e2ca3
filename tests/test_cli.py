"""The `muse` command, through Click's runner and as a real subprocess."""

import os
import pty
import subprocess
import sys

import mido
import pretty_midi
import pytest
from click.testing import CliRunner
from PIL import Image

from muse_gan.cli import main

from .conftest import TINY, write_quartet


def muse(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def assert_one_clear_line(result, *words):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0]


def test_compose_writes_midi_to_stdout(tiny_run):
    result = muse("compose", "--model", tiny_run, "--bars", 2, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"MThd")


def test_compose_to_a_file_is_the_same_as_stdout_for_the_same_seed(tiny_run, tmp_path):
    stdout = muse("compose", "--model", tiny_run, "--bars", 2, "--seed", 4).stdout_bytes
    assert muse("compose", "--model", tiny_run, "--bars", 2, "--seed", 4, "-o", tmp_path / "a.mid").exit_code == 0
    assert (tmp_path / "a.mid").read_bytes() == stdout
    midi = mido.MidiFile(tmp_path / "a.mid")
    assert midi.length == pytest.approx(2 * 4 * 60 / 100)  # two 4/4 bars at the tiny model's 100 qpm


def test_compose_png_and_variations(tiny_run, tmp_path):
    assert muse("compose", "--model", tiny_run, "--bars", 2, "-o", tmp_path / "roll.png").exit_code == 0
    assert Image.open(tmp_path / "roll.png").width >= 2 * 16
    assert muse("compose", "--model", tiny_run, "--bars", 1, "-n", 3, "-o", f"{tmp_path}/many/").exit_code == 0
    assert sorted(path.name for path in (tmp_path / "many").iterdir()) == \
        ["piece_001.mid", "piece_002.mid", "piece_003.mid"]
    assert muse("compose", "--model", tiny_run, "--bars", 1, "-n", 2, "--seed", 0, "-o", tmp_path / "v.mid").exit_code == 0
    assert (tmp_path / "v_001.mid").read_bytes() != (tmp_path / "v_002.mid").read_bytes()


def test_compose_continues_a_primer(tiny_run, tmp_path):
    primer = write_quartet(tmp_path / "primer.mid")
    result = muse("compose", "--model", tiny_run, "--bars", 3, "--primer", primer, "-o", tmp_path / "out.mid")
    assert result.exit_code == 0, result.output


def test_compose_transposes_the_piece(tmp_path):
    def notes(*args):
        assert muse("compose", "--model", "bach-gan", "--bars", 2, "--seed", 3, *args, "-o", tmp_path / "p.mid").exit_code == 0
        piece = pretty_midi.PrettyMIDI(str(tmp_path / "p.mid"))
        return [(note.start, note.pitch) for part in piece.instruments for note in part.notes]

    plain = notes()
    assert plain and notes("--transpose", -3) == [(start, pitch - 3) for start, pitch in plain]
    assert_one_clear_line(muse("compose", "--model", "bach-gan", "--bars", 2, "--seed", 3, "--transpose", 24,
                               "-o", tmp_path / "high.mid"), "--transpose 24", "pitch range (MIDI 28-96)")
    assert not (tmp_path / "high.mid").exists()


@pytest.mark.parametrize("args, words", [
    (["--transpose", "25"], ["--transpose 25", "-24 to 24"]),
    (["--bars", "0"], ["--bars 0"]),
    (["--bars", "300"], ["--bars 300"]),
    (["--model", "nope"], ["--model nope", "bach-rnn"]),
    (["--temperature", "0"], ["--temperature"]),
    (["-o", "song.mp3"], ["song.mp3", ".mid", ".wav"]),
    (["--primer", "missing.mid"], ["missing.mid"]),
])
def test_bad_compose_options_are_one_clear_line(tiny_run, args, words):
    model = [] if "--model" in args else ["--model", str(tiny_run)]
    assert_one_clear_line(muse("compose", *model, *args), *words)


def test_an_existing_file_survives_a_failed_compose(tiny_run, tmp_path):
    target = tmp_path / "keep.mid"
    target.write_bytes(b"precious")
    muse("compose", "--model", tiny_run, "--bars", "0", "-o", target)
    assert target.read_bytes() == b"precious"


def test_an_unwritable_output_is_one_clear_line(tiny_run, tmp_path):
    (tmp_path / "a file").write_bytes(b"x")
    target = tmp_path / "a file" / "song.mid"  # refused even as root, unlike a read-only folder
    assert_one_clear_line(muse("compose", "--model", tiny_run, "-o", target), f"-o {target}", "cannot write")


def full_disk(size: int):
    """For a subprocess: files may grow to ``size`` bytes, past that writes fail (EFBIG) as they
    would on a full disk."""
    def limit():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_is_one_clear_line_and_the_old_file_stays_whole(tiny_run, tmp_path):
    target = tmp_path / "song.mid"
    target.write_bytes(b"yesterday's song")
    result = subprocess.run([sys.executable, "-m", "muse_gan", "compose", "--model", str(tiny_run), "--bars", "16",
                             "--seed", "1", "-o", str(target)], capture_output=True, text=True, timeout=120,
                            preexec_fn=full_disk(200))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"Error: -o {target}: cannot write (File too large)"
    assert target.read_bytes() == b"yesterday's song"
    assert [path.name for path in tmp_path.iterdir()] == ["song.mid"]


def test_training_onto_a_full_disk_is_one_clear_line(tmp_path):
    run = tmp_path / "run"
    options = sum((["--set", item] for item in TINY), [])
    result = subprocess.run([sys.executable, "-m", "muse_gan", "train", "--out", str(run), "--quiet", *options],
                            capture_output=True, text=True, timeout=300, preexec_fn=full_disk(20_000))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not cached:" in result.stderr  # the prepared data is bigger than the disk allows: the run goes on
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: {run}/") and last.endswith(".safetensors: cannot write (File too large)")
    assert not list(run.rglob("*.tmp"))


def test_compose_refuses_to_write_midi_to_a_terminal(tiny_run):
    controller, terminal = pty.openpty()
    result = subprocess.run([sys.executable, "-m", "muse_gan", "compose", "--model", str(tiny_run)],
                            stdout=terminal, stderr=subprocess.PIPE, timeout=120)
    os.close(terminal)
    os.close(controller)
    assert result.returncode != 0
    assert b"terminal" in result.stderr and b"Traceback" not in result.stderr


def test_models_lists_the_bundled_models():
    result = muse("models")
    assert result.exit_code == 0
    assert result.output.startswith("bach-rnn")


def test_train_on_a_folder_then_compose_and_eval(tmp_path):
    data = tmp_path / "clips"
    for number in range(4):
        write_quartet(data / f"clip{number}.mid", shift=number)
    (data / "broken.mid").write_bytes(b"not midi")
    run = tmp_path / "run"
    result = muse("train", "--data", data, "--out", run, "--quiet", *sum((["--set", item] for item in TINY), []))
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.mid" in result.output
    assert muse("compose", "--model", run, "--bars", 2, "-o", tmp_path / "x.mid").exit_code == 0
    result = muse("eval", "--model", run, "--reference", data, "-n", 4, "--bars", 1)
    assert result.exit_code == 0, result.output
    assert "frame NLL" in result.output and "4 pieces" in result.output


@pytest.mark.parametrize("args, words", [
    (["--data", "/no/such/folder"], ["/no/such/folder"]),
    (["--set", "train.stepz=3"], ["train.stepz"]),
    (["--set", "train.steps=many"], ["train.steps", "int"]),
    (["--config", "/no/such.toml"], ["/no/such.toml"]),
    (["--modality", "smell"], ["smell", "midi"]),
    (["--resume", "/no/such/run"], ["/no/such/run"]),
])
def test_bad_train_options_are_one_clear_line(tmp_path, args, words):
    assert_one_clear_line(muse("train", "--out", tmp_path / "run", *args), *words)


def test_an_empty_data_folder_is_one_clear_line(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_clear_line(muse("train", "--data", tmp_path / "empty"), "empty")


def test_help_runs_as_a_real_command():
    result = subprocess.run(["muse", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "compose" in result.stdout


def test_eval_on_the_models_own_validation_split(tiny_run):
    result = muse("eval", "--model", tiny_run, "--split", "valid", "-n", 4, "--bars", 2)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("frame NLL"))
    assert 0 < float(line.split()[2]) < 1000  # "frame NLL 12.345 nats per frame on the reference ..."


def test_fine_tune_then_resume_from_the_command_line(tiny_run, tmp_path):
    clips = tmp_path / "clips"
    for number in range(3):
        write_quartet(clips / f"take{number}.mid", shift=number, bars=2)
    run = tmp_path / "tuned"
    result = muse("train", "--init", tiny_run, "--data", clips, "--steps", 2, "--out", run, "--quiet")
    assert result.exit_code == 0, result.output
    assert "done: 2 steps" in result.output
    result = muse("train", "--resume", run, "--steps", 4, "--quiet")
    assert result.exit_code == 0, result.output
    assert "done: 4 steps" in result.output


def test_interpolate_to_one_file_or_a_folder(tiny_vae_run, tmp_path):
    start, end = write_quartet(tmp_path / "a.mid"), write_quartet(tmp_path / "b.mid", shift=4)
    result = muse("interpolate", start, end, "--model", tiny_vae_run, "--steps", 3, "-o", tmp_path / "walk.mid")
    assert result.exit_code == 0, result.output
    assert mido.MidiFile(tmp_path / "walk.mid").length == pytest.approx(3 * 4 * 60 / 100)  # 3 one-bar clips
    result = muse("interpolate", start, end, "--model", tiny_vae_run, "--steps", 3, "-o", f"{tmp_path}/walk/")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "walk").iterdir()) == ["step_001.mid", "step_002.mid", "step_003.mid"]


def test_interpolate_with_a_model_without_latent_space_is_one_clear_line(tiny_run, tmp_path):
    start = write_quartet(tmp_path / "a.mid")
    assert_one_clear_line(muse("interpolate", start, start, "--model", tiny_run, "-o", tmp_path / "x.mid"), "VAE")


@pytest.mark.parametrize("family, settings", [
    ("gan", ["model.channels=4", "model.latent=4", "gan.critic_steps=1"]),
    ("vae", ["model.latent=4", "data.window_bars=1"]),
])
def test_train_each_family_then_compose_any_length(tmp_path, family, settings):
    run = tmp_path / family
    options = sum((["--set", item] for item in TINY + settings), [])
    result = muse("train", "--model", family, "--out", run, "--quiet", *options)
    assert result.exit_code == 0, result.output
    assert muse("compose", "--model", run, "--bars", 3, "--seed", 1, "-o", tmp_path / "x.mid").exit_code == 0
    assert mido.MidiFile(tmp_path / "x.mid").length == pytest.approx(3 * 4 * 60 / 100)


def test_train_with_an_unknown_family_lists_the_known_ones(tmp_path):
    assert_one_clear_line(muse("train", "--model", "diffusion", "--out", tmp_path / "run"), "diffusion", "gan, rnn, vae")


def test_resume_refuses_changed_settings(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert_one_clear_line(muse("train", "--resume", run, "--set", "model.hidden=8"), "model.hidden", "train.steps")


@pytest.mark.parametrize("setting, words", [
    ("train.eval_every=0", ["train.eval_every", "at least 1"]),
    ("train.skip_limit=0", ["train.skip_limit", "at least 1"]),
    ("train.precision=\"fp16\"", ["train.precision"]),
    ("train.lr=1e38", ["train.lr", "too large"]),  # finite, but Adam's step overflows float32
    ("train.betas=[1.0, 0.9]", ["train.betas", "below 1"]),
    ("train.select_by=\"fid\"", ["train.select_by", "overlap"]),
    ("train.device=\"cuda:7\"" if not __import__("torch").cuda.is_available() else "train.device=\"tpu\"",
     ["train.device"]),
])
def test_bad_train_settings_are_one_clear_line(tmp_path, setting, words):
    options = sum((["--set", item] for item in TINY), [])
    assert_one_clear_line(muse("train", "--out", tmp_path / "run", *options, "--set", setting), *words)


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])  # Ctrl-C; a cluster's time limit or `kill`
def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path, stop):
    import signal
    import time

    run = tmp_path / "run"
    options = sum((["--set", item] for item in TINY + ["train.steps=100000"]), [])
    process = subprocess.Popen([sys.executable, "-m", "muse_gan", "train", "--out", str(run), *options],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300  # generous: a loaded machine is slow, and speed is not what this tests
    while not (run / "checkpoints" / "latest.safetensors").exists() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(getattr(signal, stop))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1
    assert "--resume" in err and "Traceback" not in err
    assert (run / "checkpoints" / "latest.safetensors").exists()


def test_ctrl_c_before_training_starts_is_one_line(tmp_path):
    import signal

    options = sum((["--set", item] for item in TINY), [])
    process = subprocess.Popen([sys.executable, "-m", "muse_gan", "train", "--out", str(tmp_path / "run"), *options],
                               stderr=subprocess.PIPE, text=True)  # a fresh cache: it parses chorales for a while
    assert process.stderr.readline().startswith("run folder:")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == "Error: interrupted" and "Traceback" not in err


def test_a_conditional_gan_harmonizes_the_given_melody(tmp_path):
    import pretty_midi

    run = tmp_path / "gan"
    settings = TINY + ["model.channels=4", "model.latent=4", "gan.critic_steps=1", "gan.condition_track=0"]
    assert muse("train", "--model", "gan", "--out", run, "--quiet",
                *sum((["--set", item] for item in settings), [])).exit_code == 0
    melody = pretty_midi.PrettyMIDI(initial_tempo=100)
    voice = pretty_midi.Instrument(0, name="melody")
    voice.notes = [pretty_midi.Note(90, pitch, 0.6 * index, 0.6 * (index + 1)) for index, pitch in enumerate([72, 74, 76, 77])]
    melody.instruments.append(voice)
    melody.write(str(tmp_path / "melody.mid"))
    outputs = []
    for number, seed in enumerate((1, 2)):
        target = tmp_path / f"harmonized{number}.mid"
        assert muse("compose", "--model", run, "--bars", 2, "--seed", seed, "--primer", tmp_path / "melody.mid",
                    "--decode", "bernoulli", "-o", target).exit_code == 0  # a tiny model has no note above p = 0.5
        piece = pretty_midi.PrettyMIDI(str(target))
        assert [(note.pitch, round(note.start, 3)) for note in piece.instruments[0].notes] == \
               [(note.pitch, round(note.start, 3)) for note in voice.notes]  # the soprano is the melody
        outputs.append(target.read_bytes())
    assert outputs[0] != outputs[1]  # and the other voices are generated


def test_decode_choice_for_gans_and_a_clear_line_for_other_models(tiny_run, tmp_path):
    run = tmp_path / "gan"
    settings = TINY + ["model.channels=4", "model.latent=4", "gan.critic_steps=1"]
    assert muse("train", "--model", "gan", "--out", run, "--quiet",
                *sum((["--set", item] for item in settings), [])).exit_code == 0
    files = {}
    for decode in ("threshold", "bernoulli"):
        files[decode] = tmp_path / f"{decode}.mid"
        result = muse("compose", "--model", run, "--bars", 2, "--seed", 3, "--decode", decode, "-o", files[decode])
        assert result.exit_code == 0, result.output
    # an untrained generator's probabilities hover near 0.5: drawing from them differs from cutting at 0.5
    assert files["threshold"].read_bytes() != files["bernoulli"].read_bytes()
    assert_one_clear_line(muse("compose", "--model", tiny_run, "--decode", "bernoulli", "-o", tmp_path / "x.mid"),
                          "--decode", "rnn")
