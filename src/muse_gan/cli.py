"""The ``muse`` command. Each command is a thin call into the library; heavy imports (torch,
music21) happen inside commands so ``muse --help`` stays instant."""

from __future__ import annotations

import functools
import os
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from .options import PULLS


class MuseGroup(click.Group):
    """Turns a ``MuseError`` into one line on stderr and exit status 1, an option click
    refuses (not a number, unknown) into one line and status 2, and Ctrl-C into one line and
    status 130 (a training run stopped by SIGTERM: 143), without a traceback."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise _one_line(error) from None

    def invoke(self, ctx):
        from .errors import Interrupted, MuseError

        try:
            return super().invoke(ctx)
        except Interrupted as stop:  # what a shell reports for a process the signal ended
            click.echo(f"Error: {stop}", err=True)
            ctx.exit(stop.exit_code)
        except MuseError as error:
            failure = click.ClickException(str(error))
            failure.exit_code = getattr(error, "exit_code", 1)  # 2: an option that cannot be kept
            raise failure from None
        except click.UsageError as error:
            raise _one_line(error) from None
        # training saves and says how to resume; elsewhere nothing is half-written
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            ctx.exit(130)


def _one_line(error: click.UsageError) -> click.UsageError:
    """``error`` shown as its one line (click prints the usage and a hint before it, three
    lines for one reason); `muse` alone still prints the help."""
    if isinstance(error, click.exceptions.NoArgsIsHelpError) or error.ctx is None:
        return error
    if isinstance(error, click.MissingParameter):  # the usage line says what goes where
        usage = " ".join(error.ctx.get_usage().split())
        return click.UsageError(f"{error.format_message()} {usage}")
    error.ctx = None
    return error


SEEDS = click.IntRange(0, 2**63 - 1)


def seed_option(default: int | None = 0, what: str = "file"):
    """``--seed``: the same seed, model and options make the same output; left out (``None``
    default), a random one, printed."""
    made = "random, printed" if default is None else str(default)
    return click.option(
        "--seed",
        type=SEEDS,
        default=default,
        help=f"Same seed and model give the same {what} (default: {made}).",
    )


def temperature_option(default: float = 1.0):
    return click.option(
        "--temperature",
        type=float,
        default=default,
        show_default=True,
        help="Below 1: safer; above 1: wilder.",
    )


# sample and animate: pictures made bigger, nearest neighbour (16 x 16 digits are tiny)
SCALE_OPTION = click.option(
    "--scale",
    type=int,
    default=1,
    show_default=True,
    help="Pictures: each pixel becomes a square this many pixels wide (1 to 16).",
)

# The hard constraints (docs/constraints.md) that compose, infill and harmonize take.
CONSTRAINT_OPTIONS = [
    click.option("--key", default=None, help='Only the notes of this key, e.g. "D minor", "Bb".'),
    click.option(
        "--scale",
        default=None,
        help='Only these pitch classes: "D dorian", "C pentatonic", "C D E G A".',
    ),
    click.option(
        "--passing", is_flag=True, help="With --key/--scale: chromatic passing notes between beats."
    ),
    click.option(
        "--range",
        "ranges",
        multiple=True,
        help="A track's lowest and highest pitch, e.g. soprano=60-81 or bass=C2-D4 (repeatable).",
    ),
    click.option(
        "--density",
        default=None,
        help='Notes per bar: "4" (every track), "soprano=6,2", or low/medium/high.',
    ),
    click.option(
        "--chords",
        default=None,
        help='Chords per bar, e.g. "Dm | G7 | C | C": chord tones on strong beats, the bass on the root.',
    ),
    click.option(
        "--polyphony", default=None, help='Most notes a track sounds at once: "1" or "alto=2,1".'
    ),
]


# The soft pulls (docs/midi.md#staying-in-key-over-long-pieces) that compose takes; each
# default (None) is the model's own midi setting of that name, or its class_pulls for the class.
PULL_OPTIONS = [
    click.option(
        "--key-hold",
        type=float,
        default=None,
        help="RNN, VAE and masked models: how strongly a piece keeps to the key of its notes so far, "
        "0 (off) to 30 (default: the model's; 1 for most).",
    ),
    click.option(
        "--note-hold",
        type=float,
        default=None,
        help="RNN and VAE models: a pull toward holding the notes that sound, -30 to 30; "
        "negative: shorter notes, 0: off (default: the model's for the meter or voice count asked).",
    ),
    click.option(
        "--rest-hold",
        type=float,
        default=None,
        help="RNN and VAE models: a pull toward each voice going on sounding or resting as it "
        "was, -30 to 30: fewer, longer rests; negative: more, shorter ones; 0: off (default: "
        "the model's for the meter or voice count asked).",
    ),
    click.option(
        "--voice-span",
        type=int,
        default=None,
        help="RNN and VAE models: each voice kept within this many semitones, 0 (off) to 127 "
        "(default: the model's; folk-melody 14, in 9/8 16).",
    ),
    click.option(
        "--ensemble-span",
        type=int,
        default=None,
        help="RNN and VAE models: all voices together kept within this many semitones, 0 (off) "
        "to 127 (default: the model's; palestrina 28).",
    ),
]


def _gathered(options: list, into: str, names, adjusted=dict):
    """A decorator putting ``options`` on a command, which gets the values of ``names`` as one
    dict, ``into`` (made by ``adjusted`` from the values as click parsed them)."""

    def decorate(command):
        @functools.wraps(command)
        def gathering(*args, **kwargs):
            values = {name: kwargs.pop(name) for name in names}
            return command(*args, **{into: adjusted(values)}, **kwargs)

        for option in reversed(options):
            gathering = option(gathering)
        return gathering

    return decorate


def _joined_ranges(asked: dict) -> dict:
    """``--range`` is repeatable; the constraints read its values joined by commas."""
    return asked | {"ranges": ",".join(asked["ranges"]) or None}


# compose's soft pulls as one dict, ``pulls``; its hard constraints as one dict, ``asked``
_pull_options = _gathered(PULL_OPTIONS, "pulls", PULLS)
_constraint_options = _gathered(
    CONSTRAINT_OPTIONS,
    "asked",
    ("key", "scale", "passing", "ranges", "density", "chords", "polyphony"),
    _joined_ranges,
)


@click.group(cls=MuseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="muse_gan")
def main():
    """Generate and train models of music, pictures, sound and text: `muse compose --bars 16 > song.mid`."""


@main.command()
@click.option(
    "--bars", type=int, default=16, show_default=True, help="Length of each piece, 1-256 bars."
)
@click.option(
    "--model",
    "-m",
    default=None,
    help="Bundled model name, run folder or checkpoint (default: bach-rnn).",
)
@seed_option(None)
@temperature_option()
@click.option(
    "--tempo",
    type=float,
    default=None,
    help="Quarter notes per minute (default: the primer's or the model's).",
)
@click.option(
    "--meter",
    default=None,
    help="Time signature, e.g. 6/8, for a model trained on several "
    "(default: the primer's, else the data's commonest).",
)
@click.option(
    "--voices",
    type=int,
    default=None,
    help="How many voices, for a model trained on pieces of several voice counts.",
)
@click.option(
    "--velocity",
    type=int,
    default=None,
    help="Every note at this velocity, 1-127 (default: the model's dynamics).",
)
@click.option(
    "--primer", default=None, help="A MIDI or score file to continue: the piece starts with it."
)
@click.option(
    "--first-bar",
    type=int,
    default=1,
    show_default=True,
    help="The bar of your song the piece (its primer first) starts at: a model told its bar "
    "numbers (folk-melody) goes on from bar 9 as a tune goes on, not as one opens; others alike.",
)
@click.option(
    "-n",
    "--variations",
    type=int,
    default=1,
    show_default=True,
    help="How many pieces (seeds seed, seed+1, ...).",
)
@click.option(
    "--decode",
    type=click.Choice(["threshold", "bernoulli"]),
    default=None,
    help="GAN models: notes where the probability is above 0.5, or drawn from it (default: the model's).",
)
@click.option(
    "--transpose",
    type=int,
    default=0,
    show_default=True,
    help="Semitones to move the pieces up (down if negative), -24 to 24: another key for a one-key model.",
)
@_pull_options
@_constraint_options
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="Output .mid, .png or .wav (format from the suffix), a folder for several, or - for MIDI on stdout.",
)
def compose(
    bars,
    model,
    seed,
    temperature,
    tempo,
    meter,
    voices,
    velocity,
    primer,
    first_bar,
    variations,
    decode,
    transpose,
    pulls,
    asked,
    output,
):
    """Compose new pieces with a trained model."""
    from .options import check_meter, check_options

    check_options(
        bars=bars,
        first_bar=first_bar,
        temperature=temperature,
        tempo=tempo,
        variations=variations,
        transpose=transpose,
        voices=voices,
        velocity=velocity,
        **pulls,
    )
    check_meter(meter)
    _check_constraints(asked)
    targets = _output_targets(output, variations)
    from .api import load

    muse = load(model)
    muse.check_composes()
    chosen = _random_seed() if seed is None else seed
    for number, target in enumerate(targets):
        piece = muse.compose(
            bars,
            chosen + number,
            temperature,
            tempo,
            primer,
            decode,
            transpose,
            meter,
            voices,
            velocity,
            **pulls,
            **asked,
            first_bar=first_bar,
        )
        _write(_file_bytes(piece, target.suffix if target else ".mid"), target)
    _say_seed(seed, chosen)


def _check_constraints(asked: dict) -> None:
    """Constraints whose words cannot be read, refused before a model is loaded."""
    if any(value not in (None, False) for value in asked.values()):
        from .modalities.midi.constraints import Constraints

        Constraints.parse(**asked)


def _output_targets(
    output: str,
    count: int,
    stem: str = "piece",
    formats: tuple[str, ...] = (".mid", ".midi", ".png", ".wav"),
) -> list[Path | None]:
    """Where each piece goes: None is stdout. A folder gets one file each, in the first format."""
    from .errors import MuseError

    kind = "MIDI" if formats[0] == ".mid" else formats[0].lstrip(".").upper()
    if output == "-":
        if count > 1:
            raise MuseError(f"-o -: several variations need -o FOLDER/ or -o NAME{formats[0]}")
        if sys.stdout.isatty() and formats[0] not in (".abc", ".txt"):  # text is for reading
            raise MuseError(
                f"refusing to write {kind} to a terminal: redirect it (> out{formats[0]}) "
                f"or give -o out{formats[0]}"
            )
        return [None]
    path = Path(output)
    if _is_folder(output) or (count > 1 and not path.suffix):
        return [path / f"{stem}_{number:03d}{formats[0]}" for number in range(1, count + 1)]
    if path.suffix.lower() not in formats:
        raise MuseError(
            f"-o {output}: unknown format '{path.suffix}' (known: {', '.join(formats)})"
        )
    if count == 1:
        return [path]
    return [
        path.with_name(f"{path.stem}_{number:03d}{path.suffix}") for number in range(1, count + 1)
    ]


def _is_folder(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def _file_bytes(result, suffix: str) -> bytes:
    """What the library returned (a piece, items) as a file of the format ``suffix`` names."""
    from .errors import DataError, MuseError

    try:
        return result.file_bytes(suffix)
    except DataError as error:
        raise MuseError(str(error)) from None


def _write(data: bytes, target: Path | None) -> None:
    """``data`` to stdout (None) or to ``target``: replaced whole or not at all, a symbolic
    link written through, a FIFO or device written into (``files.write_atomically``)."""
    from .errors import MuseError
    from .files import write_atomically

    try:
        if target is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            _make_output_folder(target)
            write_atomically(target, data)
    except OSError as error:  # stdout on a full disk
        raise MuseError(f"-o -: cannot write to stdout ({error.strerror or error})") from None
    except MuseError as error:
        raise MuseError(f"-o {error}") from None


def _make_output_folder(target: Path) -> None:
    """The folder ``target`` goes in, made (and said) when only it is missing: a mistyped path
    is refused rather than built from the filesystem's root down. Errors are ``MuseError``s
    naming ``target`` (``_write`` puts ``-o`` before them)."""
    from .errors import MuseError

    folder = target.parent
    if folder.exists():  # a folder, or a file in the way (which writing then names)
        return
    if not folder.parent.is_dir():
        raise MuseError(
            f"{target}: cannot write (no folder {folder}, nor {folder.parent} to make it in: "
            "make it first)"
        )
    try:
        folder.mkdir()
    except OSError as error:
        raise MuseError(f"{target}: cannot make {folder} ({error.strerror or error})") from None
    click.echo(f"made the folder {folder}", err=True)


@main.command()
@click.argument("midi_file")
@click.option(
    "-o", "--output", default="-", show_default=True, help="The .wav to write, or - for stdout."
)
@click.option(
    "--soundfont",
    default=None,
    help="A General MIDI SoundFont (.sf2/.sf3) for FluidSynth "
    "(default: one found in the usual places, e.g. /usr/share/sounds/sf2).",
)
@click.option(
    "--synth",
    type=click.Choice(["auto", "fluidsynth", "builtin"]),
    default="auto",
    show_default=True,
    help="auto: FluidSynth when it and a SoundFont are installed, else the built-in synthesizer.",
)
@click.option(
    "--sample-rate", type=click.IntRange(8000, 96000), default=None, help="Hz (default: 22050)."
)
def render(midi_file, output, soundfont, synth, sample_rate):
    """Play a MIDI (or score) file into a WAV: same file, same WAV."""
    from .errors import DataError, MuseError
    from .modalities.midi import PianoRollAdapter
    from .modalities.midi.render import SAMPLE_RATE, wav_bytes
    from .modalities.midi.render import render as render_piece

    (target,) = _output_targets(output, 1, stem="render", formats=(".wav",))
    try:
        piece = PianoRollAdapter().read(midi_file)[0]  # a score file's first piece works too
    except DataError as error:
        raise MuseError(str(error)) from None
    rate = sample_rate or SAMPLE_RATE
    _write(wav_bytes(render_piece(piece, rate, soundfont=soundfont, synth=synth), rate), target)


@main.command()
@click.argument("start")
@click.argument("end")
@click.option(
    "--model",
    "-m",
    default="bach-vae",
    show_default=True,
    help="A VAE: bundled name, run folder or checkpoint.",
)
@click.option(
    "--steps", type=int, default=5, show_default=True, help="Clips on the path, both ends included."
)
@seed_option(what="clips")
@temperature_option(0.5)
@click.option(
    "--tempo", type=float, default=None, help="Quarter notes per minute (default: START's)."
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="One .mid/.png with the clips one after another, a FOLDER/ for one file each, or - for stdout.",
)
def interpolate(start, end, model, steps, seed, temperature, tempo, output):
    """Walk the latent space from clip START to clip END."""
    from .options import check_options

    check_options(temperature=temperature, tempo=tempo, steps=steps)
    one_each = _is_folder(output)
    targets = _output_targets(output, steps if one_each else 1, stem="step")
    from .api import load

    muse = load(model)
    pieces = muse.interpolate(start, end, steps, seed, temperature, tempo)
    for piece, target in zip(pieces if one_each else [muse.join(pieces)], targets):
        _write(_file_bytes(piece, target.suffix if target else ".mid"), target)


def _fill_options(command):
    """The options ``muse infill`` and ``muse harmonize`` share."""
    for option in reversed(
        [
            click.option(
                "--model",
                "-m",
                default="bach-coconet",
                show_default=True,
                help="A model that fills masks (Coconet): bundled name, run folder or checkpoint.",
            ),
            seed_option(),
            temperature_option(),
            click.option(
                "--tempo",
                type=float,
                default=None,
                help="Quarter notes per minute (default: the file's).",
            ),
            click.option(
                "-o",
                "--output",
                default="-",
                show_default=True,
                help="Output .mid, .png or .wav (format from the suffix), or - for MIDI on stdout.",
            ),
        ]
    ):
        command = option(command)
    return command


@main.command()
@click.argument("clip")
@click.option("--bars", required=True, help="The bars to compose anew, counted from 1: 5-8, or 5.")
@click.option(
    "--tracks",
    default=None,
    help="Only these tracks, by name: alto,tenor (default: every track).",
)
@_constraint_options
@_fill_options
def infill(clip, bars, tracks, model, seed, temperature, tempo, output, asked):
    """Compose BARS of CLIP anew, given what comes before and after; every other note stays."""
    from .modalities.midi.selection import parse_bars
    from .options import check_options

    with _bad_input():
        check_options(temperature=temperature, tempo=tempo)
        selected = parse_bars(bars)
        _check_constraints(asked)
        (target,) = _output_targets(output, 1)
        from .api import load

        piece = load(model).infill(clip, selected, tracks, seed, temperature, tempo, **asked)
    _write(_file_bytes(piece, target.suffix if target else ".mid"), target)


@main.command()
@click.argument("melody")
@_constraint_options
@_fill_options
def harmonize(melody, model, seed, temperature, tempo, output, asked):
    """Write the other voices under MELODY (its top line), in its key and meter."""
    from .options import check_options

    with _bad_input():
        check_options(temperature=temperature, tempo=tempo)
        _check_constraints(asked)
        (target,) = _output_targets(output, 1)
        from .api import load

        piece = load(model).harmonize(melody, seed, temperature, tempo, **asked)
    if piece.chords_dropped:
        click.echo(f"{melody}: it has chords; harmonized its top line", err=True)
    _write(_file_bytes(piece, target.suffix if target else ".mid"), target)


@contextmanager
def _bad_input():
    """A ``MuseError`` raised inside as one line and exit status 2, before anything is written."""
    from .errors import MuseError

    try:
        yield
    except MuseError as error:
        failure = click.ClickException(str(error))
        failure.exit_code = 2
        raise failure from None


@main.command()
@click.option(
    "--model",
    "-m",
    required=True,
    help="An image, audio or text model: bundled name, run folder or checkpoint.",
)
@click.option(
    "--modality",
    default=None,
    help="Check that the model is of this modality (image, audio, text).",
)
@click.option(
    "-n",
    "--count",
    type=int,
    default=None,
    help="How many items (default: 64 pictures, 8 sounds, 4 texts).",
)
@click.option(
    "--label",
    "--pitch",
    "label",
    default=None,
    help="Class-conditional models: the class to draw (a digit; for notes, the MIDI pitch).",
)
@seed_option(None, what="files")
@temperature_option()
@click.option(
    "--length",
    type=int,
    default=None,
    help="Text models: at most this many tokens (default: 4 windows).",
)
@click.option(
    "--primer",
    default=None,
    help="Text models: the text to start with (\\n: a line break), or a file holding it.",
)
@click.option(
    "--top-k",
    type=int,
    default=0,
    show_default=True,
    help="Text models: draw from the k likeliest tokens only (0: all).",
)
@click.option(
    "--top-p",
    type=float,
    default=1.0,
    show_default=True,
    help="Text models: draw from the likeliest tokens holding this much probability.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="A .png (pictures: one or a grid; sounds: spectrograms), .wav (sounds one after another), "
    ".abc/.txt (texts), .mid/.wav/.png from ABC (one file per tune), a FOLDER/ for one file "
    "each, or - for stdout.",
)
@SCALE_OPTION
def sample(
    model, modality, count, label, seed, temperature, length, primer, top_k, top_p, output, scale
):
    """Draw new items (pictures, sounds, texts) from a trained model."""
    from .options import check_options

    with _bad_input():
        check_options(scale=scale)
    check_options(temperature=temperature, **({} if count is None else {"count": count}))
    muse = _load_checked(model, modality)
    from .model import check_scalable  # torch, loaded with the model: not before the checks above

    with _bad_input():
        check_scalable(muse.adapter, scale)
    count = count if count is not None else muse.adapter.preview_count
    formats = muse.adapter.formats
    one_per_file = Path(output).suffix.lower() in muse.adapter.single_item_formats
    one_each = _is_folder(output) or one_per_file
    targets = _output_targets(output, count if one_each else 1, stem="sample", formats=formats)
    chosen = _random_seed() if seed is None else seed
    items = muse.sample(
        count,
        chosen,
        label,
        temperature,
        length=length,
        primer=_primer_text(primer),
        top_k=top_k,
        top_p=top_p,
    )
    if scale != 1:
        with _bad_input():
            items = items.scaled(scale)
    if one_each:
        _write_each(items, targets, skip_unwritable=one_per_file)
    else:
        _write(_file_bytes(items, targets[0].suffix if targets[0] else formats[0]), targets[0])
    _say_seed(seed, chosen)


def _primer_text(primer: str | None) -> str | None:
    """A file's text, or the text itself with \\n for line breaks ("X:1\\nK:G\\n...")."""
    if primer is None:
        return None
    try:
        if Path(primer).is_file():
            return Path(primer).read_text(encoding="utf-8", errors="replace")
    except OSError:  # too long or odd to be a file name: it is the text
        pass
    return primer.replace("\\n", "\n")


