"""`muse train` end to end, and commands on the models it makes: real subprocesses for full
disks and Ctrl-C (tests/unit/test_cli.py has the commands on the bundled models)."""

import subprocess
import sys
import tomllib

import mido
import pytest

from ..conftest import TINY, set_options, write_quartet
from ..unit.test_cli import assert_one_clear_line, muse


def full_disk(size: int):
    """For a subprocess: files may grow to ``size`` bytes, past that writes fail (EFBIG) as they
    would on a full disk."""

    def limit():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_is_one_clear_line_and_the_old_file_stays_whole(tmp_path):
    target = tmp_path / "song.mid"
    target.write_bytes(b"yesterday's song")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "muse_gan",
            "compose",
            "--model",
            "bach-gan",
            "--bars",
            "16",
            "--seed",
            "1",
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=full_disk(200),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"Error: -o {target}: cannot write (File too large)"
    )
    assert target.read_bytes() == b"yesterday's song"
    assert [path.name for path in tmp_path.iterdir()] == ["song.mid"]


def test_training_onto_a_full_disk_is_one_clear_line(tmp_path, private_cache):
    run = tmp_path / "run"
    options = set_options(TINY)
    result = subprocess.run(
        [sys.executable, "-m", "muse_gan", "train", "--out", str(run), "--quiet", *options],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=full_disk(20_000),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    # the prepared data is bigger than the disk allows: the run goes on
    assert "not cached:" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: {run}/") and last.endswith(
        ".safetensors: cannot write (File too large)"
    )
    assert not list(run.rglob("*.tmp"))


def test_train_on_a_folder_then_compose_and_eval(tmp_path):
    data = tmp_path / "clips"
    for number in range(4):
        write_quartet(data / f"clip{number}.mid", shift=number)
    (data / "broken.mid").write_bytes(b"not midi")
    run = tmp_path / "run"
    result = muse(
        "train",
        "--data",
        data,
        "--out",
        run,
        "--quiet",
        *set_options(TINY),
    )
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.mid" in result.output
    assert muse("compose", "--model", run, "--bars", 2, "-o", tmp_path / "x.mid").exit_code == 0
    result = muse("eval", "--model", run, "--reference", data, "-n", 4, "--bars", 1)
    assert result.exit_code == 0, result.output
    assert "frame NLL" in result.output and "4 pieces" in result.output


def test_eval_on_the_models_own_validation_split(tiny_run):
    result = muse("eval", "--model", tiny_run, "--split", "valid", "-n", 4, "--bars", 2)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("frame NLL"))
    # "frame NLL 12.345 nats per frame on the reference ..."
    assert 0 < float(line.split()[2]) < 1000


def test_fine_tune_then_resume_from_the_command_line(tiny_run, tmp_path):
    clips = tmp_path / "clips"
    for number in range(3):
        write_quartet(clips / f"take{number}.mid", shift=number, bars=2)
    run = tmp_path / "tuned"
    result = muse(
        "train", "--init", tiny_run, "--data", clips, "--steps", 2, "--out", run, "--quiet"
    )
    assert result.exit_code == 0, result.output
    assert "done: 2 steps" in result.output
    result = muse("train", "--resume", run, "--steps", 4, "--quiet")
    assert result.exit_code == 0, result.output
    assert "done: 4 steps" in result.output


@pytest.mark.parametrize("run", ["tiny_gan_run", "tiny_vae_run"])
def test_each_family_composes_any_length(request, tmp_path, run):
    """A GAN (made by `muse train --model gan`) and a VAE, one segment long in training, compose
    three bars: the GAN segment by segment, the VAE bar by bar."""
    run = request.getfixturevalue(run)
    assert (
        muse(
            "compose", "--model", run, "--bars", 3, "--seed", 1, "-o", tmp_path / "x.mid"
        ).exit_code
        == 0
    )
    assert mido.MidiFile(tmp_path / "x.mid").length == pytest.approx(3 * 4 * 60 / 100)


def test_resume_refuses_changed_settings(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert_one_clear_line(
        muse("train", "--resume", run, "--set", "model.hidden=8"), "model.hidden", "train.steps"
    )


def training_past_its_first_checkpoint(run, *options) -> subprocess.Popen:
    """A `muse train` process of a long tiny run into ``run``, once its first checkpoint is
    written (its stderr piped)."""
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "muse_gan", "train", "--out", str(run), *options]
        + set_options(TINY + ["train.steps=100000"]),
        stderr=subprocess.PIPE,
        text=True,
    )
    # generous: a loaded machine is slow, and speed is not what this tests
    deadline = time.time() + 300
    while not (run / "checkpoints" / "latest.safetensors").exists() and time.time() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.2)
    return process


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])  # Ctrl-C; a cluster's time limit or `kill`
def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path, stop):
    import signal

    run = tmp_path / "run"
    process = training_past_its_first_checkpoint(run)
    process.send_signal(getattr(signal, stop))
    _, err = process.communicate(timeout=300)
    assert process.returncode == {"SIGINT": 130, "SIGTERM": 143}[stop]  # as a shell reports them
    assert "--resume" in err and "Traceback" not in err
    assert (run / "checkpoints" / "latest.safetensors").exists()


def test_a_run_folder_removed_while_training_stops_the_run_in_one_line(tmp_path):
    import shutil
    import signal

    run = tmp_path / "run"
    process = training_past_its_first_checkpoint(run, "--quiet")
    process.send_signal(signal.SIGSTOP)  # removed whole, between two of its writes
    shutil.rmtree(run)
    process.send_signal(signal.SIGCONT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"Error: --out {run}: the run folder was removed while the run wrote into it; it stopped"
    )


def test_train_takes_a_seed_and_a_thread_count_and_says_the_threads(tmp_path):
    run = tmp_path / "run"
    result = muse(
        "train", "--out", run, "--seed", 5, "--threads", 1, *set_options(TINY + ["train.steps=1"])
    )
    assert result.exit_code == 0, result.output
    assert "training on 1 CPU thread (" in result.output
    settings = tomllib.loads((run / "config.toml").read_text())["train"]
    assert (settings["seed"], settings["threads"]) == (5, 1)


def test_ctrl_c_before_training_starts_is_one_line(tmp_path, private_cache):
    import signal

    options = set_options(TINY)
    # a fresh cache: it parses chorales for a while
    process = subprocess.Popen(
        [sys.executable, "-m", "muse_gan", "train", "--out", str(tmp_path / "run"), *options],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr.readline().startswith("run folder:")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == "Error: interrupted" and "Traceback" not in err


def test_train_without_a_config_starts_from_the_pairs_tuned_sizes(tmp_path):
    run = tmp_path / "run"
    quick = ["data.limit=40", "train.steps=1", "train.sample_every=0", 'train.device="cpu"']
    result = muse(
        "train", "--modality", "image", "--model", "gan", "--out", run, *set_options(quick)
    )
    assert result.exit_code == 0, result.output
    resolved = tomllib.loads((run / "config.toml").read_text())
    assert (resolved["image"]["size"], resolved["gan"]["loss"]) == (16, "hinge")  # digits-gan's
    assert resolved["model"]["channels"] == 32 and resolved["train"]["steps"] == 1
