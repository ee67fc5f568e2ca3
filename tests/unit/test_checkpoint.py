"""Tests for checkpoints (muse_gan.core.checkpoint: save/load, bad files, optimizer state), atomic
writes (muse_gan.files), and reading checkpoints of format 1 (muse_gan.assembly: upgrade). Loading,
composing with and resuming from format-1 checkpoints: tests/e2e/test_checkpoint.py."""

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save, save_file

import muse_gan
from muse_gan.assembly import read_config, upgrade
from muse_gan.core.checkpoint import (
    FORMAT,
    READABLE_FORMATS,
    checksum,
    load_checkpoint,
    misfit,
    optimizer_tensors,
    prefixed,
    read_header,
    restore_optimizer,
    save_checkpoint,
    unprefixed,
)
from muse_gan.errors import MuseError
from muse_gan.files import locked, remove_temporaries, write_atomically
from muse_gan.pretrained import DESCRIPTIONS, bundled_path

# genuine checkpoints written by muse_gan before format 2 (see the folder's README)
FORMAT1 = Path(__file__).parents[1] / "fixtures" / "format1"


def leftovers(folder) -> list[str]:
    """Temporary files ``write_atomically`` would leave behind if it failed to clean up."""
    return [path.name for path in folder.iterdir() if path.name.endswith(".tmp")]


# write_atomically