def _write_each(items, targets, skip_unwritable: bool) -> None:
    """Each item to its own file. With ``skip_unwritable`` (formats an item may not fit, such
    as an ABC tune that is not valid ABC played as MIDI) such items are reported by number and
    skipped; otherwise they are an error."""
    from .errors import DataError, MuseError

    name, written = items.adapter.item_name, 0
    for number, target in enumerate(targets, 1):
        try:
            data = items.file_bytes(target.suffix, number - 1)
        except DataError as error:
            if not skip_unwritable:
                raise MuseError(str(error)) from None
            click.echo(f"skipped {name} {number}: {error}", err=True)
            continue
        _write(data, target)
        written += 1
    if not written:
        raise MuseError(
            f"none of the {len(targets)} {name}s could be written as {targets[0].suffix}; nothing written"
        )
    if written < len(targets):
        click.echo(f"wrote {written} of {len(targets)} {name}s", err=True)


@main.command()
@click.option(
    "--model",
    "-m",
    required=True,
    help="A GAN or VAE picture or sound model: bundled name, run folder or checkpoint.",
)
@click.option("--frames", type=int, default=48, show_default=True, help="Frames in one loop.")
@click.option("--fps", type=float, default=12.0, show_default=True, help="Frames per second.")
@click.option("--label", default=None, help="Class-conditional models: the class to walk through.")
@seed_option(what="GIF")
@click.option(
    "-o", "--output", default="-", show_default=True, help="The .gif to write, or - for stdout."
)
@SCALE_OPTION
def animate(model, frames, fps, label, seed, output, scale):
    """A looping GIF walking through a model's latent space."""
    from .errors import MuseError
    from .options import check_options

    with _bad_input():
        check_options(scale=scale)
    check_options(frames=frames)
    if not 0.5 <= fps <= 100:
        raise MuseError(f"--fps {fps}: must be from 0.5 to 100")
    (target,) = _output_targets(output, 1, stem="walk", formats=(".gif",))
    from .api import load

    animation = load(model).animate(frames, seed, label)
    if scale != 1:
        with _bad_input():
            animation = animation.scaled(scale)
    _write(animation.file_bytes(fps), target)


