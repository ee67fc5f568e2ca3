"""Tests for the prepared-data store (muse_gan.core.store: finding source files, preparing and
caching tensors, splits) and the samplers (muse_gan.core.samplers: windows, items, their order).
The tests on real corpora and spawned workers are in tests/e2e/test_data.py."""

import dataclasses
import os
import pickle
from itertools import islice
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch

from muse_gan.assembly import check_config, load_config
from muse_gan.core.samplers import ItemSampler, WindowSampler
from muse_gan.core.store import Piece, cache_dir, prepare, source_files, split, workers_pay
from muse_gan.errors import ConfigError, MuseError
from muse_gan.modalities import build_adapter
from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter
from muse_gan.modalities.midi.keys import Transposition
from muse_gan.training import samplers

from ..conftest import write_quartet

# four tracks in 4/4, 37 pitches, 16 steps a bar; pieces of another part count left out
SETTINGS = MidiConfig(
    pitch_low=48,
    pitch_high=84,
    tempo=120.0,
    track_mapping="keep",
    track_names=("Soprano", "Alto", "Tenor", "Bass"),
    require_parts=4,
    meter="4/4",
    dynamics="off",
    conditions=(),
)
TUNES = MidiConfig(
    pitch_low=60,
    pitch_high=84,
    track_mapping="merge",
    track_names=("Tune",),
    programs=(0,),
    meter="4/4",
    dynamics="off",
    conditions=(),
)
SUFFIXES = PianoRollAdapter.suffixes


def write_midi(path: Path, pitches=(72, 67, 60, 48), seconds=2.0) -> Path:
    """A four-part MIDI file at 120 qpm: part n holds ``pitches[n]`` from 0 to ``seconds``."""
    piece = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
    for pitch in pitches:
        part = pretty_midi.Instrument(0)
        part.notes.append(pretty_midi.Note(80, pitch, 0.0, seconds))
        piece.instruments.append(part)
    path.parent.mkdir(parents=True, exist_ok=True)
    piece.write(str(path))
    return path


def touch(path: Path, content: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# source_files


def test_source_files_walks_subfolders_and_sorts(tmp_path):
    for name in [
        "b.mid",
        "a.MID",
        "notes.txt",
        "sub/c.midi",
        "sub/deeper/d.mid",
        "sub/readme.md",
        "z.abc",
        "sub/deeper/score.MXL",
        "sub/deeper/e.mid.bak",
    ]:
        touch(tmp_path / name)
    (tmp_path / "folder.mid").mkdir()  # a folder is not a file, whatever its name
    found = source_files(str(tmp_path), SUFFIXES)
    assert [path.relative_to(tmp_path).as_posix() for path in found] == [
        "a.MID",
        "b.mid",
        "sub/c.midi",
        "sub/deeper/d.mid",
        "sub/deeper/score.MXL",
        "z.abc",
    ]


def test_source_files_limit_keeps_the_first(tmp_path):
    for name in ["c.mid", "a.mid", "b.mid"]:
        touch(tmp_path / name)
    assert [path.name for path in source_files(str(tmp_path), SUFFIXES, limit=2)] == [
        "a.mid",
        "b.mid",
    ]
    assert len(source_files(str(tmp_path), SUFFIXES, limit=0)) == 3


def test_source_files_accepts_one_file(tmp_path):
    path = touch(tmp_path / "one.mid")
    assert source_files(str(path), SUFFIXES) == [path]


def test_source_files_bach_lists_the_chorales_without_parsing():
    files = source_files("bach", SUFFIXES, limit=5, corpora=PianoRollAdapter().corpora)
    assert len(files) == 5
    assert all(path.suffix == ".mxl" and path.name.startswith("bwv") for path in files)


def test_source_files_missing_folder(tmp_path):
    with pytest.raises(MuseError, match="--data .*nowhere: no such file or folder$"):
        source_files(str(tmp_path / "nowhere"), SUFFIXES)
    # perhaps another modality's corpus: the error names this one's
    with pytest.raises(
        MuseError,
        match="--data digits: no such file or folder \\(built-in data here: bach, folk, palestrina\\)",
    ):
        source_files("digits", SUFFIXES, corpora=PianoRollAdapter().corpora)


def test_source_files_builtin_is_the_first_corpus_and_needs_one():
    assert source_files(
        "builtin", SUFFIXES, limit=2, corpora=PianoRollAdapter().corpora
    ) == source_files("bach", SUFFIXES, limit=2, corpora=PianoRollAdapter().corpora)
    with pytest.raises(MuseError, match="no built-in data"):
        source_files("builtin", SUFFIXES)


def test_source_files_folder_without_usable_files(tmp_path):
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "sub" / "song.mp3")
    with pytest.raises(MuseError, match=f"{tmp_path}: no .*\\.mid.* files found"):
        source_files(str(tmp_path), SUFFIXES)


