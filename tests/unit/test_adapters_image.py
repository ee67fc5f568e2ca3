"""The image adapter: real PNG/JPEG/BMP files made here, the built-in digits, and bad files."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from muse_gan.core.adapter import Animates, Augments, Composes, LabelledAdapter, PlugsTerms, Tokens
from muse_gan.core.samplers import ItemSampler
from muse_gan.core.store import load_pieces, prepare, source_files
from muse_gan.errors import DataError, MuseError
from muse_gan.modalities.image import ImageAdapter, ImageConfig
from muse_gan.modalities.image.adapter import grid
from muse_gan.modalities.image.digits import _digits_table, digits_files


def adapter(**settings) -> ImageAdapter:
    return ImageAdapter(ImageConfig(**({"size": 16} | settings)))


def noise_image(path, size=(16, 16), mode="L", seed=0):
    pixels = np.random.default_rng(seed).integers(
        0, 256, (size[1], size[0], 3 if mode == "RGB" else 1), dtype=np.uint8
    )
    image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return pixels


def test_a_png_round_trips_exactly_at_the_model_size(tmp_path):
    pixels = noise_image(tmp_path / "a.png")
    images = adapter()
    encoded = images.encode(images.read(tmp_path / "a.png")[0])
    assert encoded.dtype == torch.uint8 and encoded.shape == (1, 16, 16)
    assert np.array_equal(encoded[0].numpy(), pixels[..., 0])
    decoded = images.decode(images.values(encoded))
    assert np.array_equal(np.asarray(decoded), pixels[..., 0])


def test_rgb_images_keep_their_three_channels(tmp_path):
    pixels = noise_image(tmp_path / "c.bmp", mode="RGB")
    images = adapter(color="rgb")
    encoded = images.encode(images.read(tmp_path / "c.bmp")[0])
    assert encoded.shape == (3, 16, 16)
    assert np.array_equal(encoded.permute(1, 2, 0).numpy(), pixels)
    assert np.array_equal(np.asarray(images.decode(images.values(encoded))), pixels)


def test_fits_crop_pad_and_stretch_a_wide_image():
    wide = Image.new("L", (64, 32), 0)
    wide.paste(255, (0, 0, 16, 32))  # a white quarter on the left
    crop, pad, stretch = (
        adapter(fit=fit).encode(wide)[0].float() / 255 for fit in ("crop", "pad", "stretch")
    )
    assert crop[:, :2].mean() < 0.1  # the centre cut leaves the white quarter mostly out
    assert pad[:4].mean() == 0 and pad[-4:].mean() == 0  # black bands above and below
    assert pad[6:10, :3].mean() > 0.9 and stretch[:, :3].mean() > 0.9  # the white quarter is kept


def test_transparent_parts_become_black_and_16_bit_greys_are_scaled(tmp_path):
    clear = Image.new("RGBA", (16, 16), (255, 255, 255, 0))
    assert adapter().encode(clear).max() == 0
    deep = Image.fromarray(np.full((16, 16), 65535 // 2, dtype=np.uint16))
    deep.save(tmp_path / "deep.png")
    grey = adapter().encode(adapter().read(tmp_path / "deep.png")[0])
    assert abs(int(grey[0, 0, 0]) - 128) <= 1  # not clipped to white


def test_binarize_makes_binary_data():
    images = adapter(binarize=True)
    assert images.spec.data_kind == "binary"
    values = images.values(torch.tensor([[[0, 127, 128, 255]]], dtype=torch.uint8))
    assert values.tolist() == [[[0.0, 0.0, 1.0, 1.0]]]


def test_labels_come_from_folder_names_and_go_into_the_checkpoint_settings(tmp_path):
    for label, seed in (("cats", 1), ("dogs", 2), ("cats", 3)):
        noise_image(tmp_path / label / f"{seed}.png", seed=seed)
    images = adapter(labels=True)
    pieces = load_pieces(images, str(tmp_path), quiet=True)
    assert sorted(piece.label for piece in pieces) == ["cats", "cats", "dogs"]
    labelled = images.fitted(pieces)
    assert labelled.classes == ("cats", "dogs") and labelled.spec.classes == 2
    again = ImageAdapter.from_dict(labelled.to_dict())
    assert again.classes == ("cats", "dogs") and again.settings == labelled.settings
    assert adapter().fitted(pieces).classes == ()  # labels off: no classes


def test_the_built_in_digits_are_scikit_learns(private_cache):
    # a private cache: the digits must be written here, not found from an earlier test
    files = digits_files()
    assert len(files) == 1797 and all(private_cache in path.parents for path in files[:3])
    table = _digits_table()
    first = np.asarray(Image.open(files[0]))
    assert files[0].parent.name == str(int(table[0, 64]))
    assert np.array_equal(first, np.round(table[0, :64].reshape(8, 8) * 255 / 16))
    # mixed, as listed
    assert {path.parent.name for path in files[:30]} == {str(digit) for digit in range(10)}


def test_unreadable_images_are_skipped_one_line_each_with_a_count(tmp_path, capsys):
    noise_image(tmp_path / "good.png")
    good = (tmp_path / "good.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "random.jpg").write_bytes(np.random.default_rng(0).bytes(500))
    (tmp_path / "empty.webp").write_bytes(b"")
    pieces = load_pieces(adapter(), str(tmp_path), quiet=True)
    err = capsys.readouterr().err
    assert [piece.name.rsplit("/", 1)[-1] for piece in pieces] == ["good.png"]
    for name in ("truncated.png", "random.jpg", "empty.webp"):
        assert sum(name in line for line in err.splitlines()) == 1
    assert "skipped 3 of 4 files" in err


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` × ``height`` pixels and holds no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_header_only(8_000, 8_000))  # 64 megapixels in 45 bytes
    with pytest.raises(
        DataError, match=r"bomb.png: 8000x8000 pixels is over image.max_pixels \(40000000\)"
    ):
        adapter().read(tmp_path / "bomb.png")
    # under the highest max_pixels allowed, PIL's own limit (about 179 megapixels) refuses it
    (tmp_path / "huge.png").write_bytes(png_header_only(30_000, 30_000))
    with pytest.raises(DataError, match=r"huge.png: refused as a decompression bomb"):
        adapter(max_pixels=10**9).read(tmp_path / "huge.png")
    noise_image(tmp_path / "big.png", size=(40, 40))
    with pytest.raises(DataError, match="over image.max_pixels"):
        adapter(max_pixels=1000).read(tmp_path / "big.png")


def test_a_folder_without_images_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no pictures here")
    with pytest.raises(
        MuseError, match=f"--data {tmp_path}: no .png/.jpg/.jpeg/.webp/.bmp files found"
    ):
        source_files(str(tmp_path), adapter().suffixes)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(MuseError, match="no usable pieces in 1 files"):
        prepare(adapter(), [tmp_path / "broken.png"], quiet=True)


def test_augmentation_moves_images_reproducibly_and_plain_settings_leave_them_alone(tmp_path):
    stripes = torch.zeros(8, 1, 16, 16)
    stripes[:, :, :, :4] = 1  # a white band on the left
    plain = adapter()
    assert not plain.augments
    mirrored = adapter(flip=True).augment(stripes, torch.Generator().manual_seed(0))
    lefts, rights = mirrored[:, 0, :, :4].mean((1, 2)), mirrored[:, 0, :, -4:].mean((1, 2))
    assert set(torch.round(lefts).tolist()) | set(torch.round(rights).tolist()) == {0.0, 1.0}
    # each image: the band stays left or moves right
    assert torch.all((lefts > 0.99) ^ (rights > 0.99))
    assert 0 < int((rights > 0.99).sum()) < 8  # and some were mirrored, some not
    moving = adapter(rotate=15, translate=0.1, scale=0.1)
    first = moving.augment(stripes, torch.Generator().manual_seed(1))
    assert torch.equal(first, moving.augment(stripes, torch.Generator().manual_seed(1)))
    assert not torch.equal(first, stripes) and 0 <= first.min() and first.max() <= 1


def test_item_sampler_draws_whole_labelled_images_and_restores_its_order(tmp_path):
    for label in "ab":
        for seed in range(3):
            noise_image(tmp_path / label / f"{seed}.png", seed=seed + (10 if label == "b" else 0))
    images = adapter(labels=True)
    pieces = load_pieces(images, str(tmp_path), quiet=True)
    images = images.fitted(pieces)
    sampler = images.sampler(pieces, seed=0, training=True)
    # no variation configured: training images are drawn as they are
    assert isinstance(sampler, ItemSampler) and sampler.augment is None
    batch, labels, _spans = sampler.batch(10)
    assert batch.shape == (10, 1, 16, 16) and labels.shape == (10,)
    by_name = {piece.name: piece for piece in pieces}
    for image, label in zip(batch, labels):
        match = [
            piece for piece in by_name.values() if torch.equal(images.values(piece.tensor), image)
        ]
        assert len(match) == 1 and match[0].label == images.classes[label]
    state = sampler.state()
    expected = sampler.batch(4)
    sampler.restore(state)
    again = sampler.batch(4)
    assert torch.equal(again[0], expected[0]) and torch.equal(again[1], expected[1])
    assert again[2] is expected[2] is None  # whole pictures: no spans
    ordered = list(sampler.in_order(4))
    assert [len(batch) for batch, *_ in ordered] == [4, 2]


def test_a_grid_tiles_images_in_rows_with_a_border():
    images = torch.rand(10, 1, 16, 16)
    tiled = grid(images)
    assert tiled.shape == (1, 3 * 18 + 2, 4 * 18 + 2)
    picture = Image.open(io.BytesIO(adapter().file_bytes(images, ".png")))
    assert picture.size == (4 * 18 + 2, 3 * 18 + 2) and picture.mode == "L"
    assert adapter().file_bytes(images, ".png") == adapter().file_bytes(images.clone(), ".png")
    with pytest.raises(DataError, match="cannot write '.jpg'"):
        adapter().file_bytes(images, ".jpg")


def test_training_images_are_augmented_as_configured_and_validation_images_never(tmp_path):
    noise_image(tmp_path / "a.png")
    flipping = adapter(flip=True)
    pieces = load_pieces(flipping, str(tmp_path), quiet=True)
    assert flipping.sampler(pieces, 0, training=True).augment == flipping.augment
    assert flipping.sampler(pieces, 0, training=False).augment is None
    batch, labels, _spans = flipping.sampler(pieces, 0, training=True).batch(16)
    mirrored = torch.flip(flipping.values(pieces[0].tensor), dims=[-1])
    assert labels is None  # labels off
    assert any(torch.allclose(image, mirrored, atol=1e-6) for image in batch)  # some drawn mirrored


def test_declares_the_capabilities_of_labelled_pictures():
    images = adapter()
    assert isinstance(images, (LabelledAdapter, Augments, Animates))
    assert not isinstance(images, (Composes, Tokens, PlugsTerms))
    assert images.spec.length == 16 and images.spec.segment == 16 and not images.spec.channel_tracks


def test_labelled_reads_classes_from_folders_whatever_the_settings(tmp_path):
    # `muse eval` classifies pictures by their folders even for a model trained without labels
    unlabelled = adapter()
    assert unlabelled.label_of(tmp_path / "7" / "a.png") == ""
    assert unlabelled.labelled().label_of(tmp_path / "7" / "a.png") == "7"
    assert adapter(labels=True).labelled().settings == adapter(labels=True).settings


def test_an_animation_is_a_looping_gif_of_every_frame():
    frames = torch.rand(5, 1, 16, 16)
    gif = Image.open(io.BytesIO(adapter().animation_bytes(frames, 0.1)))
    assert (
        gif.format == "GIF"
        and gif.n_frames == 5
        and gif.info["loop"] == 0
        and gif.info["duration"] == 100
    )