def _load_checked(model: str, modality: str | None):
    from .api import load
    from .errors import MuseError

    muse = load(model)
    if modality is not None and muse.adapter.modality != modality:
        raise MuseError(
            f"--modality {modality}: {model} is a model of {muse.adapter.modality} data"
        )
    return muse


def _random_seed() -> int:
    return int.from_bytes(os.urandom(4), "little") >> 1


def _say_seed(given: int | None, chosen: int) -> None:
    """A seed chosen at random is printed once the files are written, so they can be made
    again; nothing is said for a seed the user gave, or for work that was refused."""
    if given is None:
        click.echo(f"seed {chosen} (give --seed {chosen} to make this again)", err=True)


@main.command()
@click.option(
    "--modality",
    default=None,
    help="What to train on: midi, image, audio or text (default: the config's, else midi).",
)
@click.option(
    "--model",
    "family",
    default=None,
    help="Model family: rnn, gan, vae or coconet (default: the config's, else rnn).",
)
@click.option(
    "--data",
    default=None,
    help="Folder of your own files (searched recursively); default: built-in data.",
)
@click.option("--config", "config_file", default=None, help="A TOML config (see configs/).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one config value.",
)
@click.option("--out", default=None, help="Run folder (default: runs/MODALITY-DATE-TIME).")
@click.option("--resume", default=None, help="Continue the run saved in this folder.")
@click.option(
    "--init",
    default=None,
    help="Start from this model's weights (bundled name, run or checkpoint) to fine-tune.",
)
@click.option("--steps", type=int, default=None, help="Shortcut for --set train.steps=N.")
@click.option(
    "--seed",
    type=SEEDS,
    default=None,
    help="Shortcut for --set train.seed=N: the same seed, data and settings train the same model.",
)
@click.option("--device", default=None, help="cpu, cuda, cuda:1, ... (default: CUDA when present).")
@click.option(
    "--threads",
    type=click.IntRange(1, 1024),
    default=None,
    help="CPU threads to compute with (default: $OMP_NUM_THREADS, else the CPUs available, "
    "shared among a parallel run's processes).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(
    modality,
    family,
    data,
    config_file,
    overrides,
    out,
    resume,
    init,
    steps,
    seed,
    device,
    threads,
    quiet,
):
    """Train a model; logs, checkpoints and samples go to a run folder."""
    from .core.adapter import Composes
    from .core.config import toml_value
    from .core.distributed import launched_rank, launched_world
    from .errors import MuseError
    from .training import train as run_training

    overrides = (
        ["data.modality=" + toml_value(modality)] + list(overrides) if modality else list(overrides)
    )
    if family:
        overrides.append("model.family=" + toml_value(family))
    if data:
        overrides.append("data.source=" + toml_value(data))
    for key, value in (("steps", steps), ("seed", seed), ("threads", threads)):
        if value is not None:
            overrides.append(f"train.{key}={value}")
    if device:
        overrides.append("train.device=" + toml_value(device))
    config = _config(config_file, overrides, init, resume)
    main_process = launched_rank() == 0
    if launched_world() > 1 and not (resume or out):
        raise MuseError(
            "--out: name the run folder when training with several processes (they must agree on it)"
        )
    run_dir = Path(resume or out or _default_run_dir(config.data.modality))
    trainer = run_training(
        config, run_dir, resume=bool(resume), init=init, quiet=quiet, say_folder=True
    )
    adapter = trainer.adapter
    use = (
        "compose"
        if isinstance(adapter, Composes)
        else f"sample -o samples{adapter.sample_formats[0]}"
    )
    if main_process:
        click.echo(
            f"done: {trainer.step} steps; use it with: muse {use} --model {run_dir}", err=True
        )