# prepare


def songs(folder: Path) -> Path:
    """Two good four-part files, a truncated one, an empty one and one with three parts."""
    write_midi(folder / "a.mid", seconds=2.0)
    good = write_midi(folder / "b.mid", pitches=(74, 69, 62, 50), seconds=3.0).read_bytes()
    touch(folder / "c_truncated.mid", good[: len(good) // 2])
    touch(folder / "d_empty.mid")
    write_midi(folder / "e_trio.mid", pitches=(72, 67, 60))
    return folder


@pytest.fixture
def song_folder(tmp_path):
    return songs(tmp_path / "songs")


def seen(adapter, pieces) -> list[torch.Tensor]:
    """The rolls ``adapter``'s model sees of prepared ``pieces`` (those it does not leave out)."""
    return [adapter.tensor_of(segment).to(torch.uint8) for segment in adapter.model_view(pieces)]


def expected_roll(pitches, steps_sounding, bars) -> torch.Tensor:
    roll = torch.zeros(4, 16 * bars, 37, dtype=torch.uint8)
    for track, pitch in enumerate(pitches):
        roll[track, :steps_sounding, pitch - 48] = 1
    return roll


def test_prepare_skips_bad_files_with_one_line_each(song_folder, capsys):
    files = source_files(str(song_folder), SUFFIXES)
    adapter = PianoRollAdapter(SETTINGS)
    pieces = prepare(adapter, files, quiet=True)
    # the trio is prepared (another model may take three parts), and left out by this one's view
    assert [Path(piece.name).name for piece in pieces] == ["a.mid", "b.mid", "e_trio.mid"]
    first, second = seen(adapter, pieces)
    assert torch.equal(first, expected_roll((72, 67, 60, 48), 16, bars=1))
    assert torch.equal(second, expected_roll((74, 69, 62, 50), 24, bars=2))
    assert "1 piece without exactly 4 parts" in adapter.fitted(pieces).fit_summary
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"skipped {song_folder / 'c_truncated.mid'}: not a readable MIDI file (EOFError)",
        f"skipped {song_folder / 'd_empty.mid'}: not a readable MIDI file (EOFError)",
        "skipped 2 of 5 files",
    ]


def test_prepare_reports_a_missing_file_like_a_bad_one(song_folder, capsys):
    files = [song_folder / "a.mid", song_folder / "gone.mid"]
    pieces = prepare(PianoRollAdapter(SETTINGS), files, quiet=True)
    assert [piece.name for piece in pieces] == [str(song_folder / "a.mid")]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"skipped {song_folder / 'gone.mid'}: ")
    assert lines[1:] == ["skipped 1 of 2 files"]


ABC_TUNES = """X:1
T:Low
M:4/4
L:1/4
K:C
C D E F|G4|

X:2
T:Too high
M:4/4
L:1/4
K:C
c'' d'' e'' f''|g''4|

X:3
T:Eighths
M:4/4
L:1/8
K:C
cdef gabc'|
"""


def test_prepare_keeps_the_tunes_of_a_collection_and_the_view_those_in_range(tmp_path, capsys):
    path = tmp_path / "tunes.abc"
    path.write_text(ABC_TUNES)
    adapter = PianoRollAdapter(TUNES)
    pieces = prepare(adapter, [path], quiet=True)
    assert [piece.name for piece in pieces] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    low = torch.zeros(1, 32, 25, dtype=torch.uint8)
    for first, last, pitch in [(0, 3, 60), (4, 7, 62), (8, 11, 64), (12, 15, 65), (16, 31, 67)]:
        low[0, first : last + 1, pitch - 60] = 1  # quarter notes of 4 steps, then a whole note
    eighths = torch.zeros(1, 16, 25, dtype=torch.uint8)
    for number, pitch in enumerate([72, 74, 76, 77, 79, 81, 83, 84]):
        eighths[0, 2 * number : 2 * number + 2, pitch - 60] = 1
    rolls = seen(adapter, pieces)  # tune 2 lies above the range
    assert len(rolls) == 2 and torch.equal(rolls[0], low) and torch.equal(rolls[1], eighths)
    assert "no notes in the pitch range 60-84" in adapter.fitted(pieces).fit_summary
    assert capsys.readouterr().err == ""


