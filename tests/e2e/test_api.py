"""The library face where it takes seconds: the bundled sound model's notes measured by pYIN
(librosa's import and first compilation alone take seconds); tests/unit/test_api.py has the rest."""

import muse_gan
from muse_gan.pretrained import bundled_path


def test_the_bundled_sound_model_is_small_and_sounds_the_pitch_asked_for():
    from muse_gan.modalities.audio.pitch import note_pitch

    assert bundled_path("notes-gan").stat().st_size <= 10 * 2**20
    model = muse_gan.load("notes-gan")
    sound = model.sample(1, seed=0, label="60")[0]
    assert abs(note_pitch(sound, model.adapter.settings.sample_rate) - 60) <= 1
