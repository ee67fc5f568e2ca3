"""Training curves for a run folder: a CSV that always works, TensorBoard when it is installed.

``RUN/scalars.csv`` has the columns ``step,name,value``, one row per scalar, where ``step``
is the optimiser step count of the run. Each row is flushed as it is logged, so a killed
run keeps every curve point it reached and a resumed run appends to the same file.
"""

import csv
import os
import pathlib

from ..errors import DataError, MuseError

CSV_NAME = "scalars.csv"
TENSORBOARD_DIR = "tensorboard"
CSV_HEADER = ["step", "name", "value"]


class ScalarLog:
    """Appends scalars to RUN/scalars.csv and, when possible, to TensorBoard.

    The TensorBoard event files go to RUN/tensorboard/ when ``torch.utils.tensorboard``
    can be imported (the ``tensorboard`` package is installed); otherwise the log is
    silently CSV-only. Opening a folder that already has scalars.csv appends to it.

    Example::

        with ScalarLog(run_dir) as log:
            log.log(step, {"train/loss": 2.31, "train/lr": 3e-4})
    """

    def __init__(self, run_dir: pathlib.Path, from_step: int | None = None):
        """With ``from_step`` (a resumed run's step), rows logged after it by the earlier,
        interrupted process are dropped first: the resumed run logs those steps again."""
        self.run_dir = pathlib.Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / CSV_NAME
        if from_step is not None:
            _drop_rows_after(self.csv_path, from_step)
        self._csv_file = self._open_csv(self.csv_path)
        self._csv = csv.writer(self._csv_file)
        self._tensorboard = _open_tensorboard(self.run_dir / TENSORBOARD_DIR, from_step)

    @staticmethod
    def _open_csv(path: pathlib.Path):
        is_new = not path.exists() or path.stat().st_size == 0
        file = open(path, "a", newline="", encoding="utf-8")
        if is_new:
            csv.writer(file).writerow(CSV_HEADER)
        return file

    def log(self, step: int, scalars: dict[str, float]) -> None:
        """Record each ``name: value`` of ``scalars`` at ``step``; the CSV rows are flushed."""
        step = int(step)
        try:
            for name, value in scalars.items():
                value = float(value)
                # repr is the shortest text that reads back as the same float.
                self._csv.writerow([step, name, repr(value)])
                if self._tensorboard is not None:
                    self._tensorboard.add_scalar(name, value, step)
            self._csv_file.flush()
        except OSError as error:  # a full disk
            raise MuseError(f"{self.csv_path}: cannot write ({error.strerror or error})") from None

    def close(self) -> None:
        """Close the CSV and TensorBoard files; closing twice is harmless."""
        try:
            self._csv_file.close()
        except OSError:
            pass  # rows that could not be flushed were already reported by log()
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def __enter__(self) -> "ScalarLog":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _open_tensorboard(log_dir: pathlib.Path, from_step: int | None = None):
    """A TensorBoard SummaryWriter for ``log_dir``, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    purge = None if from_step is None else from_step + 1  # TensorBoard hides events from here on
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge)


def _drop_rows_after(csv_path: pathlib.Path, step: int) -> None:
    """Keep the header and the whole rows up to ``step``; rewritten atomically."""
    if not csv_path.exists() or csv_path.stat().st_size == 0:
        return
    with open(csv_path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    kept = rows[:1] + [row for row in rows[1:] if _is_whole_row(row) and int(row[0]) <= step]
    partial = csv_path.with_name(f".{csv_path.name}.{os.getpid()}.partial")
    with open(partial, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(kept)
    os.replace(partial, csv_path)


def _is_whole_row(row: list[str]) -> bool:
    """False for the cut-off last line a killed process may leave."""
    try:
        _parse_row(row, "", 0)
    except DataError:
        return False
    return True


def read_scalars(csv_path) -> dict[str, list[tuple[int, float]]]:
    """Read a scalars.csv into ``name -> [(step, value), ...]``, rows in file order.

    Names appear in the order of their first row. Raises ``DataError`` (a ``ValueError``)
    naming the file and line when the header or a row is not ``step,name,value``.
    """
    curves: dict[str, list[tuple[int, float]]] = {}
    with open(csv_path, newline="", encoding="utf-8") as file:
        rows = csv.reader(file)
        header = next(rows, None)
        if header != CSV_HEADER:
            raise DataError(f"{csv_path}: header should be {','.join(CSV_HEADER)}, got {header}")
        for row in rows:
            step, name, value = _parse_row(row, csv_path, rows.line_num)
            curves.setdefault(name, []).append((step, value))
    return curves


def _parse_row(row: list[str], csv_path, line: int) -> tuple[int, str, float]:
    try:
        step, name, value = row
        return int(step), name, float(value)
    except ValueError:
        raise DataError(f"{csv_path}, line {line}: expected step,name,value, got {row}") from None


def write_loss_curve_png(csv_path, png_path) -> None:
    """Plot every scalar of ``csv_path`` whose name ends with 'loss' against step, to ``png_path``.

    One line per name (e.g. 'train/loss', 'valid/loss'), with a legend. The PNG is written
    to a temporary file beside ``png_path`` and moved into place, so a reader never sees a
    half-written picture. Raises ``DataError`` (a ``ValueError``) when the CSV has no loss
    scalars, since an empty plot would more likely hide a wrong path than help.
    """
    curves = {
        name: points for name, points in read_scalars(csv_path).items() if name.endswith("loss")
    }
    if not curves:
        raise DataError(f"{csv_path}: no scalar whose name ends with 'loss' to plot")
    figure = _loss_figure(curves)
    png_path = pathlib.Path(png_path)
    partial = png_path.with_name(f".{png_path.name}.{os.getpid()}.partial")
    try:
        figure.savefig(partial, format="png")
        os.replace(partial, png_path)
    finally:
        partial.unlink(missing_ok=True)


def _loss_figure(curves: dict[str, list[tuple[int, float]]]):
    # A bare Figure draws with Agg without touching pyplot, so the caller's
    # matplotlib backend (a notebook's, say) is left as it was.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100, layout="tight")
    axes = figure.add_subplot()
    for name, points in curves.items():
        steps, values = zip(*points)
        axes.plot(steps, values, label=name)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend()
    return figure