def _config(config_file, overrides: list[str], init: str | None, resume: str | None):
    from .assembly import load_config, read_config, resolve_model
    from .training import saved_config, starting_config

    if resume:
        return saved_config(Path(resume)).override(overrides)
    if not init:
        # no config: the sizes the modality and family train at on a CPU
        return load_config(config_file, overrides) if config_file else starting_config(overrides)
    if config_file:
        return load_config(config_file, overrides)
    # the model's own settings, trained anew at calibration 1 (muse calibrate fits it after)
    return read_config(resolve_model(init)).replace("model", calibration=1.0).override(overrides)


def _default_run_dir(modality: str) -> Path:
    import time

    return Path("runs") / f"{modality}-{time.strftime('%Y%m%d-%H%M%S')}"


@main.command()
def models():
    """List the bundled models."""
    from .pretrained import DEFAULT, DESCRIPTIONS

    for name, description in DESCRIPTIONS.items():
        click.echo(f"{name:<12} {description}{'  (default)' if name == DEFAULT else ''}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host other machines can reach (there is no other protection than --token).",
)
@click.option(
    "--models",
    default="bach-rnn,bach-gan,bach-vae",
    show_default=True,
    help="MIDI models to serve, comma-separated (names, run folders, checkpoints); the first is the default.",
)
@click.option(
    "--token", envvar="MUSE_TOKEN", default=None, help="A secret every request must carry."
)
@click.option("--max-bars", type=click.IntRange(1, 256), default=64, show_default=True)
@click.option("--max-notes", type=click.IntRange(1, 1_000_000), default=10_000, show_default=True)
@click.option(
    "--max-clip-bytes", type=click.IntRange(1, 100_000_000), default=1_000_000, show_default=True
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds a request may take, waiting included.",
)
@click.option("--quiet", "-q", is_flag=True, help="No line per request.")
def serve(
    host, port, allow_remote, models, token, max_bars, max_notes, max_clip_bytes, timeout, quiet
):
    """Serve MIDI models over HTTP on this machine, with a web page at /."""
    from .server import serve as run_server
    from .server.clips import Limits

    limits = Limits(bars=max_bars, clip_bytes=max_clip_bytes, notes=max_notes, seconds=timeout)
    names = tuple(name.strip() for name in models.split(",") if name.strip())
    run_server(host, port, names, token, allow_remote, limits, quiet)


