"""Every reader fuzzed: MIDI, MusicXML/ABC, audio, images, text, configs and checkpoints get
random bytes, mutated copies of small valid files and named edge cases (see fuzz_inputs.py).
Each input must end as a clean per-file skip, one clear error, or a usable item: never another
exception, a hang or a crash. Derandomized, so every run tries the same inputs."""

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..fuzz_inputs import (
    AWKWARD,
    OPS,
    READERS,
    USABLE_EDGE_CASES,
    attempt,
    mutate,
    suffix_of,
)

EXAMPLES = {
    "midi": 60,
    "score": 25,
    "audio": 40,
    "image": 60,
    "text": 60,
    "config": 60,
    "checkpoint": 40,
}

EDITS = st.lists(
    st.tuples(
        st.sampled_from(OPS),
        st.integers(0, 1 << 16),
        st.binary(max_size=8) | st.sampled_from(AWKWARD),
    ),
    min_size=1,
    max_size=4,
)


def inputs(reader, seeds: dict[str, bytes]):
    """(seed name, bytes): random bytes, a seed mutated by a few edits, or (configs and
    checkpoints) a seed with one of its values replaced (a setting, a header's value)."""
    names = st.sampled_from(sorted(seeds))
    random = st.tuples(names, st.binary(max_size=2048))
    mutated = st.builds(lambda name, edits: (name, mutate(seeds[name], edits)), names, EDITS)
    if reader.revalue is None:
        return random | mutated
    revalued = st.builds(
        lambda name, place, value: (name, reader.revalue(seeds[name], place, value)),
        names,
        st.integers(0, 500),
        st.integers(0, 100),
    )
    return random | mutated | revalued


@pytest.mark.parametrize("name", READERS)
def test_random_and_mutated_inputs_end_cleanly(name, tmp_path):
    reader = READERS[name]
    seeds = reader.seeds()

    @settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(reader, seeds))
    def check(example):
        seed, data = example
        assert attempt(reader, data, tmp_path, suffix_of(reader, seed)) in ("ok", reader.refusal)

    check()


@functools.cache
def edge_cases(name: str) -> dict[str, bytes]:
    return READERS[
        name
    ].edge_cases()  # made once: some take a while (a 100 MB zip bomb, model files)


@pytest.mark.parametrize(
    "name, case", [(name, case) for name in READERS for case in edge_cases(name)]
)
def test_edge_cases_end_as_expected(name, case, tmp_path):
    reader = READERS[name]
    expected = "ok" if case in USABLE_EDGE_CASES else reader.refusal
    assert attempt(reader, edge_cases(name)[case], tmp_path, suffix_of(reader, case)) == expected


@pytest.mark.parametrize("name", READERS)
def test_the_seeds_are_usable(name, tmp_path):
    """Else the mutations would start from files the reader refuses anyway."""
    reader = READERS[name]
    for seed, data in reader.seeds().items():
        assert attempt(reader, data, tmp_path, suffix_of(reader, seed)) == "ok", seed