def test_prepare_skips_a_collection_without_usable_tunes(tmp_path, capsys):
    silent, good = tmp_path / "silent.abc", tmp_path / "good.abc"
    silent.write_text(
        ABC_TUNES.split("X:3")[0]
        .replace("C D E F|G4|", "z4|")
        .replace("c'' d'' e'' f''|g''4|", "z4|")
    )
    good.write_text("X:3" + ABC_TUNES.split("X:3")[1])
    pieces = prepare(PianoRollAdapter(TUNES), [good, silent], quiet=True)
    # a file holding one piece keeps its plain name
    assert [piece.name for piece in pieces] == [str(good)]
    (line, count) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"skipped {silent}: ") and "no notes" in line
    assert count == "skipped 1 of 2 files"


def test_prepare_without_usable_pieces_is_an_error(song_folder, private_cache):
    files = [song_folder / "c_truncated.mid", song_folder / "d_empty.mid"]
    with pytest.raises(MuseError, match="no usable pieces in 2 files"):
        prepare(PianoRollAdapter(SETTINGS), files, quiet=True)
    # nothing worth caching
    assert cache_dir() == private_cache and not list(private_cache.rglob("*.pt"))


def test_prepare_serves_the_second_call_from_the_cache(song_folder, capsys, private_cache):
    files = source_files(str(song_folder), SUFFIXES)
    adapter = PianoRollAdapter(SETTINGS)
    first = prepare(adapter, files, quiet=True)
    capsys.readouterr()
    (cached,) = (private_cache / "prepared").glob("midi-*.pt")
    assert cached.stat().st_size > 0
    assert not [path for path in cached.parent.iterdir() if path.suffix == ".tmp"]

    # Spoil a good file but keep its size and time stamp: only a cache hit still returns it intact.
    good = song_folder / "a.mid"
    status = good.stat()
    good.write_bytes(b"\0" * status.st_size)
    os.utime(good, ns=(status.st_atime_ns, status.st_mtime_ns))
    second = prepare(adapter, files, quiet=True)
    assert [piece.name for piece in second] == [piece.name for piece in first]
    assert all(torch.equal(a.tensor, b.tensor) for a, b in zip(first, second))
    assert capsys.readouterr().err == ""  # nothing was parsed, so nothing was skipped


def test_a_changed_file_is_prepared_again(song_folder, capsys):
    files = [song_folder / "a.mid", song_folder / "b.mid"]
    adapter = PianoRollAdapter(SETTINGS)
    assert len(prepare(adapter, files, quiet=True)) == 2
    write_midi(song_folder / "a.mid", pitches=(84, 79, 72, 60), seconds=1.0)
    # a new time stamp, whatever the clock's resolution
    os.utime(song_folder / "a.mid", ns=(0, 10**18))
    pieces = prepare(adapter, files, quiet=True)
    assert torch.equal(seen(adapter, pieces)[0], expected_roll((84, 79, 72, 60), 8, bars=1))


def test_other_settings_use_another_cache_file(song_folder, private_cache):
    files = [song_folder / "a.mid"]
    fine = prepare(PianoRollAdapter(SETTINGS), files, quiet=True)
    coarse = prepare(
        PianoRollAdapter(dataclasses.replace(SETTINGS, steps_per_beat=2)), files, quiet=True
    )
    assert (seen(PianoRollAdapter(SETTINGS), fine)[0].shape[1], coarse[0].info["steps"]) == (16, 8)
    assert len(list((private_cache / "prepared").glob("midi-*.pt"))) == 2