@main.command()
@click.option(
    "--model", "-m", default=None, help="A MIDI model: bundled name, run folder or checkpoint."
)
@click.option("--port", "port", default=None, help="MIDI output to play into (default: the first).")
@click.option("--virtual", default=None, help="Make a new MIDI output of this name instead.")
@click.option(
    "--tempo", type=float, default=None, help="Quarter notes per minute (default: the model's)."
)
@click.option("--clock-in", default=None, help="Follow the MIDI clock arriving at this input.")
@seed_option(None, what="bars")
@temperature_option()
@click.option("--bars", type=click.IntRange(1, 100_000), default=None, help="Stop after this many.")
@click.option(
    "--lookahead",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Bars composed ahead of what is sounding.",
)
def play(model, port, virtual, tempo, clock_in, seed, temperature, bars, lookahead):
    """Compose bar after bar into a MIDI output, in time, until stopped."""
    from .errors import MuseError
    from .options import check_options

    check_options(temperature=temperature, tempo=tempo)
    if port and virtual:
        raise MuseError("--port/--virtual: give one of them")
    from .live import play as play_live

    chosen = _random_seed() if seed is None else seed
    _say_seed(seed, chosen)
    play_live(model, port, virtual, tempo, clock_in, chosen, temperature, bars, lookahead)


