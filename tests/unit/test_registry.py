"""Tests for muse_gan.registry: register, get, names, duplicates and unknown names."""

import pytest

from muse_gan.errors import ConfigError
from muse_gan.registry import Registry


def make_registry() -> Registry:
    shapes = Registry("shape")

    @shapes.register("square")
    class Square:
        pass

    @shapes.register("circle")
    def circle():
        return "round"

    return shapes


def test_register_returns_the_entry_unchanged():
    shapes = Registry("shape")

    class Square:
        pass

    assert shapes.register("square")(Square) is Square
    assert shapes.get("square") is Square


def test_get_finds_each_entry_by_name():
    shapes = make_registry()
    assert shapes.get("square").__name__ == "Square"
    assert shapes.get("circle")() == "round"


def test_names_are_sorted():
    assert make_registry().names() == ["circle", "square"]
    assert Registry("empty").names() == []


def test_duplicate_name_is_refused_and_keeps_the_first():
    shapes = make_registry()
    first = shapes.get("square")
    with pytest.raises(ValueError, match="shape 'square' is registered twice"):
        shapes.register("square")(object)
    assert shapes.get("square") is first


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        make_registry().get("triangle")
    assert str(caught.value) == "unknown shape 'triangle' (known: circle, square)"


def test_registries_are_independent():
    shapes, colours = make_registry(), Registry("colour")
    colours.register("square")(str)  # the same name in another registry is fine
    assert colours.get("square") is str
    assert shapes.get("square") is not str


def test_the_package_registries_hold_their_built_ins():
    from muse_gan.core.config import SECTIONS
    from muse_gan.modalities import ADAPTERS
    from muse_gan.modalities.audio import AudioAdapter
    from muse_gan.modalities.image import ImageAdapter
    from muse_gan.modalities.midi import PianoRollAdapter
    from muse_gan.modalities.text import TextAdapter
    from muse_gan.models.heads import HEADS, BernoulliHead, PitchwiseHead, VoicewiseHead
    from muse_gan.objectives import OBJECTIVES

    assert ADAPTERS.get("midi") is PianoRollAdapter
    assert (ADAPTERS.get("image"), ADAPTERS.get("audio"), ADAPTERS.get("text")) == (
        ImageAdapter,
        AudioAdapter,
        TextAdapter,
    )
    assert OBJECTIVES.names() == ["coconet", "gan", "rnn", "vae"]
    # each modality and family registers its own config section when its package is imported
    assert set(SECTIONS.names()) == {"midi", "image", "audio", "text", "gan", "vae"}
    assert {"bernoulli", "pitchwise", "voicewise"} <= set(HEADS.names())
    assert (HEADS.get("bernoulli"), HEADS.get("pitchwise"), HEADS.get("voicewise")) == (
        BernoulliHead,
        PitchwiseHead,
        VoicewiseHead,
    )
    with pytest.raises(
        ConfigError, match="unknown head 'sparsemax' \\(known: .*bernoulli, .*pitchwise"
    ):
        HEADS.get("sparsemax")
