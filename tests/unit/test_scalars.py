"""Tests for muse_gan.core.scalars: CSV logging, resuming, reading back and the loss plot."""

import pytest
from PIL import Image

from muse_gan.core.scalars import ScalarLog, read_scalars, write_loss_curve_png
from muse_gan.errors import DataError


def log_steps(run_dir, rows):
    with ScalarLog(run_dir) as log:
        for step, scalars in rows:
            log.log(step, scalars)


def test_logged_values_read_back_exactly_in_order(tmp_path):
    log_steps(tmp_path, [(1, {"train/loss": 2.5, "lr": 1e-3}), (2, {"train/loss": 0.1 + 0.2})])
    assert read_scalars(tmp_path / "scalars.csv") == {
        "train/loss": [(1, 2.5), (2, 0.1 + 0.2)],
        "lr": [(1, 1e-3)],
    }


def test_rows_are_on_disk_before_close(tmp_path):
    log = ScalarLog(tmp_path)
    log.log(7, {"train/loss": 1.25})
    assert read_scalars(tmp_path / "scalars.csv") == {"train/loss": [(7, 1.25)]}
    log.close()


def test_resumed_run_appends_without_a_second_header(tmp_path):
    log_steps(tmp_path, [(1, {"train/loss": 3.0})])
    log_steps(tmp_path, [(2, {"train/loss": 2.0}), (3, {"valid/loss": 2.2})])
    lines = (tmp_path / "scalars.csv").read_text().splitlines()
    assert lines[0] == "step,name,value" and lines.count("step,name,value") == 1
    assert read_scalars(tmp_path / "scalars.csv") == {
        "train/loss": [(1, 3.0), (2, 2.0)],
        "valid/loss": [(3, 2.2)],
    }


def test_creates_the_run_folder_and_closes_twice(tmp_path):
    log = ScalarLog(tmp_path / "runs" / "first")
    log.close()
    log.close()
    assert (tmp_path / "runs" / "first" / "scalars.csv").exists()


def test_names_with_commas_survive(tmp_path):
    log_steps(tmp_path, [(0, {"loss, weighted": 1.5})])
    assert read_scalars(tmp_path / "scalars.csv") == {"loss, weighted": [(0, 1.5)]}


def test_malformed_row_names_file_and_line(tmp_path):
    csv_path = tmp_path / "scalars.csv"
    csv_path.write_text("step,name,value\n1,train/loss,2.0\n2,train/loss\n")
    with pytest.raises(DataError, match="line 3"):
        read_scalars(csv_path)


def test_loss_curve_png_is_written(tmp_path):
    log_steps(
        tmp_path,
        [
            (step, {"train/loss": 3 / step, "valid/loss": 3.5 / step, "lr": 1e-3})
            for step in range(1, 50)
        ],
    )
    png_path = tmp_path / "loss.png"
    write_loss_curve_png(tmp_path / "scalars.csv", png_path)
    with Image.open(png_path) as image:
        assert image.format == "PNG" and image.width > 400 and image.height > 200
    assert [path.name for path in tmp_path.iterdir() if "loss.png" in path.name] == ["loss.png"]


def test_loss_curve_without_losses_is_a_clear_error(tmp_path):
    log_steps(tmp_path, [(1, {"lr": 1e-3})])
    png_path = tmp_path / "loss.png"
    with pytest.raises(ValueError, match="no scalar whose name ends with 'loss'"):
        write_loss_curve_png(tmp_path / "scalars.csv", png_path)
    assert not png_path.exists()


def test_a_resumed_log_drops_the_rows_after_its_step(tmp_path):
    with ScalarLog(tmp_path) as log:
        for step in (1, 2, 3, 4):
            log.log(step, {"train/loss": float(step)})
    with ScalarLog(tmp_path, from_step=2) as log:  # the run resumes from its step-2 checkpoint
        log.log(3, {"train/loss": 30.0})
    assert read_scalars(tmp_path / "scalars.csv")["train/loss"] == [(1, 1.0), (2, 2.0), (3, 30.0)]


def test_a_resumed_log_drops_the_row_a_killed_process_cut_off(tmp_path):
    with ScalarLog(tmp_path) as log:
        log.log(2, {"train/loss": 0.5})
    with open(tmp_path / "scalars.csv", "a", encoding="utf-8") as file:
        # SIGKILL in the middle of the step's next row: no value, no line end
        file.write("2,train/l")
    with ScalarLog(tmp_path, from_step=2) as log:  # resumed from the checkpoint of that step
        log.log(3, {"train/loss": 0.25})
    assert read_scalars(tmp_path / "scalars.csv") == {"train/loss": [(2, 0.5), (3, 0.25)]}