@main.command()
@click.option(
    "--model", "-m", required=True, help="An RNN's run folder or checkpoint (rewritten in place)."
)
@click.option(
    "--reference",
    "--data",
    "reference",
    default=None,
    help="A folder of pieces to fit on (default: the model's validation pieces; never its test "
    "pieces).",
)
def calibrate(model, reference):
    """Fit the temperature of an RNN's likelihood on held-out pieces and keep it in the model.

    A trained network is often too sure of itself; its head's logits divided by one number,
    the one that gives the validation pieces the lowest NLL, fix most of that. The model file
    keeps it as model.calibration; composing and `muse eval` then use it."""
    from .calibration import calibrate as fit

    found = fit(model, reference, quiet=False)
    click.echo(
        f"calibration {found.temperature:.3f}: NLL {found.before:.4f} -> {found.after:.4f} nats "
        f"per frame on {found.pieces} {'pieces of ' + reference if reference else 'validation pieces'}"
        f" ({found.frames} frames); written to {found.path}"
    )


@main.command(name="eval")
@click.option(
    "--model",
    "-m",
    default=None,
    help="A model to sample and judge: bundled name, run folder or checkpoint.",
)
@click.option(
    "--files",
    default=None,
    help="Judge the generated files in this folder instead (any tool's output).",
)
@click.option(
    "--reference",
    "--data",
    "reference",
    default=None,
    help="Real data to compare with: a folder or a built-in corpus (default: the model's held-out "
    "data, or the built-in data).",
)
@click.option(
    "--split",
    "part",
    type=click.Choice(["held-out", "test", "valid", "train", "all"]),
    default="held-out",
    show_default=True,
    help="Which part of the model's own data is the reference (without --reference).",
)
@click.option(
    "-n",
    "--count",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Items on each side (default: MIDI 100 windows, images 500, audio 100, text 100).",
)
@click.option(
    "--bars",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="MIDI: length of the generated pieces and of the windows cut from files.",
)
@click.option(
    "--modality", default=None, help="The kind of --files (default: guessed from their suffixes)."
)
@seed_option(what="report")
@temperature_option()
@click.option(
    "--inception",
    default=None,
    help="Images: torchvision Inception v3 weights (.pth/.safetensors) for FID and KID.",
)
@click.option(
    "--classifier-steps",
    type=click.IntRange(1, 1_000_000),
    default=1500,
    show_default=True,
    help="Images: training steps of the classifier behind the classifier score.",
)
@click.option(
    "--openings/--every-window",
    default=None,
    help="MIDI: compare with the reference pieces' first --bars bars only, as a piece composed "
    "from nothing opens, or with every window of them (default: openings for a model told its "
    "bar numbers, model.bar_numbers).",
)
@click.option(
    "--with-training",
    "training",
    is_flag=True,
    help="Also judge the model's training data against the reference: how close real data comes.",
)
@click.option(
    "--json", "json_path", default=None, help="Also write the report as JSON to this file."
)
@click.option(
    "--markdown",
    "markdown_path",
    default=None,
    help="Also write the report as a Markdown table to this file.",
)
def evaluate(
    model,
    files,
    reference,
    part,
    count,
    bars,
    modality,
    seed,
    temperature,
    inception,
    classifier_steps,
    openings,
    training,
    json_path,
    markdown_path,
):
    """How close a model's samples (or a folder of generated files) are to real data.

    Per-item metrics are compared as distributions (means, overlapping area, KL(reference ||
    generated)); per-set metrics give one number per set. Likelihood models also report
    held-out negative log-likelihood on the reference."""
    from .errors import MuseError
    from .options import check_options

    check_options(temperature=temperature)
    if training and not model:
        raise MuseError("--with-training: only with --model (its training data)")
    from .api import Options
    from .api import evaluate as run_evaluation

    options = Options(
        count=count,
        bars=bars,
        seed=seed,
        temperature=temperature,
        inception=inception,
        classifier_steps=classifier_steps,
        openings=openings,
    )
    report = run_evaluation(model, files, reference, part, modality, options, training)
    report.command = "muse " + shlex.join(sys.argv[1:]) if Path(sys.argv[0]).name == "muse" else ""
    judged = (
        f"{model} ({report.counts[report.sets[0]]} samples)"
        if model
        else f"{files} ({report.counts[report.sets[0]]} items)"
    )
    click.echo(f"{judged} against {report.reference} ({report.counts['reference']} items)\n")
    click.echo(report.table(), nl=False)
    for path, text in (
        (json_path, report.to_json),
        (markdown_path, lambda: report.table(markdown=True)),
    ):
        if path:
            _write(text().encode(), Path(path))
