"""The JSB-chorales likelihood benchmark on real chorales: a validation folder of one's own, the
published data set's pickle (made here from music21's chorales, as it cannot be downloaded
here) trained on and evaluated on its own test part, the whole-piece NLL in the training log,
and the Transformer backbone trained a few steps and sampled."""

import csv
import pickle

import pytest
import torch

from muse_gan.api import load
from muse_gan.assembly import load_config
from muse_gan.core.store import load_pieces
from muse_gan.evaluation import evaluation_pieces, frame_nll
from muse_gan.modalities import build_adapter
from muse_gan.training import build_trainer, train

from ..conftest import TINY, write_quartet
from ..unit.test_jsb import JSB

SMALL = [*JSB, *(setting for setting in TINY if not setting.startswith("midi."))]


def logged(run) -> dict[str, list[float]]:
    with open(run / "scalars.csv") as file:
        rows = list(csv.DictReader(file))
    return {
        name: [float(row["value"]) for row in rows if row["name"] == name]
        for name in {row["name"] for row in rows}
    }


@pytest.mark.parametrize("select_by", ["loss", "piece_nll"])
def test_a_run_validates_on_the_folder_data_valid_source_names(tmp_path, select_by):
    folder = tmp_path / "my-valid"
    for shift in (0, 2, 5):
        write_quartet(folder / f"quartet{shift}.mid", shift=shift, bars=4)
    chosen = [] if select_by == "loss" else [f'train.select_by="{select_by}"']
    config = load_config(None, [*SMALL, f'data.valid_source="{folder}"', *chosen])
    trainer = build_trainer(config, tmp_path / "run")
    names = {segment.name for segment in trainer.valid_windows.segments}
    assert names == {str(folder / f"quartet{shift}.mid") for shift in (0, 2, 5)}
    trainer.fit()
    scalars = logged(tmp_path / "run")
    assert len(scalars["valid/loss"]) == len(scalars["valid/piece_nll"]) == 2
    # the log's whole-piece NLL is `muse eval`'s on that folder
    model = load(tmp_path / "run")
    pieces = model.adapter.model_view(load_pieces(model.adapter, str(folder), quiet=True))
    nll, frames = frame_nll(model.objective, pieces, model.adapter)
    assert frames == 3 * 4 * 4
    # the model file holds the weights of the lowest valid/loss, or valid/piece_nll when chosen by it
    best = scalars[f"valid/{select_by}"].index(min(scalars[f"valid/{select_by}"]))
    assert nll == pytest.approx(scalars["valid/piece_nll"][best], rel=1e-5)
    # here both fall step by step and rank the weights alike; where they disagree, the chosen one rules
    assert trainer._selection_distance({"loss": 1.0, "piece_nll": 2.0}) == (
        2.0 if select_by == "piece_nll" else 1.0
    )


def test_the_published_split_of_music21s_chorales_trains_a_transformer_and_keeps_its_test_part(
    tmp_path,
):
    # the tiny runs' chorales (data.limit=8), prepared once for the whole session, as frames
    config = load_config(None, SMALL)
    adapter = build_adapter(config)
    chorales = adapter.fitted(load_pieces(adapter, "bach", 8, quiet=True))
    songs = []
    for piece in chorales.model_view(load_pieces(adapter, "bach", 8, quiet=True)):
        roll = chorales.tensor_of(piece)[0]
        songs.append([tuple(int(21 + key) for key in torch.nonzero(row)[:, 0]) for row in roll])
    path = tmp_path / "JSB Chorales.pickle"
    with open(path, "wb") as file:
        pickle.dump({"train": songs[:5], "valid": songs[5:6], "test": songs[6:]}, file, protocol=2)
    run = tmp_path / "run"
    settings = [
        *SMALL,
        f'data.source="{path}"',
        "model.cell=transformer",
        "data.valid_fraction=0.5",
    ]
    train(load_config(None, settings), run, quiet=True)
    model = load(run)
    test = evaluation_pieces(model.config, model.adapter, None, "test", quiet=True)
    assert [piece.name for piece in test] == [
        f"{path}#{number}" for number in range(7, len(songs) + 1)
    ]
    assert "valid/piece_nll" in logged(run)
    first = model.compose(bars=2, seed=5).file_bytes(".mid")
    assert model.compose(bars=2, seed=5).file_bytes(".mid") == first
    assert model.compose(bars=2, seed=6).file_bytes(".mid") != first