def test_write_atomically_creates_folders_and_writes_the_bytes(tmp_path):
    path = tmp_path / "a" / "b" / "file.bin"
    write_atomically(path, b"\x00\x01 hello")
    assert path.read_bytes() == b"\x00\x01 hello"
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert leftovers(path.parent) == []
    assert sorted(item.name for item in path.parent.iterdir()) == ["file.bin"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_usual_permissions(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_atomically(tmp_path / "song.mid", b"MThd")
    finally:
        os.umask(previous)
    assert (tmp_path / "song.mid").stat().st_mode & 0o777 == mode


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "latest.safetensors"
    path.write_bytes(b"old checkpoint")
    with pytest.raises(TypeError):
        # the write itself raises, after the temporary exists
        write_atomically(path, "text, not bytes")
    assert path.read_bytes() == b"old checkpoint"
    assert leftovers(tmp_path) == []


def test_failed_rename_keeps_what_is_there_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.safetensors"
    target.mkdir()  # renaming a file over a non-empty folder fails, even as root
    (target / "keep.txt").write_bytes(b"mine")
    with pytest.raises(MuseError, match=f"^{target}: cannot write"):
        write_atomically(target, b"new bytes")
    assert (target / "keep.txt").read_bytes() == b"mine"
    assert leftovers(tmp_path) == []


def test_a_folder_that_cannot_be_made_is_one_error_naming_the_file(tmp_path):
    (tmp_path / "plain file").write_bytes(b"x")
    # a file where a folder should be: refused even as root
    target = tmp_path / "plain file" / "song.mid"
    with pytest.raises(
        MuseError, match=f"^{target}: cannot write \\(a file is in the way of its folder"
    ):
        write_atomically(target, b"MThd")


# issue 25, case 5: a link, a FIFO or a device named as the output was replaced by a file


def test_a_symbolic_link_is_written_through_and_stays_a_link(tmp_path):
    target, link = tmp_path / "elsewhere.mid", tmp_path / "song.mid"
    target.write_bytes(b"old")
    link.symlink_to("elsewhere.mid")
    write_atomically(link, b"new")
    assert link.is_symlink() and os.readlink(link) == "elsewhere.mid"
    assert target.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_a_dangling_link_makes_its_target(tmp_path):
    (tmp_path / "takes").mkdir()
    link = tmp_path / "song.mid"
    link.symlink_to(tmp_path / "takes" / "first.mid")
    write_atomically(link, b"MThd")
    assert link.is_symlink() and (tmp_path / "takes" / "first.mid").read_bytes() == b"MThd"


def test_a_fifo_is_written_into_not_replaced(tmp_path):
    import stat
    import threading

    fifo = tmp_path / "song.mid"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomically(fifo, b"MThd and the rest")
    reader.join(timeout=10)
    assert received == [b"MThd and the rest"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert leftovers(tmp_path) == []


def test_a_device_is_written_into_not_replaced():
    import stat

    write_atomically(Path(os.devnull), b"MThd")
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)


# issue 25, case 7: two runs into one --out both went ahead

HOLD_LOCK = """
import sys, time
from muse_gan.files import locked
with locked(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_locked_folder_refuses_another_process_and_is_taken_over_once_it_is_gone(tmp_path):
    import socket
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        expected = f"process {holder.pid} on {socket.gethostname()}, since "
        with pytest.raises(
            MuseError, match=f"^{tmp_path}: another training run is writing into it"
        ):
            with locked(tmp_path):
                pass
        with pytest.raises(MuseError, match=expected):
            with locked(tmp_path):
                pass
    finally:
        holder.kill()  # SIGKILL: no chance to clean up
        holder.wait()
    said = []
    with locked(tmp_path, said.append):
        assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()
    (line,) = said
    assert line.startswith(f"{tmp_path}: took over the lock of {expected}")
    assert line.endswith(", which is no longer running")
    assert not (tmp_path / "lock").exists()


def test_a_lock_file_of_a_dead_process_is_taken_over_with_a_line(tmp_path):
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = {"pid": int(gone.stdout), "host": "here", "since": "yesterday"}
    (tmp_path / "lock").write_text(json.dumps(stale))
    said = []
    with locked(tmp_path, said.append):
        pass
    assert said == [
        f"{tmp_path}: took over the lock of process {stale['pid']} on here, since yesterday, "
        "which is no longer running"
    ]


def test_one_process_cannot_take_its_own_folder_twice(tmp_path):
    with locked(tmp_path):
        with pytest.raises(MuseError, match=f"process {os.getpid()} on "):
            with locked(tmp_path):
                pass
    with locked(tmp_path):  # released
        pass


FULL_DISK = """
import resource, signal, sys
from muse_gan.files import write_atomically
from muse_gan.errors import MuseError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, writes fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    write_atomically(sys.argv[1], bytes(5000))
except MuseError as error:
    print(error)
"""


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "model.safetensors"
    target.write_bytes(b"the last good checkpoint")
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(target)], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == f"{target}: cannot write (File too large)", result.stderr
    assert target.read_bytes() == b"the last good checkpoint"
    assert leftovers(tmp_path) == []


def test_remove_temporaries_takes_only_the_leftovers_of_killed_writes(tmp_path):
    write_atomically(tmp_path / "latest.safetensors", b"good")
    (tmp_path / ".latest.safetensors.k1ll3d.tmp").write_bytes(b"half a che")
    (tmp_path / "notes.tmp").write_bytes(b"not hidden: not ours")
    removed = remove_temporaries(tmp_path)
    assert [path.name for path in removed] == [".latest.safetensors.k1ll3d.tmp"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["latest.safetensors", "notes.tmp"]


# save_checkpoint / load_checkpoint


def test_save_load_round_trip(tmp_path):
    weights = torch.randn(3, 4, requires_grad=True)
    tensors = {
        "model.weight": weights,
        "model.transposed": torch.arange(12.0).reshape(3, 4).t(),  # not contiguous
        "counts": torch.tensor([1, 2, 3], dtype=torch.int64),
        "roll": torch.tensor([[0, 1], [1, 0]], dtype=torch.uint8),
        "half": torch.tensor([0.5, -2.0], dtype=torch.bfloat16),
    }
    info = {
        "step": 17,
        "config": {"train": {"lr": 0.002, "device": "auto"}},
        "names": ["Soprano", "Bass"],
    }
    path = tmp_path / "runs" / "step17.safetensors"
    save_checkpoint(path, tensors, info)
    loaded, header = load_checkpoint(path)
    assert set(loaded) == set(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype
        assert torch.equal(loaded[name], tensor.detach())
    assert header.pop("checksum") == checksum(loaded)
    assert header == {"format": FORMAT, "version": muse_gan.__version__, **info}
    assert read_header(path) == header | {
        "checksum": checksum(loaded)
    }  # the header alone, without reading the tensors
    assert leftovers(path.parent) == []


def test_checkpoint_holds_only_tensors_and_json(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": torch.ones(2)}, {"step": 1})
    header_length = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_length])
    assert json.loads(header["__metadata__"]["muse_gan"])["step"] == 1


@pytest.fixture
def good_checkpoint(tmp_path):
    path = tmp_path / "good.safetensors"
    save_checkpoint(path, {"w": torch.randn(64, 64)}, {"step": 3})
    return path.read_bytes()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda good: good[: len(good) // 2],  # cut off mid-tensor
        lambda good: good[:20],  # cut off mid-header
        lambda good: b"",
        lambda good: bytes(range(256)) * 4,  # random bytes
    ],
)
def test_broken_file_names_the_file(tmp_path, good_checkpoint, spoil):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(spoil(good_checkpoint))
    with pytest.raises(MuseError, match=f"^{path}: not a muse_gan checkpoint"):
        load_checkpoint(path)


# issue 25, case 4: damaged weights were accepted


def test_tensors_that_no_longer_match_the_header_s_checksum_are_refused(tmp_path, good_checkpoint):
    data = bytearray(good_checkpoint)
    for at in range(len(data) - 6000, len(data) - 2000):  # 4,000 bytes of the weights
        data[at] ^= 0x10
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(MuseError, match=f"^{path}: its tensors are damaged"):
        load_checkpoint(path)
    assert read_header(path)["step"] == 3  # the header alone is still readable


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused_naming_the_file_and_the_tensor(tmp_path, value):
    path = tmp_path / "spoilt.safetensors"
    weights = torch.randn(8, 8)
    weights[3, 5] = value
    save_checkpoint(path, {"model.w": weights, "steps": torch.tensor([1])}, {"step": 1})
    with pytest.raises(
        MuseError, match=f"^{path}: its tensor model.w holds NaN or infinite values$"
    ):
        load_checkpoint(path)


def test_a_model_of_nan_weights_is_refused_instead_of_composing_an_empty_file(tmp_path):
    """The issue's case: all-NaN weights composed a file with no notes and no instruments."""
    from .test_cli import assert_one_clear_line, muse

    tensors, header = load_checkpoint(bundled_path("bach-gan"))
    path = tmp_path / "nan.safetensors"
    save_checkpoint(
        path,
        {
            name: t.float().fill_(float("nan")) if t.is_floating_point() else t
            for name, t in tensors.items()
        },
        header,
    )
    result = muse("compose", "--model", path, "--seed", 1, "-o", tmp_path / "song.mid")
    assert_one_clear_line(result, str(path), "NaN")
    assert not (tmp_path / "song.mid").exists()


def test_every_bundled_model_carries_the_checksum_of_its_tensors():
    for name in DESCRIPTIONS:
        tensors, header = load_checkpoint(bundled_path(name))
        assert header["checksum"] == checksum(tensors), name


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere.safetensors"
    with pytest.raises(MuseError, match=f"^{path}: no such checkpoint$"):
        load_checkpoint(path)


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(MuseError, match=f"^{tmp_path}: "):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize(
    "metadata",
    [None, {"other": "x"}, {"muse_gan": "{not json"}, {"muse_gan": "5"}, {"muse_gan": "[1, 2]"}],
)
def test_safetensors_without_our_header_is_refused(tmp_path, metadata):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata=metadata)
    with pytest.raises(MuseError, match=f"^{path}: not a muse_gan checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("format_", [FORMAT + 1, 0, None, "2"])
def test_another_format_is_refused(tmp_path, format_):
    path = tmp_path / "future.safetensors"
    path.write_bytes(
        save({"w": torch.zeros(2)}, metadata={"muse_gan": json.dumps({"format": format_})})
    )
    with pytest.raises(
        MuseError,
        match=f"^{path}: checkpoint format {format_!r} is not supported "
        f"\\(this version reads formats 1, 2\\)",
    ):
        load_checkpoint(path)
    with pytest.raises(MuseError, match="is not supported"):
        read_header(path)


def test_misfit_names_the_first_weight_that_does_not_fit():
    shapes = {"a": torch.Size([2]), "b": torch.Size([3, 4])}
    assert misfit(shapes, {"a": torch.zeros(2), "b": torch.zeros(3, 4)}, "this run's") is None
    assert misfit(shapes, {"a": torch.zeros(2)}, "this run's") == "it has no b"
    assert (
        misfit(
            shapes, {"a": torch.zeros(2), "b": torch.zeros(3, 4), "c": torch.zeros(1)}, "this run's"
        )
        == "its c is not in this run's"
    )
    assert (
        misfit(shapes, {"a": torch.zeros(2), "b": torch.zeros(4, 3)}, "this run's")
        == "its b is (4, 3), this run's (3, 4)"
    )


def test_prefixed_and_unprefixed():
    a, b = torch.zeros(1), torch.ones(1)
    both = prefixed("model.", {"w": a}) | prefixed("ema.", {"w": b})
    assert list(both) == ["model.w", "ema.w"]
    assert unprefixed("ema.", both) == {"w": b}
    assert unprefixed("model.", both)["w"] is a


# optimizer state


def train_steps(model, optimizer, steps, seed):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        inputs, targets = (
            torch.randn(8, 3, generator=generator),
            torch.randn(8, 2, generator=generator),
        )
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()


def fresh_model(state=None):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    if state is not None:
        model.load_state_dict(state)
    return model


def test_optimizer_state_round_trip_gives_the_same_next_step(tmp_path):
    model = fresh_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1, betas=(0.8, 0.95))
    train_steps(model, optimizer, 2, seed=1)
    tensors, info = optimizer_tensors(optimizer)
    path = tmp_path / "resume.safetensors"
    save_checkpoint(
        path,
        prefixed("model.", model.state_dict()) | prefixed("optimizer.", tensors),
        {"optimizer": info},
    )

    loaded, header = load_checkpoint(path)
    resumed = fresh_model(unprefixed("model.", loaded))
    resumed_optimizer = torch.optim.AdamW(resumed.parameters(), lr=1.0)  # groups come from the file
    restore_optimizer(resumed_optimizer, unprefixed("optimizer.", loaded), header["optimizer"])
    unrestored = fresh_model(unprefixed("model.", loaded))
    unrestored_optimizer = torch.optim.AdamW(
        unrestored.parameters(), lr=0.05, weight_decay=0.1, betas=(0.8, 0.95)
    )

    for each, each_optimizer in [
        (model, optimizer),
        (resumed, resumed_optimizer),
        (unrestored, unrestored_optimizer),
    ]:
        train_steps(each, each_optimizer, 1, seed=2)
    for name, value in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value)
    # the moments matter: the check can fail
    assert not torch.equal(unrestored.weight, model.weight)
    assert resumed_optimizer.param_groups[0]["lr"] == 0.05
    assert resumed_optimizer.state_dict()["state"][0]["step"].item() == 3


