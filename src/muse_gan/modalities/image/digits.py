"""The built-in pictures: the handwritten digits bundled with scikit-learn (1,797 images of
8 × 8 pixels, 17 grey levels, digits 0-9), made from the installed package: nothing downloads.

They are written once as PNGs into the cache, one folder per digit, so they go through the same
reader, labels and cache as a folder of the user's own pictures.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ...core.store import cache_dir
from ...errors import MuseError
from ...files import materialize

DIGITS_VERSION = 1  # bump when the written files change


def digits_files() -> list[Path]:
    """The digit PNGs, ``cache/builtin/digits-v1/<digit>/<index>.png``, written on first use."""
    folder = cache_dir() / "builtin" / f"digits-v{DIGITS_VERSION}"
    if not folder.exists():
        _write_digits(folder)
    # scikit-learn's order: digits mixed
    return sorted(folder.rglob("*.png"), key=lambda path: path.name)


def _digits_table() -> np.ndarray:
    """(1797, 65): 64 pixel values from 0 to 16, row by row, then the digit."""
    found = importlib.util.find_spec("sklearn")
    table = Path(found.origin).parent / "datasets" / "data" / "digits.csv.gz" if found else None
    if table is None or not table.exists():
        raise MuseError("the built-in digits come with scikit-learn: pip install scikit-learn")
    return np.loadtxt(table, delimiter=",", dtype=np.float64)


def _write_digits(folder: Path) -> None:
    """All digits as 8-bit grey PNGs, ``<digit>/<index>.png``."""
    from PIL import Image

    def write(temporary: Path) -> None:
        for index, row in enumerate(_digits_table()):
            pixels = np.round(row[:64].reshape(8, 8) * 255 / 16).astype(np.uint8)
            target = temporary / str(int(row[64])) / f"{index:04d}.png"
            target.parent.mkdir(exist_ok=True)
            Image.fromarray(pixels, "L").save(target)

    materialize(folder, write)
