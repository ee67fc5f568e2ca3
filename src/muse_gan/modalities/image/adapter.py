"""Pictures as ``(channels, size, size)`` tensors, for the image modality.

Items are PIL images. Encoded images are ``uint8`` tensors ``(channels, size, size)`` (row 0
at the top), stored that way in the prepared cache; models see floats from 0 (black) to 1
(white), or 0/1 with ``image.binarize``. In the grid view the rows are the time axis, so an
RNN reads an image row by row, top to bottom.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import torch

from ...core.adapter import Animates, Augments, LabelledAdapter
from ...core.spec import Spec
from ...errors import ConfigError, DataError
from ..registry import ADAPTERS
from .digits import digits_files
from .settings import ImageConfig

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
COLORS = {"gray": "L", "rgb": "RGB"}
FITS = ("crop", "pad", "stretch")
MAX_PIXELS = 1_000_000_000  # a decoded gray picture this size is a gigabyte; RGB three


@ADAPTERS.register("image")
class ImageAdapter(LabelledAdapter, Augments, Animates):
    modality = "image"
    settings_class = ImageConfig
    item_name = "image"
    suffixes = IMAGE_SUFFIXES
    formats = (".png",)
    sample_formats = (".png",)
    preview_count = 64
    evaluation_count = 500
    frame_name = "rows"

    def __init__(self, settings: ImageConfig = ImageConfig(), classes: tuple[str, ...] = ()):
        _check(settings)
        super().__init__(settings, classes)
        self.channels = 1 if settings.color == "gray" else 3

    @property
    def corpora(self) -> dict:
        return {"digits": digits_files}

    @property
    def spec(self) -> Spec:
        kind = "binary" if self.settings.binarize else "continuous"
        size = self.settings.size
        return Spec(
            kind,
            channels=self.channels,
            width=size,
            length=size,
            classes=len(self.classes),
            channel_tracks=False,
        )

    # files → items

    def read(self, path: str | Path) -> list:
        """The image in a file (the first frame of an animation), as a PIL image in the
        configured colours. Images over ``image.max_pixels`` are refused before decoding."""
        from PIL import Image

        path = Path(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    width, height = image.size
                    if width * height > self.settings.max_pixels:
                        raise DataError(
                            f"{path}: {width}x{height} pixels is over image.max_pixels "
                            f"({self.settings.max_pixels})"
                        )
                    image.load()
                    return [_in_colors(image, COLORS[self.settings.color])]
        except DataError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise DataError(f"{path}: refused as a decompression bomb ({error})") from None
        except Exception as error:  # PIL raises many kinds on bad or truncated bytes
            raise DataError(f"{path}: not a readable image ({_reason(error)})") from None

    # items ⇄ tensors

    def encode(self, image) -> torch.Tensor:
        """The image fitted to ``size`` × ``size`` as ``uint8`` ``(channels, size, size)``."""
        from PIL import ImageOps

        image = _in_colors(image, COLORS[self.settings.color])
        size, fit = (self.settings.size,) * 2, self.settings.fit
        if fit == "crop":
            image = ImageOps.fit(image, size, method=_BICUBIC())
        elif fit == "pad":
            image = ImageOps.pad(image, size, method=_BICUBIC(), color=0)
        else:
            image = image.resize(size, _BICUBIC())
        pixels = np.asarray(image, dtype=np.uint8).reshape(
            self.settings.size, self.settings.size, self.channels
        )
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1).contiguous()

    def values(self, pixels: torch.Tensor) -> torch.Tensor:
        """Stored ``uint8`` pixels → the floats models see (0/1 with ``binarize``)."""
        values = pixels.float() / 255
        return (values > 0.5).float() if self.settings.binarize else values

    def decode(self, values: torch.Tensor):
        """One image ``(channels, size, size)`` of values from 0 to 1 → a PIL image."""
        from PIL import Image

        pixels = _pixels(values)
        mode = COLORS[self.settings.color]
        return Image.fromarray(pixels[0] if mode == "L" else np.moveaxis(pixels, 0, -1), mode)

    def file_bytes(self, images: torch.Tensor, suffix: str) -> bytes:
        """Images ``(count, channels, size, size)`` (or one ``(channels, size, size)``) as one
        PNG: the image itself, or a grid of them, rows of ``ceil(sqrt(count))``."""
        if suffix.lower() != ".png":
            raise DataError(
                f"cannot write '{suffix}' files from an image model (known: .png, and .gif for animations)"
            )
        images = images[None] if images.dim() == 3 else images
        picture = self.decode(images[0] if len(images) == 1 else grid(images))
        return _png(picture)

    def animation_bytes(self, frames: torch.Tensor, seconds_per_frame: float = 0.08) -> bytes:
        """Frames ``(count, channels, size, size)`` as a GIF that loops forever."""
        return gif_bytes([self.decode(frame) for frame in frames], seconds_per_frame)

    def judge(self, options):
        from .judge import ImageJudge

        return ImageJudge(self, options)

    # augmentation

    @property
    def augments(self) -> bool:
        settings = self.settings
        return settings.flip or bool(settings.rotate or settings.translate or settings.scale)

    def augment(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The batch ``(batch, channels, size, size)``, each image randomly mirrored, turned,
        shifted and zoomed within the configured limits (one affine resampling per image)."""
        settings, count = self.settings, len(batch)

        def uniform(limit: float) -> torch.Tensor:
            return (torch.rand(count, generator=generator) * 2 - 1) * limit

        angle = uniform(math.radians(settings.rotate))
        zoom = 1 + uniform(settings.scale)
        shift = torch.stack(
            [uniform(2 * settings.translate), uniform(2 * settings.translate)], dim=1
        )
        mirror = (
            torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
            if settings.flip
            else torch.ones(count)
        )
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # output → input coordinates
        theta = torch.stack(
            [
                torch.stack([cos * mirror, -sin, shift[:, 0]], 1),
                torch.stack([sin * mirror, cos, shift[:, 1]], 1),
            ],
            1,
        )
        where = torch.nn.functional.affine_grid(theta, list(batch.shape), align_corners=False)
        moved = torch.nn.functional.grid_sample(
            batch, where, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        return (moved > 0.5).float() if settings.binarize else moved.clamp(0, 1)


def gif_bytes(pictures: list, seconds_per_frame: float) -> bytes:
    """PIL pictures as the frames of a GIF that loops forever (`muse animate`)."""
    out = io.BytesIO()
    pictures[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        loop=0,
        duration=round(1000 * seconds_per_frame),
        optimize=False,
    )
    return out.getvalue()


def grid(images: torch.Tensor, padding: int = 2) -> torch.Tensor:
    """Images ``(count, channels, h, w)`` tiled ``ceil(sqrt(count))`` to a row on a black ground."""
    from torchvision.utils import make_grid

    columns = math.ceil(math.sqrt(len(images)))
    return make_grid(images.float().cpu(), nrow=columns, padding=padding, pad_value=0.0)[
        : images.shape[1]
    ]


def _pixels(values: torch.Tensor) -> np.ndarray:
    """Floats from 0 to 1 → ``uint8`` (rounded, so the same tensor always gives the same bytes)."""
    return (values.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _png(picture) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _in_colors(image, mode: str):
    """The image in mode "L" or "RGB"; 16-bit and float greys are scaled, not clipped."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(values / top * 255, 0, 255).round().astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")  # transparent parts become black, as if on a black ground
        ground = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(ground, image)
    return image.convert(mode) if image.mode != mode else image


def _BICUBIC():
    from PIL import Image

    return Image.Resampling.BICUBIC


def _check(settings: ImageConfig) -> None:
    def fail(key, reason):
        raise ConfigError(f"image.{key}: {getattr(settings, key)!r} {reason}")

    if not 8 <= settings.size <= 1024:
        fail("size", "must be from 8 to 1024 pixels")
    if settings.color not in COLORS:
        fail("color", 'must be "gray" or "rgb"')
    if settings.fit not in FITS:
        fail("fit", 'must be "crop", "pad" or "stretch"')
    if not 1 <= settings.max_pixels <= MAX_PIXELS:
        fail("max_pixels", f"must be from 1 to {MAX_PIXELS}")
    if not 0 <= settings.rotate <= 180:
        fail("rotate", "must be from 0 to 180 degrees")
    for key in ("translate", "scale"):
        if not 0 <= getattr(settings, key) < 1:
            fail(key, "must be from 0 to below 1")


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