def test_training_only_settings_share_one_cache_file(song_folder, private_cache):
    """Tracks, pitch range, windows, transposition, key and GAN terms change what training draws
    from the note tables, not the tables: runs that differ only in them read one prepared file."""
    files = [song_folder / "a.mid"]
    trained_otherwise = dataclasses.replace(
        SETTINGS,
        pitch_low=36,
        track_mapping="merge",
        window_bars=2,
        transpose=0,
        common_key=True,
        gan=dataclasses.replace(SETTINGS.gan, rhythm_weight=2.0),
    )
    first = prepare(PianoRollAdapter(SETTINGS), files, quiet=True)
    second = prepare(PianoRollAdapter(trained_otherwise), files, quiet=True)
    assert len(list((private_cache / "prepared").glob("midi-*.pt"))) == 1
    assert torch.equal(first[0].tensor, second[0].tensor)


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSE_GAN_CACHE", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"


def test_a_damaged_cache_is_prepared_again(song_folder, capsys, private_cache):
    files = [song_folder / "a.mid", song_folder / "b.mid"]
    adapter = PianoRollAdapter(SETTINGS)
    # not views of what is spoilt next
    first = [piece.tensor.clone() for piece in prepare(adapter, files, quiet=True)]
    (cached,) = (private_cache / "prepared").glob("midi-*.pt")
    cached.write_bytes(cached.read_bytes()[:100])  # cut short
    second = prepare(adapter, files, quiet=True)
    assert capsys.readouterr().err.splitlines() == [
        f"preparing again: {cached} cannot be read (RuntimeError)"
    ]
    assert all(torch.equal(roll, piece.tensor) for roll, piece in zip(first, second))
    # and the cache is whole again
    assert seen(adapter, prepare(adapter, files, quiet=True))[1].shape == (4, 32, 37)
    assert capsys.readouterr().err == ""