def test_optimizer_tensors_split_tensors_from_json():
    model = fresh_model()
    optimizer = torch.optim.AdamW(model.parameters())
    train_steps(model, optimizer, 1, seed=0)
    tensors, info = optimizer_tensors(optimizer)
    assert sorted(tensors) == [
        "0.exp_avg",
        "0.exp_avg_sq",
        "0.step",
        "1.exp_avg",
        "1.exp_avg_sq",
        "1.step",
    ]
    assert tensors["0.exp_avg"].shape == (2, 3)
    assert json.loads(json.dumps(info))["param_groups"][0]["params"] == [0, 1]


def test_sgd_momentum_round_trip():
    model = fresh_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train_steps(model, optimizer, 2, seed=0)
    tensors, info = optimizer_tensors(optimizer)
    info = json.loads(json.dumps(info))
    restored = torch.optim.SGD(model.parameters(), lr=0.5)
    restore_optimizer(restored, tensors, info)
    assert torch.equal(
        restored.state_dict()["state"][0]["momentum_buffer"],
        optimizer.state_dict()["state"][0]["momentum_buffer"],
    )
    assert restored.param_groups[0]["lr"] == 0.1


# checkpoints of format 1: their header and weight names as the current format would hold them


@pytest.mark.parametrize("name", ["gan-terms", "gan-terms-latest", "rnn-common-key"])
def test_format_1_files_are_still_readable_as_written(name):
    assert 1 in READABLE_FORMATS
    tensors, header = load_checkpoint(FORMAT1 / f"{name}.safetensors")
    assert header["format"] == 1 and header == read_header(FORMAT1 / f"{name}.safetensors")
    assert "window_bars" in header["config"]["data"]  # the keys under their old names
    assert tensors


