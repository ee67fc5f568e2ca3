"""The `muse` command with the bundled models and no training: through Click's runner and as a
real subprocess (tests/e2e/test_cli.py trains tiny models from the command line)."""

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

from ..conftest import TINY, set_options, write_quartet


def muse(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def assert_one_clear_line(result, *words):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0]


def bars_seconds(bars, tempo=96):
    """The bundled Bach models' 4/4 bars at their tempo (96 quarter notes a minute)."""
    return bars * 4 * 60 / tempo


# compose


def test_compose_writes_midi_to_stdout():
    result = muse("compose", "--model", "bach-gan", "--bars", 2, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"MThd")


def test_compose_to_a_file_is_the_same_as_stdout_for_the_same_seed(tmp_path):
    stdout = muse("compose", "--model", "bach-gan", "--bars", 2, "--seed", 4).stdout_bytes
    assert (
        muse(
            "compose", "--model", "bach-gan", "--bars", 2, "--seed", 4, "-o", tmp_path / "a.mid"
        ).exit_code
        == 0
    )
    assert (tmp_path / "a.mid").read_bytes() == stdout
    # to the last bar line
    assert mido.MidiFile(tmp_path / "a.mid").length == pytest.approx(bars_seconds(2))


def test_compose_png_and_variations(tmp_path):
    assert (
        muse("compose", "--model", "bach-gan", "--bars", 2, "-o", tmp_path / "roll.png").exit_code
        == 0
    )
    assert Image.open(tmp_path / "roll.png").width >= 2 * 16
    assert (
        muse(
            "compose", "--model", "bach-gan", "--bars", 1, "-n", 3, "-o", f"{tmp_path}/many/"
        ).exit_code
        == 0
    )
    assert sorted(path.name for path in (tmp_path / "many").iterdir()) == [
        "piece_001.mid",
        "piece_002.mid",
        "piece_003.mid",
    ]
    assert (
        muse(
            "compose",
            "--model",
            "bach-gan",
            "--bars",
            1,
            "-n",
            2,
            "--seed",
            0,
            "-o",
            tmp_path / "v.mid",
        ).exit_code
        == 0
    )
    assert (tmp_path / "v_001.mid").read_bytes() != (tmp_path / "v_002.mid").read_bytes()


def test_compose_continues_a_primer(tmp_path):
    primer = write_quartet(tmp_path / "primer.mid")
    result = muse(
        "compose",
        "--model",
        "bach-rnn",
        "--bars",
        3,
        "--primer",
        primer,
        "-o",
        tmp_path / "out.mid",
    )
    assert result.exit_code == 0, result.output
    # the primer's tempo
    assert mido.MidiFile(tmp_path / "out.mid").length == pytest.approx(bars_seconds(3, tempo=100))


def test_compose_transposes_the_piece(tmp_path):
    def notes(*args):
        assert (
            muse(
                "compose",
                "--model",
                "bach-gan",
                "--bars",
                2,
                "--seed",
                3,
                *args,
                "-o",
                tmp_path / "p.mid",
            ).exit_code
            == 0
        )
        piece = pretty_midi.PrettyMIDI(str(tmp_path / "p.mid"))
        return [(note.start, note.pitch) for part in piece.instruments for note in part.notes]

    plain = notes()
    assert plain and notes("--transpose", -3) == [(start, pitch - 3) for start, pitch in plain]
    assert_one_clear_line(
        muse(
            "compose",
            "--model",
            "bach-gan",
            "--bars",
            2,
            "--seed",
            3,
            "--transpose",
            -24,
            "-o",
            tmp_path / "low.mid",
        ),
        "--transpose -24",
        "pitch range (MIDI 28-96)",
    )
    assert not (tmp_path / "low.mid").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--transpose", "25"], ["--transpose 25", "-24 to 24"]),
        (["--bars", "0"], ["--bars 0"]),
        (["--bars", "300"], ["--bars 300"]),
        (["--model", "nope"], ["--model nope", "bach-rnn"]),
        (["--temperature", "0"], ["--temperature"]),
        (["-o", "song.mp3"], ["song.mp3", ".mid", ".wav"]),
        (["--primer", "missing.mid"], ["missing.mid"]),
    ],
)
def test_bad_compose_options_are_one_clear_line(args, words):
    model = [] if "--model" in args else ["--model", "bach-gan"]
    assert_one_clear_line(muse("compose", *model, *args), *words)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--key", "H minor"], ["--key H minor", "note name"]),
        (["--scale", "C wholetone"], ["--scale C wholetone", "unknown key or mode", "dorian"]),
        (["--chords", "Dm | Q7"], ["--chords Dm | Q7", "'Q7'"]),
        (["--range", "soprano=60"], ["--range soprano=60", "TRACK=LOW-HIGH"]),
        (["--density", "many"], ["--density many", "low, medium, high"]),
        (["--polyphony", "-1"], ["--polyphony -1"]),
        (["--range", "descant=60-70"], ["--range descant", "soprano, alto, tenor, bass"]),
        (["--key", "C", "--range", "alto=61-61"], ["--range alto=61-61", "no note of C major"]),
        (["--chords", "F#", "--key", "C"], ["--chords F#", "none of its tones is in C major"]),
    ],
)
def test_constraints_that_cannot_be_kept_are_one_clear_line_and_status_2(tmp_path, args, words):
    result = muse("compose", "--model", "bach-gan", *args, "-o", tmp_path / "x.mid")
    assert_one_clear_line(result, *words)
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_compose_with_constraints_writes_what_the_library_composes(tmp_path):
    import muse_gan

    asked = [
        "--key",
        "D minor",
        "--range",
        "soprano=62-74",
        "--chords",
        "Dm | A7",
        "--polyphony",
        1,
    ]
    result = muse(
        "compose", "--model", "bach-gan", "--bars", 2, "--seed", 3, *asked, "-o", tmp_path / "x.mid"
    )
    assert result.exit_code == 0, result.output
    piece = muse_gan.load("bach-gan").compose(
        bars=2, seed=3, key="D minor", ranges="soprano=62-74", chords="Dm | A7", polyphony="1"
    )
    assert (tmp_path / "x.mid").read_bytes() == piece.file_bytes(".mid")