def test_a_cache_damaged_inside_its_pieces_is_found_by_its_checksum(
    song_folder, capsys, private_cache
):
    """Issue 25, case 3: bytes flipped in the middle of a cache's pieces gave rolls with values
    up to 91, and training went on with them."""
    files = [song_folder / "a.mid", song_folder / "b.mid"]
    adapter = PianoRollAdapter(SETTINGS)
    first = [piece.tensor.clone() for piece in prepare(adapter, files, quiet=True)]
    (cached,) = (private_cache / "prepared").glob("midi-*.pt")
    data = bytearray(cached.read_bytes())
    payload = torch.cat([roll.flatten() for roll in first]).numpy().tobytes()
    start = data.find(payload) + len(payload) // 4  # stored as written, uncompressed
    for at in range(start, start + min(2000, len(payload) // 2)):
        data[at] ^= 0x5B
    cached.write_bytes(bytes(data))
    second = prepare(adapter, files, quiet=True)
    assert capsys.readouterr().err.splitlines() == [
        f"preparing again: {cached} cannot be read (its checksum does not match: the file is damaged)"
    ]
    assert all(torch.equal(roll, piece.tensor) for roll, piece in zip(first, second))


@pytest.mark.skipif(
    not Path("/proc/self/maps").exists(), reason="reads Linux's list of mapped files"
)
def test_cached_pieces_are_views_into_the_mapped_cache_file(song_folder, private_cache):
    files = [song_folder / "a.mid", song_folder / "b.mid"]
    for pieces in (
        prepare(PianoRollAdapter(SETTINGS), files, quiet=True),
        prepare(PianoRollAdapter(SETTINGS), files),
    ):
        (cached,) = (private_cache / "prepared").glob("midi-*.pt")
        assert str(cached) in Path("/proc/self/maps").read_text()
        # one storage for all
        assert len({piece.tensor.untyped_storage().data_ptr() for piece in pieces}) == 1


@pytest.mark.parametrize("modality", ["midi", "image", "audio", "text"])
def test_every_adapter_can_be_sent_to_a_worker_process(modality):
    adapter = build_adapter(load_config(None, [f'data.modality="{modality}"']))
    copy = pickle.loads(pickle.dumps(adapter))  # what a spawned worker receives
    assert type(copy) is type(adapter) and copy.to_dict() == adapter.to_dict()


def test_workers_start_only_when_the_files_left_would_take_longer_here():
    assert not workers_pay(elapsed=0.5, done=10, left=10_000, workers=8)  # too early to tell
    # 1 s more here: not worth a start
    assert not workers_pay(elapsed=1.0, done=1000, left=1000, workers=8)
    # 18 s here, 9 s in two workers + their start
    assert workers_pay(elapsed=1.0, done=20, left=360, workers=2)
    assert not workers_pay(elapsed=1.0, done=20, left=360, workers=1)


def test_a_negative_number_of_workers_is_refused(song_folder):
    with pytest.raises(MuseError, match="data.workers = -1: give 0"):
        prepare(PianoRollAdapter(SETTINGS), [song_folder / "a.mid"], workers=-1)


# split


def pieces_named(*names) -> list[Piece]:
    return [Piece(name, torch.zeros(1, 16, 4, dtype=torch.uint8)) for name in names]


def part_of(parts: dict, name: str) -> str:
    (part,) = [
        part for part, pieces in parts.items() if any(piece.name == name for piece in pieces)
    ]
    return part


def test_split_depends_on_the_file_name_alone():
    names = [f"chorale{number:03d}.mid" for number in range(200)]
    everything = split(pieces_named(*names), 0.2, 0.1)
    reordered = split(pieces_named(*reversed(names[:50])), 0.2, 0.1)
    elsewhere = split(pieces_named(*[f"/other/folder/{name}" for name in names[:50]]), 0.2, 0.1)
    for name in names[:50]:
        assert part_of(reordered, name) == part_of(everything, name)
        assert part_of(elsewhere, f"/other/folder/{name}") == part_of(everything, name)


def test_split_keeps_the_pieces_of_one_file_together():
    names = [f"tunes{number}.abc#{tune}" for number in range(40) for tune in (1, 2, 3)]
    parts = split(pieces_named(*names), 0.3, 0.3)
    for number in range(40):
        assert len({part_of(parts, f"tunes{number}.abc#{tune}") for tune in (1, 2, 3)}) == 1


def test_split_by_piece_spreads_the_tunes_of_one_book_over_the_parts():
    names = [f"/corpus/book{number}.abc#{tune}" for number in (1, 2) for tune in range(1, 301)]
    parts = split(pieces_named(*names), 0.2, 0.1, by="piece")
    for number in (1, 2):
        sizes = {
            part: sum(f"book{number}." in piece.name for piece in parts[part]) for part in parts
        }
        assert 15 <= sizes["test"] <= 50 and 40 <= sizes["valid"] <= 85, sizes
    elsewhere = split(
        pieces_named(*[name.replace("/corpus", "/x") for name in names]), 0.2, 0.1, by="piece"
    )
    for part in parts:  # still the name alone decides
        assert [Path(p.name).name for p in elsewhere[part]] == [
            Path(p.name).name for p in parts[part]
        ]
    whole = split(pieces_named(*names), 0.2, 0.1)  # by file: each book in one part
    assert sum(bool(pieces) for pieces in whole.values()) <= 2


def test_split_by_names_what_it_knows():
    assert load_config(None, ['data.split_by="piece"']).data.split_by == "piece"
    with pytest.raises(ConfigError, match="data.split_by: 'tune' is not one of 'file', 'piece'"):
        check_config(load_config(None, ['data.split_by="tune"']))


def test_split_is_not_fooled_by_a_sharp_in_the_folder_name():
    names = [f"{number}.mid" for number in range(200)]
    plain = split(pieces_named(*[f"/music/plain/{name}" for name in names]), 0.2, 0.1)
    sharp = split(pieces_named(*[f"/music/F# minor/{name}" for name in names]), 0.2, 0.1)
    for part in ("train", "valid", "test"):
        assert [Path(piece.name).name for piece in sharp[part]] == [
            Path(piece.name).name for piece in plain[part]
        ]
    assert all(sharp[part] for part in ("train", "valid", "test"))


def test_split_sizes_follow_the_fractions():
    parts = split(pieces_named(*[f"{number}.mid" for number in range(2000)]), 0.2, 0.1)
    assert sum(len(pieces) for pieces in parts.values()) == 2000
    assert 100 <= len(parts["test"]) <= 300
    assert 300 <= len(parts["valid"]) <= 500


def test_split_without_held_out_fractions_trains_on_everything():
    pieces = pieces_named("a.mid", "b.mid", "c.mid")
    assert split(pieces, 0.0, 0.0) == {"train": pieces, "valid": [], "test": []}


def test_split_always_keeps_a_train_piece():
    pieces = pieces_named("only.mid")
    parts = split(pieces, 1.0, 0.0)
    assert parts["valid"] == pieces
    assert parts["train"] == pieces
    assert split(pieces, 0.0, 1.0)["train"] == pieces


# WindowSampler: bars of 4 steps, windows of 2 bars, 12 pitches


STEPS_PER_BAR, WINDOW = 4, 8


def random_piece(name, bars, seed, tracks=2, pitches=12, low=0, high=12) -> Piece:
    generator = torch.Generator().manual_seed(seed)
    roll = torch.zeros(tracks, bars * STEPS_PER_BAR, pitches, dtype=torch.uint8)
    roll[..., low:high] = (
        torch.rand(tracks, bars * STEPS_PER_BAR, high - low, generator=generator) < 0.3
    )
    return Piece(name, roll)


@pytest.fixture
def two_pieces():
    """Three bars (windows at steps 0 and 4) and one bar (padded with a silent bar: one window).

    Notes only on pitch indices 3-8, so every window can move 3 semitones either way."""
    return [
        random_piece("long.mid", bars=3, seed=1, low=3, high=9),
        random_piece("short.mid", bars=1, seed=2, low=3, high=9),
    ]


def expected_windows(pieces) -> list[torch.Tensor]:
    long, short = pieces[0].tensor, pieces[1].tensor
    padded = torch.cat([short, torch.zeros_like(short)], dim=1)
    return [long[:, 0:8].float(), long[:, 4:12].float(), padded.float()]


def sampler(pieces, transpose=0, seed=0) -> WindowSampler:
    """Windows moved by up to ``transpose`` semitones, as a MIDI training sampler moves them."""
    return WindowSampler(
        pieces, WINDOW, STEPS_PER_BAR, seed, Transposition(transpose, 12) if transpose else None
    )


def index_of(window, windows) -> int:
    (index,) = [
        number for number, candidate in enumerate(windows) if torch.equal(window, candidate)
    ]
    return index


def test_windows_have_the_grid_shape(two_pieces):
    windows = sampler(two_pieces)
    assert len(windows) == 3
    batch = windows.batch(5)[0]
    assert batch.shape == (5, 2, WINDOW, 12)
    assert batch.dtype == torch.float32


def test_untransposed_windows_are_slices_starting_on_bar_lines(two_pieces):
    expected = expected_windows(two_pieces)
    picked = {index_of(window, expected) for window in sampler(two_pieces).batch(64)[0]}
    assert picked == {0, 1, 2}  # every window is one of the three, and each turns up


def test_in_order_yields_every_window_once(two_pieces):
    # in order: never transposed
    ordered = list(sampler(two_pieces, transpose=6).in_order(2))
    batches = [batch for batch, _labels, _spans in ordered]
    assert [len(batch) for batch in batches] == [2, 1]
    assert all(torch.equal(a, b) for a, b in zip(torch.cat(batches), expected_windows(two_pieces)))
    # where each window lies in its piece: the long piece's bars 0-1 and 1-2, whole; the short
    # piece's one bar, the window's second bar padding
    assert torch.cat([spans for *_, spans in ordered]).tolist() == [
        [0, WINDOW],
        [STEPS_PER_BAR, WINDOW],
        [0, STEPS_PER_BAR],
    ]


def test_same_seed_same_batches(two_pieces):
    first, second, other = (
        sampler(two_pieces, 3, seed=7),
        sampler(two_pieces, 3, seed=7),
        sampler(two_pieces, 3, 8),
    )
    for _ in range(3):
        batch = first.batch(16)[0]
        assert torch.equal(batch, second.batch(16)[0])
    assert not torch.equal(sampler(two_pieces, 3, seed=7).batch(16)[0], other.batch(16)[0])


def test_restore_gives_the_same_next_batch(two_pieces):
    windows = sampler(two_pieces, transpose=3, seed=1)
    windows.batch(4)
    state = windows.state()
    expected = windows.batch(16)[0]
    windows.batch(16)
    windows.restore(state)
    assert torch.equal(windows.batch(16)[0], expected)
    fresh = sampler(two_pieces, transpose=3, seed=99)
    fresh.restore(state)
    assert torch.equal(fresh.batch(16)[0], expected)


def shift_of(window: torch.Tensor, original: torch.Tensor, limit: int) -> int:
    """The interval that moves ``original`` onto ``window`` with no note lost; fails if there is none."""
    pitches = window.shape[-1]
    for shift in range(-limit, limit + 1):
        moved = torch.zeros_like(original)
        moved[..., max(shift, 0) : pitches + min(shift, 0)] = original[
            ..., max(-shift, 0) : pitches - max(shift, 0)
        ]
        if torch.equal(moved, window) and moved.sum() == original.sum():
            return shift
    raise AssertionError("the window is not a transposition of its source")


def test_transposition_shifts_whole_windows_and_keeps_every_note(two_pieces):
    plain, shifted = (
        sampler(two_pieces, transpose=0, seed=3),
        sampler(two_pieces, transpose=3, seed=3),
    )
    # the same windows: picks are drawn first
    originals, moved = (
        plain.batch(64)[0],
        shifted.batch(64)[0],
    )
    shifts = [shift_of(window, original, 3) for window, original in zip(moved, originals)]
    for window, original in zip(moved, originals):
        assert window.sum() == original.sum()  # per window, counting cells
    assert set(shifts) == {-3, -2, -1, 0, 1, 2, 3}


def test_transposition_stays_inside_the_roll():
    # Notes only on pitch indices 8-9 of 12: up by at most 2, down by the full 3.
    piece = random_piece("high.mid", bars=2, seed=4, low=8, high=10)
    originals = sampler([piece]).batch(200)[0]
    moved = sampler([piece], transpose=3, seed=0).batch(200)[0]
    assert {shift_of(window, original, 3) for window, original in zip(moved, originals)} == {
        -3,
        -2,
        -1,
        0,
        1,
        2,
    }


def test_a_window_spanning_the_whole_range_is_never_transposed():
    piece = random_piece("wide.mid", bars=2, seed=5)
    piece.tensor[0, 0, 0] = piece.tensor[1, 7, 11] = 1  # lowest and highest pitch both sound
    ((original, *_),) = sampler([piece]).in_order(1)
    assert all(
        torch.equal(window, original[0]) for window in sampler([piece], transpose=5).batch(20)[0]
    )


# The data order: what an exact resume depends on. Each sampler owns its generator, so the same
# seed gives the same batches, its state brings a run back to the same next batch, and another
# seed gives other batches. (On the built-in corpora: tests/e2e/test_data.py.)


def draws(train, batches=3, size=16) -> list:
    """A few random batches, then the first batches in order, as (values, labels, spans)."""
    return [train.batch(size) for _ in range(batches)] + list(islice(train.in_order(size), 2))


def same_draws(first, second) -> bool:
    return all(
        all(a is b is None or torch.equal(a, b) for a, b in zip(one, other, strict=True))
        for one, other in zip(first, second, strict=True)
    )


def pictures(folder: Path, classes=("cats", "dogs"), each=3) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in classes:
        (folder / label).mkdir(parents=True)
        for number in range(each):
            Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8), "L").save(
                folder / label / f"{number}.png"
            )
    return folder


