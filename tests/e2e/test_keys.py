"""Moving pieces to a common key (``midi.common_key``) on real chorales, and models trained in
one key: compose's primer, the held-out likelihood and interpolate's clips."""

import pretty_midi
import torch

from muse_gan.api import load
from muse_gan.assembly import load_config
from muse_gan.core.store import load_pieces, split
from muse_gan.evaluation import likelihood
from muse_gan.modalities import build_adapter
from muse_gan.modalities.midi.keys import shift_pitches
from muse_gan.training import samplers, train

from ..conftest import TINY, prepared, write_quartet
from ..unit.test_keys import C_MAJOR, LOW, PITCHES


def test_training_windows_of_real_chorales_are_in_c_major_or_a_minor():
    # the tiny runs' chorales (data.limit=8), prepared once for the whole session
    settings = ["data.limit=8", "midi.window_bars=2", "midi.transpose=0"]
    white_keys = torch.zeros(12)
    white_keys[list(C_MAJOR)] = 1
    shares, counts = [], []
    for common_key in ("false", "true"):
        config = load_config(None, settings + [f"midi.common_key={common_key}"])
        adapter = build_adapter(config)
        pieces = load_pieces(adapter, config.data.source, config.data.limit, quiet=True)
        sampler, _ = samplers(adapter, split(pieces, 0.0, 0.0), seed=0)
        windows = torch.cat([batch for batch, *_ in sampler.in_order(64)])
        by_class = torch.zeros(12).index_add_(
            0, (LOW + torch.arange(PITCHES)) % 12, windows.sum(dim=(0, 1, 2))
        )
        shares.append(float(by_class @ white_keys / by_class.sum()))
        counts.append(len(sampler))
    # as written the chorales are in many keys; moved, nearly all white keys
    assert shares[1] > 0.9 > shares[0]
    assert counts[0] == counts[1]


def test_a_common_key_model_moves_the_primer_there_and_the_piece_back(tmp_path):
    """The same melody in C and in D: the model is given the same notes both times, so the
    accompaniments are the same up to the transposition, and each melody comes back as given."""
    settings = TINY + [
        'model.family="gan"',
        "model.channels=4",
        "model.latent=4",
        "gan.critic_steps=1",
        "gan.condition_track=0",
        "midi.common_key=true",
        "midi.transpose=0",
    ]
    train(load_config(None, settings), tmp_path / "run", quiet=True)
    model = load(tmp_path / "run")
    rolls = {}
    for name, shift in (("c", 0), ("d", 2)):
        melody = pretty_midi.PrettyMIDI(initial_tempo=100)
        voice = pretty_midi.Instrument(0, name="melody")
        voice.notes = [
            pretty_midi.Note(90, 72 + shift + step, 0.6 * index, 0.6 * (index + 1))
            for index, step in enumerate([0, 2, 4, 5, 7, 5, 4, 2])
        ]
        melody.instruments.append(voice)
        rolls[name] = model.compose(
            bars=2, seed=3, primer=melody, decode="bernoulli"
        ).roll  # notes from a tiny model
        given = model.adapter.roll(melody)[0]
        assert torch.equal(rolls[name][0, : given.shape[0]], given)  # the melody, in its own key
    inner = slice(2, PITCHES - 2)  # a note at the very edge may drop out when moved back
    assert torch.equal(rolls["d"][1:, :, inner], shift_pitches(rolls["c"][1:], 2)[:, :, inner])
    assert rolls["c"][1:].any()


def test_a_common_key_model_scores_a_piece_in_any_key_alike(tmp_path):
    """Held-out likelihood is taken as the model was trained: in C major / A minor."""
    train(
        load_config(None, TINY + ["midi.common_key=true", "midi.transpose=0"]),
        tmp_path / "run",
        quiet=True,
    )
    model = load(tmp_path / "run")
    scores = []
    for shift in (0, 1, 2):  # G, A flat and A major: each moves up to the same notes in C major
        piece = model.adapter.read(
            write_quartet(tmp_path / f"quartet{shift}.mid", shift=shift, bars=2)
        )[0]
        scores.append(likelihood(model, [prepared(model.adapter, piece, "quartet")])["value"])
    assert scores[0] == scores[1] == scores[2]


def test_a_common_key_vae_interpolates_between_clips_in_their_own_keys(tmp_path):
    """The same quartet in G and in A: the model is given the same notes at both ends, so the
    end clips are one reconstruction, each moved back to its clip's key."""
    settings = TINY + [
        'model.family="vae"',
        "model.latent=8",
        "midi.window_bars=1",
        "midi.common_key=true",
        "midi.transpose=0",
        "train.steps=30",
        "train.lr=0.01",
        # validated once, at the end: a VAE's validation decodes pitch by pitch, seconds each time
        "train.eval_every=30",
        "train.checkpoint_every=30",
        "train.sample_every=0",
    ]
    train(load_config(None, settings), tmp_path / "run", quiet=True)
    model = load(tmp_path / "run")
    in_g, in_a = (write_quartet(tmp_path / f"quartet{shift}.mid", shift=shift) for shift in (0, 2))
    pieces = model.interpolate(in_g, in_a, steps=3)
    rolls = [piece.roll for piece in pieces]
    inner = slice(2, PITCHES - 2)  # a note at the very edge may drop out when moved back
    assert torch.equal(rolls[-1][:, :, inner], shift_pitches(rolls[0], 2)[:, :, inner])
    assert rolls[0].any()
