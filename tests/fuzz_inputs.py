"""Inputs for fuzzing every reader, shared by tests/e2e/test_fuzz.py (hypothesis) and
benchmarks/fuzz_readers.py (a table of outcomes).

Each reader has small valid seed files, to be mutated (``mutate``: truncations, insertions,
overwrites with awkward integers, repeated chunks), and named edge cases (absurd tick values,
gigapixel headers, non-finite samples, ...). ``attempt`` feeds one input to a reader and says how
it ended: "ok", "skipped" (a ``DataError``: prepare skips the file with one line) or "error" (one
clear ``MuseError``: configs and checkpoints are refused whole). Anything else (another
exception, a hang, a crash of the process) is a bug, and ``attempt`` lets it through.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_gan.timeouts import time_limit

OPS = ("truncate", "insert", "overwrite", "delete", "repeat")
# Integers that break parsers: zero, sign bits, maxima of 1, 2 and 4 bytes, MIDI's longest delta time.
AWKWARD = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\x00\x00",
    b"\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\xff\xff\xff\xff",
    b"\x8f\xff\xff\x7f",
    b"\x00\x00\x00\x00",
)
# What a doctored checkpoint header may hold in place of any value.
HEADER_VALUES = (None, -1, 0, 10**12, 1.5, "x", True, [], {}, [1, "a"], {"a": 1})
# What a config file may hold in place of any setting (TOML has no null, tables stay tables).
CONFIG_VALUES = (-1, 0, 1, 10**12, 2**63 - 1, -(2**63), 1.5, 1e308, -0.0, "x", True, [], [2, 0.5])
# a reader slower than this on one small input counts as hung (scores may take 60)
SECONDS_PER_INPUT = 90


class Hang(BaseException):
    """A reader took longer than ``SECONDS_PER_INPUT`` on one input (a BaseException, so no
    reader's ``except Exception`` can pass it off as a clean refusal)."""


def mutate(data: bytes, edits) -> bytes:
    """``data`` with each edit ``(op, position, payload)`` applied in turn; positions wrap around."""
    for op, position, payload in edits:
        at = position % (len(data) + 1)
        if op == "truncate":
            data = data[:at]
        elif op == "insert":
            data = data[:at] + payload + data[at:]
        elif op == "overwrite":
            data = data[:at] + payload + data[at + len(payload) :]
        elif op == "delete":
            data = data[:at] + data[at + 1 + len(payload) :]
        elif op == "repeat":  # many copies of a chunk: thousands of tracks, notes or chunks
            data = data[:at] + data[at : at + 32] * (1 + 64 * len(payload)) + data[at:]
    return data


def mutate_header(data: bytes, path_choice: int, value_choice: int) -> bytes:
    """A checkpoint whose header has one value (chosen among all of its nested values) replaced
    by one of ``HEADER_VALUES``."""

    def change(info: dict) -> None:
        places = list(_places(info))
        container, key = places[path_choice % len(places)]
        container[key] = HEADER_VALUES[value_choice % len(HEADER_VALUES)]

    return rewrite_info(data, change)


def mutate_config_value(data: bytes, line_choice: int, value_choice: int) -> bytes:
    """A TOML config with one setting (among all of its sections') given one of
    ``CONFIG_VALUES``."""
    from muse_gan.core.config import toml_value

    lines = data.decode().splitlines()
    settings = [number for number, line in enumerate(lines) if " = " in line]
    number = settings[line_choice % len(settings)]
    key = lines[number].partition(" = ")[0]
    lines[number] = f"{key} = {toml_value(CONFIG_VALUES[value_choice % len(CONFIG_VALUES)])}"
    return "\n".join(lines).encode()


def rewrite_info(data: bytes, change: Callable[[dict], None]) -> bytes:
    """A safetensors checkpoint with ``change`` applied to its muse_gan header; the tensors stay."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    info = json.loads(header["__metadata__"]["muse_gan"])
    change(info)
    header["__metadata__"]["muse_gan"] = json.dumps(info)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # safetensors keeps tensor data 8-byte aligned
    return len(text).to_bytes(8, "little") + text + data[8 + length :]


def _places(value):
    """(container, key) of every value nested in a JSON object, the containers themselves too."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        yield value, key
        yield from _places(inner)


# the readers


@dataclass
class Reader:
    name: str
    suffix: str
    read: Callable[[Path], object]  # raises DataError or MuseError on a bad input
    seeds: Callable[[], dict[str, bytes]]  # small valid files to mutate
    edge_cases: Callable[[], dict[str, bytes]]
    # how a bad input ends: data files are skipped, configs and models refused
    refusal: str = "skipped"
    # (seed, place, value choice) -> the seed with one of its values replaced, where it has values
    revalue: Callable[[bytes, int, int], bytes] | None = None


# Edge cases a reader rightly takes; every other one must end in the reader's refusal.
USABLE_EDGE_CASES = {
    "3000 tracks",
    "20000 notes",
    "one sample",
    "data size 4 GB in the header",
    "1x1",
    "16-bit grey",
    "one line of a million characters",
}


def attempt(reader: Reader, data: bytes, folder: Path, suffix: str | None = None) -> str:
    """How ``reader`` ended on ``data`` (written to a file in ``folder``): ok, skipped or error."""
    from muse_gan.errors import DataError, MuseError

    path = Path(folder) / f"input{suffix or reader.suffix}"
    path.write_bytes(data)
    try:
        with time_limit(SECONDS_PER_INPUT, Hang):
            reader.read(path)
    except DataError as error:
        _check_one_line(error, path)
        return "skipped"
    except MuseError as error:
        _check_one_line(error, path)
        return "error"
    return "ok"


def _check_one_line(error: Exception, path: Path) -> None:
    message = str(error)
    assert message and "\n" not in message, f"not one line: {message!r}"
    assert len(message) < 400, f"too long for one line: {message!r}"


def _file_reader(adapter_factory):
    """Reads a file as preparing a training run does: the adapter's read, then encode."""
    adapters = {}

    def read(path: Path):
        from muse_gan.core.store import encode_file

        if "adapter" not in adapters:  # built once: the audio one makes its filterbank on first use
            adapters["adapter"] = adapter_factory()
        return encode_file(adapters["adapter"], path)

    return read


def _merged_rolls():
    from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter

    return PianoRollAdapter(MidiConfig(track_mapping="merge"))  # any number of parts is usable


def _read_config(path: Path):
    """What ``muse train --config`` checks before it reads any data: every section's ranges and
    the memory the settings' model and batch take on the CPU."""
    import torch

    from muse_gan.assembly import build_adapter, check_config, load_config
    from muse_gan.training import check_memory

    config = load_config(path)
    adapter = build_adapter(config)
    check_config(config)
    check_memory(config, adapter, torch.device("cpu"))


def _read_model(path: Path):
    from muse_gan.api import load

    return load(path)


# seeds and edge cases, one maker per reader


def midi_file(tracks: int = 1, notes: int = 4, delta: int = 0, ticks_per_beat: int = 480) -> bytes:
    import mido

    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    for track_number in range(tracks):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=f"part {track_number}")])
        for number in range(notes):
            pitch = 48 + (number * 7 + track_number) % 36
            track.append(mido.Message("note_on", note=pitch, velocity=80, time=delta))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=240))
        midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def midi_seeds() -> dict[str, bytes]:
    return {"one track": midi_file(), "four parts": midi_file(tracks=4, notes=8)}