def quartets(folder: Path, count=4) -> Path:
    for number in range(count):
        write_quartet(folder / f"{number}.mid", shift=number, bars=3)
    return folder


def tunes(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "tunes.abc").write_text(
        "".join(
            f"X:{number}\nM:4/4\nL:1/8\nK:G\n" + "GABc dedB|" * (number + 4) + "\n\n"
            for number in range(1, 7)
        )
    )
    return folder


# each modality's training sampler: MIDI windows transposed, pictures flipped and turned with labels
VARIED = {
    "midi": (quartets, ["midi.window_bars=1", "midi.transpose=3"]),
    "image": (
        pictures,
        [
            'data.modality="image"',
            "image.size=16",
            "image.labels=true",
            "image.flip=true",
            "image.rotate=10.0",
        ],
    ),
}
SAMPLED = VARIED | {
    "text": (tunes, ['data.modality="text"', 'text.vocabulary="abc"', "text.window=16"])
}


@pytest.fixture(params=list(SAMPLED))
def prepared(request, tmp_path):
    make, overrides = SAMPLED[request.param]
    config = load_config(None, overrides + [f'data.source="{make(tmp_path / "data")}"'])
    adapter = build_adapter(config)
    pieces = prepare(adapter, source_files(config.data.source, adapter.suffixes), quiet=True)
    return adapter.fitted(pieces), split(pieces, 0.0, 0.0)