@pytest.mark.parametrize(
    "args, option",
    [
        (["compose", "--bars", "0", "-o", "x.mid"], "--bars 0"),
        (["compose", "--temperature", "0", "-o", "x.mid"], "--temperature 0"),
        (["compose", "-n", "0", "-o", "x.mid"], "--variations 0"),
        (["compose", "-n", "2", "-o", "-"], "-o -"),
        (["compose", "-o", "x.mp3"], "-o x.mp3"),
        (["sample", "--model", "digits-gan", "-n", "0", "-o", "x.png"], "--count 0"),
        (["animate", "--model", "digits-gan", "--frames", "1", "-o", "x.gif"], "--frames 1"),
    ],
)
def test_options_that_need_no_model_are_refused_before_torch_is_imported(tmp_path, args, option):
    """A mistyped option costs no model load: the refusal comes before torch's import."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "muse_gan", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    imports = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    said = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert result.returncode != 0 and imports  # -X importtime listed what was imported
    assert len(said) == 1 and said[0].startswith("Error: ") and option in said[0], said
    modules = {line.rsplit("|", 1)[-1].strip() for line in imports}
    assert not {module for module in modules if module == "torch" or module.startswith("torch.")}
    assert not list(tmp_path.iterdir())  # and nothing was written


def test_an_existing_file_survives_a_failed_compose(tmp_path):
    target = tmp_path / "keep.mid"
    target.write_bytes(b"precious")
    muse("compose", "--model", "bach-gan", "--bars", "0", "-o", target)
    assert target.read_bytes() == b"precious"


def test_an_unwritable_output_is_one_clear_line(tmp_path):
    (tmp_path / "a file").write_bytes(b"x")
    target = tmp_path / "a file" / "song.mid"  # refused even as root, unlike a read-only folder
    assert_one_clear_line(
        muse("compose", "--model", "bach-gan", "-o", target), f"-o {target}", "cannot write"
    )


def test_compose_refuses_to_write_midi_to_a_terminal():
    controller, terminal = pty.openpty()
    result = subprocess.run(
        [sys.executable, "-m", "muse_gan", "compose", "--model", "bach-gan"],
        stdout=terminal,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    os.close(terminal)
    os.close(controller)
    assert result.returncode != 0
    assert b"terminal" in result.stderr and b"Traceback" not in result.stderr


def test_a_conditional_gan_harmonizes_the_given_melody(tmp_path):
    """bach-gan is given the soprano (gan.condition_track = 0) and makes the other three voices."""
    melody = pretty_midi.PrettyMIDI(initial_tempo=100)
    voice = pretty_midi.Instrument(0, name="melody")
    voice.notes = [
        pretty_midi.Note(90, pitch, 0.6 * index, 0.6 * (index + 1))
        for index, pitch in enumerate([72, 74, 76, 77])
    ]
    melody.instruments.append(voice)
    melody.write(str(tmp_path / "melody.mid"))
    outputs = []
    for number, seed in enumerate((1, 2)):
        target = tmp_path / f"harmonized{number}.mid"
        assert (
            muse(
                "compose",
                "--model",
                "bach-gan",
                "--bars",
                2,
                "--seed",
                seed,
                "--primer",
                tmp_path / "melody.mid",
                "-o",
                target,
            ).exit_code
            == 0
        )
        piece = pretty_midi.PrettyMIDI(str(target))
        # the soprano is the melody
        assert [(note.pitch, round(note.start, 3)) for note in piece.instruments[0].notes] == [
            (note.pitch, round(note.start, 3)) for note in voice.notes
        ]
        assert all(part.notes for part in piece.instruments[1:])
        outputs.append(target.read_bytes())
    assert outputs[0] != outputs[1]  # and the other voices are generated


def test_decode_choice_for_gans_and_a_clear_line_for_other_models(tmp_path):
    files = {}
    for decode in ("threshold", "bernoulli"):
        files[decode] = tmp_path / f"{decode}.mid"
        result = muse(
            "compose",
            "--model",
            "bach-gan",
            "--bars",
            2,
            "--seed",
            3,
            "--decode",
            decode,
            "-o",
            files[decode],
        )
        assert result.exit_code == 0, result.output
    # drawing notes from the probabilities differs from cutting them at 0.5
    assert files["threshold"].read_bytes() != files["bernoulli"].read_bytes()
    assert_one_clear_line(
        muse("compose", "--model", "bach-rnn", "--decode", "bernoulli", "-o", tmp_path / "x.mid"),
        "--decode",
        "RNN",
    )


# interpolate


def test_interpolate_to_one_file_or_a_folder(tmp_path):
    start, end = write_quartet(tmp_path / "a.mid"), write_quartet(tmp_path / "b.mid", shift=4)
    result = muse(
        "interpolate", start, end, "--model", "bach-vae", "--steps", 3, "-o", tmp_path / "walk.mid"
    )
    assert result.exit_code == 0, result.output
    # three clips of one segment (bach-vae's: two bars), at the start clip's tempo
    assert mido.MidiFile(tmp_path / "walk.mid").length == pytest.approx(
        bars_seconds(3 * 2, tempo=100)
    )
    result = muse(
        "interpolate", start, end, "--model", "bach-vae", "--steps", 3, "-o", f"{tmp_path}/walk/"
    )
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "walk").iterdir()) == [
        "step_001.mid",
        "step_002.mid",
        "step_003.mid",
    ]


def test_interpolate_with_a_model_without_latent_space_is_one_clear_line(tmp_path):
    start = write_quartet(tmp_path / "a.mid")
    assert_one_clear_line(
        muse("interpolate", start, start, "--model", "bach-rnn", "-o", tmp_path / "x.mid"), "VAE"
    )


# train: what is refused before any data is read or any step is taken


@pytest.mark.parametrize(
    "args, words",
    [
        (["--data", "/no/such/folder"], ["/no/such/folder"]),
        (["--set", "train.stepz=3"], ["train.stepz"]),
        (["--set", "train.steps=many"], ["train.steps", "int"]),
        (["--config", "/no/such.toml"], ["/no/such.toml"]),
        (["--modality", "smell"], ["smell", "midi"]),
        (["--resume", "/no/such/run"], ["/no/such/run"]),
    ],
)
def test_bad_train_options_are_one_clear_line(tmp_path, args, words):
    assert_one_clear_line(muse("train", "--out", tmp_path / "run", *args), *words)


def test_an_empty_data_folder_is_one_clear_line(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_clear_line(muse("train", "--data", tmp_path / "empty"), "empty")


def test_a_second_run_into_a_folder_in_use_is_one_line_naming_the_first(tmp_path):
    """Issue 25, case 7: two `muse train` runs into one --out both went ahead."""
    import socket

    from muse_gan.files import locked

    with locked(tmp_path / "run"):
        result = muse("train", "--out", tmp_path / "run", *set_options(TINY))
    assert_one_clear_line(
        result, "another training run", f"process {os.getpid()} on {socket.gethostname()}"
    )
    assert not (tmp_path / "run").exists()  # made for the lock, and nothing written into it


def test_a_run_folder_that_is_a_file_is_one_line_and_the_file_is_kept(tmp_path):
    (tmp_path / "run").write_text("notes to self")
    result = muse("train", "--out", tmp_path / "run", *set_options(TINY))
    assert_one_clear_line(result, "--out", "is a file, not a folder")
    assert (tmp_path / "run").read_text() == "notes to self"


def test_train_with_an_unknown_family_lists_the_known_ones(tmp_path):
    assert_one_clear_line(
        muse("train", "--model", "diffusion", "--out", tmp_path / "run"),
        "diffusion",
        "gan, rnn, vae",
    )


def test_train_with_an_unknown_modality_names_no_run_folder(tmp_path):
    result = muse("train", "--modality", "video", "--out", tmp_path / "run")
    assert_one_clear_line(result, "video", "audio, image, midi, text")
    assert "run folder" not in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "setting, words",
    [
        ("train.eval_every=0", ["train.eval_every", "at least 1"]),
        ("train.skip_limit=0", ["train.skip_limit", "at least 1"]),
        ('train.precision="fp16"', ["train.precision"]),
        ("train.lr=1e38", ["train.lr", "too large"]),  # finite, but Adam's step overflows float32
        ("train.betas=[1.0, 0.9]", ["train.betas", "below 1"]),
        ('train.select_by="fid"', ["train.select_by", "overlap"]),
        ("train.class_balance=1.5", ["train.class_balance", "evenly"]),
        (
            'train.device="cuda:7"'
            if not __import__("torch").cuda.is_available()
            else 'train.device="tpu"',
            ["train.device"],
        ),
    ],
)
def test_bad_train_settings_are_one_clear_line(tmp_path, setting, words):
    options = set_options(TINY)
    assert_one_clear_line(
        muse("train", "--out", tmp_path / "run", *options, "--set", setting), *words
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "modality, setting, why",
    [
        ("midi", "midi.conditions=[]", "midi.conditions is empty"),
        ("image", "image.labels=false", "image.labels is off"),
        ("text", "text.window=16", "text data has no classes"),
    ],
)
def test_class_balance_without_classes_is_refused_before_any_data_is_read(
    tmp_path, modality, setting, why
):
    # the folder does not exist: a check made after reading the data would name it instead
    result = muse(
        "train", "--modality", modality, "--data", tmp_path / "none", "--out", tmp_path / "run",
        "--set", setting, "--set", "train.class_balance=0.5",
    )  # fmt: skip
    assert_one_clear_line(result, f"train.class_balance: 0.5: {why}: nothing to balance")
    assert not (tmp_path / "run").exists()


# -o: links, FIFOs and folders (issue 25, cases 5 and 8)


def test_o_writes_through_a_symbolic_link(tmp_path):
    (tmp_path / "elsewhere.mid").write_bytes(b"old")
    (tmp_path / "song.mid").symlink_to("elsewhere.mid")
    result = muse(
        "compose", "--model", "bach-gan", "--bars", 2, "--seed", 1, "-o", tmp_path / "song.mid"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "song.mid").is_symlink()
    assert (tmp_path / "elsewhere.mid").read_bytes().startswith(b"MThd")


def test_o_into_a_missing_folder_makes_it_only_under_an_existing_one_and_says_so(tmp_path):
    made = muse(
        "compose", "--model", "bach-gan", "--bars", 2, "--seed", 1, "-o", tmp_path / "new" / "a.mid"
    )
    assert made.exit_code == 0, made.output
    assert (tmp_path / "new" / "a.mid").exists()
    assert f"made the folder {tmp_path / 'new'}" in made.output
    deep = tmp_path / "not" / "there" / "a.mid"
    assert_one_clear_line(
        muse("compose", "--model", "bach-gan", "--bars", 2, "-o", deep), str(deep), "make it first"
    )
    assert not (tmp_path / "not").exists()


# the rest of the command


def test_models_lists_the_bundled_models():
    result = muse("models")
    assert result.exit_code == 0
    assert result.output.startswith("bach-rnn")


def test_help_runs_as_a_real_command():
    result = subprocess.run(["muse", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "compose" in result.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["compose", "--voice-span", "1.5"], ["'--voice-span'", "'1.5' is not a valid integer"]),
        (["compose", "--bars", "many"], ["'--bars'", "'many'"]),
        (["compose", "--bras", "4"], ["No such option '--bras'", "'--bars'"]),
        (["compose", "--seed", "-3"], ["'--seed'", "-3"]),
        (["--bogus"], ["No such option '--bogus'"]),
        (["composer"], ["No such command 'composer'"]),
        (["infill"], ["Missing argument 'CLIP'", "infill [OPTIONS] CLIP"]),
    ],
)
def test_an_option_click_refuses_is_one_line_and_status_2(args, words):
    """Not a number, out of range, misspelt, missing: one line, as the toolkit's own checks
    give."""
    result = muse(*args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert_one_clear_line(result, *words)


def test_muse_alone_still_prints_its_help():
    result = muse()
    assert "Commands:" in result.output and "compose" in result.output
