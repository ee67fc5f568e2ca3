"""Every registered adapter keeps the Adapter protocol, with a real item of its modality:
read → encode → decode → write → read again gives back what was read.

A modality that registers without a real file here fails ``test_every_modality_has_a_real_file``:
a new modality brings its own line to ``REAL_FILES``.
"""

import dataclasses
import json
import math

import numpy as np
import pytest
import soundfile
import torch

from muse_gan import assembly  # noqa: F401  (registers every modality)
from muse_gan.core.adapter import Adapter
from muse_gan.core.spec import DATA_KINDS
from muse_gan.measures.judge import Judge, Options
from muse_gan.modalities import ADAPTERS


def bach_chorale(tmp_path):
    """BWV 10.7, four voices (the default settings' four tracks), as MusicXML."""
    from muse_gan.modalities.midi.scores import bach_chorales

    return next(path for path in bach_chorales() if path.name == "bwv10.7.mxl")


def digit_picture(tmp_path):
    from muse_gan.modalities.image.digits import digits_files

    return digits_files()[0]


def sung_tone(tmp_path):
    """A second of an A (440 Hz) with two overtones and a fade, at 16 kHz."""
    rate = 16_000
    time = np.arange(rate) / rate
    tone = sum(np.sin(2 * math.pi * 440 * harmonic * time) / harmonic for harmonic in (1, 2, 3))
    path = tmp_path / "tone.wav"
    soundfile.write(path, (0.3 * tone * np.exp(-time)).astype(np.float32), rate)
    return path


def folk_tunes(tmp_path):
    from muse_gan.modalities.text.folk import folk_tunes

    return folk_tunes()[0]


REAL_FILES = {"midi": bach_chorale, "image": digit_picture, "audio": sung_tone, "text": folk_tunes}


def modalities():
    return [name for name, _ in ADAPTERS.items()]


def test_every_modality_has_a_real_file():
    assert set(modalities()) == set(REAL_FILES)


@pytest.fixture(params=modalities())
def adapter_and_file(request, tmp_path):
    adapter = ADAPTERS.get(request.param)(ADAPTERS.get(request.param).settings_class())
    path = REAL_FILES[request.param](tmp_path)
    return adapter, path


@pytest.mark.parametrize("name", modalities())
def test_the_class_declares_what_the_protocol_asks(name):
    adapter_class = ADAPTERS.get(name)
    assert issubclass(adapter_class, Adapter)
    assert adapter_class.modality == name
    for attribute in ("item_name", "suffixes", "formats", "sample_formats", "frame_name"):
        assert getattr(adapter_class, attribute), attribute
    assert adapter_class.preview_count >= 1 and adapter_class.evaluation_count >= 1
    assert set(adapter_class.single_item_formats) <= set(adapter_class.formats)
    assert all(suffix.startswith(".") for suffix in adapter_class.suffixes + adapter_class.formats)
    assert dataclasses.is_dataclass(adapter_class.settings_class)


def test_read_encode_decode_write_read_again(adapter_and_file, tmp_path):
    adapter, path = adapter_and_file
    items = adapter.read(path)
    assert items, f"{path} gave no items"
    adapter = adapter.fitted(pieces_of(adapter, items[:1]))
    piece = pieces_of(adapter, items[:1])[0]
    assert piece.tensor.dtype == torch.uint8
    json.dumps(piece.info)  # the cache keeps it as JSON
    spec = adapter.spec
    assert spec.data_kind in DATA_KINDS
    tensor = model_tensor(adapter, piece)
    assert tensor.shape[0] == spec.channels and tensor.shape[-1] == spec.width
    if spec.length:
        assert tensor.shape[1] == spec.length

    again = tmp_path / f"again{adapter.sample_formats[0]}"
    again.write_bytes(adapter.file_bytes(tensor, again.suffix))
    round_trip = model_tensor(adapter, pieces_of(adapter, adapter.read(again)[:1])[0])
    assert_same_item(adapter, tensor, round_trip)


def model_tensor(adapter, piece) -> torch.Tensor:
    """The grid view of a prepared piece as the model sees it."""
    (seen,) = adapter.model_view([piece])
    return adapter.tensor_of(seen)


def assert_same_item(adapter, tensor: torch.Tensor, round_trip: torch.Tensor) -> None:
    """Notes, pixels and tokens come back exactly; a spectrogram through Griffin-Lim closely."""
    if adapter.spec.data_kind == "continuous" and adapter.modality == "audio":
        assert round_trip.shape == tensor.shape
        assert (round_trip - tensor).abs().mean() < 0.05
    else:
        assert torch.equal(round_trip, tensor)


def pieces_of(adapter, items):
    from muse_gan.core.store import Piece

    return [
        Piece(f"item{number}", adapter.encode(item), "", adapter.piece_info(item))
        for number, item in enumerate(items)
    ]


def test_settings_survive_a_checkpoint(adapter_and_file):
    adapter, path = adapter_and_file
    adapter = adapter.fitted(pieces_of(adapter, adapter.read(path)[:1]))
    saved = json.loads(json.dumps(adapter.to_dict()))  # a checkpoint's header is JSON
    rebuilt = type(adapter).from_dict(saved, "test")
    assert rebuilt.to_dict() == adapter.to_dict()
    assert rebuilt.spec == adapter.spec
    json.dumps(adapter.cache_settings())  # the cache key is JSON too


def test_each_adapter_has_a_judge(adapter_and_file):
    adapter, _ = adapter_and_file
    assert isinstance(adapter.judge(Options(count=2)), Judge)


def test_a_format_it_cannot_write_is_a_data_error(adapter_and_file):
    from muse_gan.errors import DataError

    adapter, path = adapter_and_file
    adapter = adapter.fitted(pieces_of(adapter, adapter.read(path)[:1]))
    tensor = model_tensor(adapter, pieces_of(adapter, adapter.read(path)[:1])[0])
    with pytest.raises(DataError, match=r"\.xyz"):
        adapter.file_bytes(tensor, ".xyz")