def test_the_same_seed_gives_the_same_batches_and_another_seed_others(prepared):
    adapter, parts = prepared
    first, second = (samplers(adapter, parts, seed=3)[0] for _ in range(2))
    assert same_draws(draws(first), draws(second))
    other = samplers(adapter, parts, seed=4)[0]
    assert not torch.equal(samplers(adapter, parts, seed=3)[0].batch(16)[0], other.batch(16)[0])


def test_a_restored_sampler_gives_the_batches_it_would_have_given(prepared):
    adapter, parts = prepared
    train = samplers(adapter, parts, seed=3)[0]
    train.batch(16)
    state = train.state()
    expected = draws(train)
    # a resumed run's sampler: its own seed no longer matters
    resumed = samplers(adapter, parts, seed=99)[0]
    resumed.restore(state)
    assert same_draws(draws(resumed), expected)


@pytest.mark.parametrize("prepared", list(VARIED), indirect=True)
def test_training_batches_are_varied_and_validation_batches_are_not(prepared):
    adapter, parts = prepared
    train, valid = samplers(adapter, parts | {"valid": parts["train"]}, seed=3)
    batch, labels, _spans = train.batch(64)
    assert batch.shape[1:] == (adapter.spec.channels, adapter.spec.segment, adapter.spec.width)
    assert batch.dtype == torch.float32 and 0 <= batch.min() and batch.max() <= 1
    assert (labels is None) == (not adapter.classes)
    if labels is not None:
        assert set(labels.tolist()) == set(range(len(adapter.classes)))
    unvaried = torch.cat([values for values, *_ in valid.in_order(7)])
    assert len(unvaried) == len(valid) == len(train)
    # validation: every window (or picture) once, as prepared; training: some were moved
    assert torch.equal(unvaried, torch.cat([values for values, *_ in train.in_order(5)]))
    assert not all(any(torch.equal(window, plain) for plain in unvaried) for window in batch)