def test_upgrade_completes_the_adapter_moves_the_keys_and_renames_the_weights():
    path = FORMAT1 / "gan-terms-latest.safetensors"
    old_tensors, old_header = load_checkpoint(path)
    tensors, header = upgrade(path, old_tensors, old_header)
    assert header["format"] == FORMAT == 2
    # the adapter's settings gain the keys that lived in [data] and [gan]
    assert header["adapter"]["tempo"] == 96.0 and header["adapter"]["window_bars"] == 1
    assert header["adapter"]["common_key"] is True and header["adapter"]["transpose"] == 0
    assert header["adapter"]["gan"] == {
        "critic_chroma": True,
        "activity_weight": 2.0,
        "harmony_weight": 10.0,
        "rhythm_weight": 2.0,
        "voice_ranges": True,
        "one_note_per_voice": False,  # added since, at their defaults
        "note_change_cost": 0.0,
    }
    assert (
        "window_bars" not in header["config"]["data"]
        and "harmony_weight" not in header["config"]["gan"]
    )
    assert header["config"]["midi"]["gan"]["harmony_weight"] == 10.0
    assert header["step"] == old_header["step"] and header["optimizers"] == old_header["optimizers"]
    # two GAN weights were renamed, behind any prefix; every other weight keeps its name and value
    for prefix in ("model.", "ema."):
        assert torch.equal(
            tensors[f"{prefix}generator.width_bias"], old_tensors[f"{prefix}generator.pitch_bias"]
        )
        assert f"{prefix}generator.pitch_bias" not in tensors
    assert torch.equal(
        tensors["model.generator.output_filter.heard"], old_tensors["model.generator.heard"]
    )
    assert len(tensors) == len(old_tensors)
    assert all(
        torch.equal(tensors[name], value) for name, value in old_tensors.items() if name in tensors
    )
    assert old_header["format"] == 1  # the header read is left as it was


def test_upgrade_leaves_the_current_format_alone(tmp_path):
    path = tmp_path / "current.safetensors"
    save_checkpoint(
        path, {"model.generator.pitch_bias": torch.zeros(2)}, {"family": "gan", "config": {}}
    )
    tensors, header = load_checkpoint(path)
    # a current weight of that name is not renamed
    assert upgrade(path, tensors, header) == (
        tensors,
        header,
    )


def test_read_config_of_a_format_1_checkpoint_uses_the_new_sections():
    config = read_config(FORMAT1 / "rnn-common-key.safetensors")
    assert (config.midi.common_key, config.midi.transpose, config.midi.window_bars) == (True, 0, 1)
    gan = read_config(FORMAT1 / "gan-terms.safetensors")
    assert (
        gan.midi.gan.critic_chroma
        and gan.midi.gan.voice_ranges
        and gan.midi.gan.rhythm_weight == 2.0
    )
    assert gan.gan.loss == "hinge" and gan.model.family == "gan"