def midi_edge_cases() -> dict[str, bytes]:
    return {
        "zero ticks per beat": midi_file(ticks_per_beat=0),
        "absurd ticks (longest delta times)": midi_file(notes=40, delta=0x0FFFFFFF),
        "absurd length (ten million beats)": midi_file(notes=50, delta=200_000, ticks_per_beat=1),
        "3000 tracks": midi_file(tracks=3000, notes=1),
        "20000 notes": midi_file(notes=20_000),
        "header only": midi_file(tracks=0),
        "random bytes": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        "truncated": midi_file(notes=8)[:40],
        "empty": b"",
    }


MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Soprano</part-name></score-part></part-list>
<part id="P1"><measure number="1"><attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time>
</attributes>{notes}</measure></part></score-partwise>
"""
NOTE = "<note><pitch><step>{step}</step><octave>4</octave></pitch><duration>1</duration><type>quarter</type></note>"
ABC = "X:1\nT:Seed\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n"


def musicxml(steps: str = "CDEF") -> bytes:
    return MUSICXML.format(notes="".join(NOTE.format(step=step) for step in steps)).encode()


def mxl(score: bytes, declared_name: str = "score.xml") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container><rootfiles>'
            f'<rootfile full-path="{declared_name}"/></rootfiles></container>',
        )
        archive.writestr(declared_name, score)
    return out.getvalue()


def score_seeds() -> dict[str, bytes]:
    return {
        "musicxml": musicxml(),
        "abc": ABC.encode(),
        "two abc tunes": (ABC + "\n" + ABC.replace("X:1", "X:2")).encode(),
    }


SCORE_SUFFIX = {"musicxml": ".musicxml", "abc": ".abc", "two abc tunes": ".abc"}


def score_edge_cases() -> dict[str, bytes]:
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    return {
        "billion laughs (musicxml)": f'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY l0 "ha">{laughs}]>'
        f"<score-partwise><work><work-title>&l9;</work-title></work></score-partwise>".encode(),
        "zip bomb (mxl, 100 MB of zeros)": mxl(bytes(100_000_000)),
        "not a zip (mxl)": b"PK\x03\x04 broken",
        "unknown pitch step (musicxml)": musicxml("Q"),
        "no notes (musicxml)": musicxml(""),
        "garbage after the header (abc)": b"X:1\nK:C\n" + bytes(range(256)),
        "invalid UTF-8 (abc)": b"X:1\nK:C\nabc\xff\xfe|\n",
        "empty (abc)": b"",
    }


EDGE_SUFFIX = {
    "billion laughs (musicxml)": ".musicxml",
    "zip bomb (mxl, 100 MB of zeros)": ".mxl",
    "not a zip (mxl)": ".mxl",
    "unknown pitch step (musicxml)": ".musicxml",
    "no notes (musicxml)": ".musicxml",
}


def wav(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    import soundfile

    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="WAV", subtype=subtype)
    return out.getvalue()


def tone(seconds: float = 0.3, rate: int = 16000) -> np.ndarray:
    time = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * time)).astype(np.float32)


def audio_seeds() -> dict[str, bytes]:
    return {
        "16-bit wav": wav(tone()),
        "float wav at 22050 Hz": wav(tone(rate=22050), 22050, "FLOAT"),
    }


def audio_edge_cases() -> dict[str, bytes]:
    def spoilt(value):
        samples = tone()
        samples[100] = value
        return wav(samples, subtype="FLOAT")

    return {
        "zero length": wav(np.zeros(0, np.float32)),
        "NaN sample": spoilt(np.nan),
        "infinite sample": spoilt(np.inf),
        "silent": wav(np.zeros(8000, np.float32)),
        "one sample": wav(np.ones(1, np.float32) * 0.5),
        "1 Hz sample rate, 200000 samples": wav(tone(), rate=1),
        "100 channels": wav(np.tile(tone(0.05)[:, None], (1, 100))),
        "data size 4 GB in the header": _lying_wav(),
        "truncated": wav(tone())[:30],
        "random bytes": bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)),
    }


def _lying_wav() -> bytes:
    data = wav(tone())
    at = data.index(b"data") + 4
    return data[:at] + b"\xff\xff\xff\xff" + data[at + 4 :]


def png(width: int, height: int, mode: str = "L") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    pixels = (
        (np.arange(width * height * len(mode)) % 251)
        .astype(np.uint8)
        .reshape(height, width, len(mode))
    )
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(out, format="PNG")
    return out.getvalue()


def image_seeds() -> dict[str, bytes]:
    from PIL import Image

    jpeg, bmp = io.BytesIO(), io.BytesIO()
    Image.open(io.BytesIO(png(12, 9, "RGB"))).save(jpeg, format="JPEG")
    Image.open(io.BytesIO(png(12, 9))).save(bmp, format="BMP")
    return {
        "png": png(12, 9),
        "rgb png": png(10, 10, "RGB"),
        "jpeg": jpeg.getvalue(),
        "bmp": bmp.getvalue(),
    }


def image_edge_cases() -> dict[str, bytes]:
    return {
        "1x1": png(1, 1),
        "gigapixel header (100000 x 100000)": _png_header(100_000, 100_000),
        "50 megapixel header (over image.max_pixels)": _png_header(10_000, 5_000),
        "header of 6000 x 6000, no pixels": _png_header(6000, 6000),
        "16-bit grey": _png16(),
        "truncated": png(64, 64)[:100],
        "random bytes": bytes(np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8)),
        "empty": b"",
    }


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(100)))
        + chunk(b"IEND", b"")
    )


def _png16() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray((np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)).save(out, format="PNG")
    return out.getvalue()


def text_seeds() -> dict[str, bytes]:
    return {
        "abc tunes": (ABC + "\n" + ABC).encode(),
        "lyrics": b"Row, row, row your boat\n\ngently down the stream\n",
    }


def text_edge_cases() -> dict[str, bytes]:
    return {
        "invalid UTF-8": b"abc\xff\xfe def",
        "cut in a multi-byte character": "caf\u00e9".encode()[:-1],
        "NUL bytes": b"binary\x00data",
        "byte order mark only": b"\xef\xbb\xbf",
        "blank lines only": b"\n\n \n",
        "one line of a million characters": b"a" * 1_000_000,
        "empty": b"",
    }


def config_seeds() -> dict[str, bytes]:
    from muse_gan.assembly import Config  # every modality's and family's section registered
    from muse_gan.core.config import to_toml

    return {
        "defaults": to_toml(Config()).encode(),
        "a few keys": b'[train]\nsteps = 5\nlr = 0.01\n[model]\nfamily = "gan"\n',
    }


def config_edge_cases() -> dict[str, bytes]:
    return {
        "unknown key": b"[train]\nstepz = 5\n",
        "unknown section": b"[trian]\nsteps = 5\n",
        "wrong type": b'[train]\nsteps = "many"\n',
        "bool for an int": b"[train]\nsteps = true\n",
        "nan": b"[train]\nlr = nan\n",
        "inf": b"[audio]\nfmax = inf\n",
        "array of tables": b"[[train]]\nsteps = 5\n",
        "a section that is a number": b"train = 5\n",
        "date for a string": b"[data]\nsource = 1979-05-27\n",
        "out of range": b'[data]\nmodality = "image"\n[image]\nsize = 100000000\n',
        "a model past any memory": b"[model]\nhidden = 1000000\n",
        "invalid UTF-8": b"[train]\n# \xff\xfe\nsteps = 5\n",
        "not TOML": b"{this is: json}",
    }


def checkpoint_seeds() -> dict[str, bytes]:
    return {"midi rnn": tiny_checkpoint()}


def tiny_checkpoint(modality: str = "midi") -> bytes:
    """A small model file as training writes one (untrained weights)."""
    import tempfile

    from muse_gan.assembly import build_adapter, build_objective, load_config
    from muse_gan.core import checkpoint as ckpt

    config = load_config(
        None,
        [
            f'data.modality="{modality}"',
            "model.hidden=8",
            "model.head_hidden=8",
            "model.layers=1",
            "model.latent=4",
            "model.channels=4",
        ],
    )
    adapter = build_adapter(config)
    objective = build_objective(adapter, config)
    info = {
        "config": config.to_dict(),
        "modality": modality,
        "adapter": adapter.to_dict(),
        "family": objective.family,
        "step": 0,
        "valid_loss": None,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        ckpt.save_checkpoint(path, ckpt.prefixed("model.", objective.state_dict()), info)
        return path.read_bytes()


def checkpoint_edge_cases() -> dict[str, bytes]:
    import torch

    model = tiny_checkpoint()
    pickle = io.BytesIO()
    torch.save({"weights": torch.zeros(2)}, pickle)
    return {
        "truncated": model[: len(model) // 2],
        "header cut off": model[:40],
        "format version 99": rewrite_info(model, lambda info: info.update(format=99)),
        "unknown modality": rewrite_info(model, lambda info: info.update(modality="video")),
        "an image model's settings": rewrite_info(
            model, lambda info: info.update(modality="image")
        ),
        "weights of another size": rewrite_info(
            model, lambda info: info["config"]["model"].update(hidden=16)
        ),
        "absurd model size in the header": rewrite_info(
            model, lambda info: info["config"]["model"].update(hidden=10**12)
        ),
        "a torch pickle": pickle.getvalue(),
        "random bytes": bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8)),
        "empty": b"",
    }


def _adapter(modality: str):
    def make():
        from muse_gan.modalities import ADAPTERS

        return ADAPTERS.get(modality)()

    return make


READERS = {
    "midi": Reader("midi", ".mid", _file_reader(_merged_rolls), midi_seeds, midi_edge_cases),
    "score": Reader("score", ".abc", _file_reader(_merged_rolls), score_seeds, score_edge_cases),
    "audio": Reader(
        "audio", ".wav", _file_reader(_adapter("audio")), audio_seeds, audio_edge_cases
    ),
    "image": Reader(
        "image", ".png", _file_reader(_adapter("image")), image_seeds, image_edge_cases
    ),
    "text": Reader("text", ".txt", _file_reader(_adapter("text")), text_seeds, text_edge_cases),
    "config": Reader(
        "config",
        ".toml",
        _read_config,
        config_seeds,
        config_edge_cases,
        "error",
        mutate_config_value,
    ),
    "checkpoint": Reader(
        "checkpoint",
        ".safetensors",
        _read_model,
        checkpoint_seeds,
        checkpoint_edge_cases,
        "error",
        mutate_header,
    ),
}


def suffix_of(reader: Reader, name: str) -> str:
    """The file suffix an input goes under: scores come as MusicXML, compressed MusicXML and ABC."""
    return SCORE_SUFFIX.get(name) or EDGE_SUFFIX.get(name) or reader.suffix


def random_input(reader: Reader, seeds: dict[str, bytes], rng) -> tuple[str, bytes]:
    """(seed name, bytes) for a benchmark run: random bytes a quarter of the time, else a seed
    mutated by up to four edits (configs and checkpoints: or one of their values replaced);
    ``rng`` is a ``random.Random``. The tests draw the same kinds of inputs through hypothesis."""
    name = rng.choice(sorted(seeds))
    roll = rng.random()
    if roll < 0.25:
        return name, rng.randbytes(rng.randrange(2048))
    if reader.revalue and roll < 0.6:
        return name, reader.revalue(seeds[name], rng.randrange(500), rng.randrange(100))
    edits = [
        (
            rng.choice(OPS),
            rng.randrange(1 << 16),
            rng.choice([rng.randbytes(rng.randrange(9)), rng.choice(AWKWARD)]),
        )
        for _ in range(rng.randint(1, 4))
    ]
    return name, mutate(seeds[name], edits)