def test_without_class_balance_every_item_is_as_likely_as_before_it_existed(prepared):
    # the draws of runs trained before train.class_balance (and resumed since) are unchanged
    adapter, parts = prepared
    train = samplers(adapter, parts, seed=3, class_balance=0.0)[0]
    assert train.classes is None
    old = torch.randint(len(train), (64,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(train.picks(64), old)


def test_a_run_draws_its_classes_as_train_class_balance_says(tmp_path):
    from muse_gan.training import build_trainer

    rare = pictures(tmp_path / "data", ("many",), each=18)
    pictures(tmp_path / "data", ("few",), each=2)
    overrides = VARIED["image"][1] + [f'data.source="{rare}"', "data.valid_fraction=0"]
    for balance, share in ((0.0, 0.1), (1.0, 0.5)):
        config = load_config(None, overrides + [f"train.class_balance={balance}"])
        trainer = build_trainer(config, tmp_path / f"run{balance}")
        few = trainer.adapter.classes.index("few")
        drawn = torch.cat([trainer.train_windows.batch(100)[1] for _ in range(20)])
        assert abs(float((drawn == few).double().mean()) - share) < 0.03, balance


def test_without_validation_pieces_there_is_no_validation_sampler(prepared):
    adapter, parts = prepared
    train, valid = samplers(adapter, parts, seed=0)
    assert valid is None and len(train) > 0


def test_item_sampler_gives_labels_by_class_index(tmp_path):
    images = build_adapter(
        load_config(None, ['data.modality="image"', "image.size=16", "image.labels=true"])
    )
    pieces = prepare(
        images,
        source_files(str(pictures(tmp_path / "data", ("b", "a"), each=2)), images.suffixes),
        quiet=True,
    )
    images = images.fitted(pieces)
    sampler = ItemSampler(pieces, images, seed=0)
    values, labels, _spans = next(sampler.in_order(8))
    assert images.classes == ("a", "b")  # in order of name, not of reading
    assert [images.classes[label] for label in labels.tolist()] == [piece.label for piece in pieces]
    assert torch.equal(values, torch.stack([images.values(piece.tensor) for piece in pieces]))
