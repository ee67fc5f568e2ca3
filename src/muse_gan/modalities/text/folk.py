"""The built-in text: the ABC folk tunes in music21's corpus (essenFolksong, oneills1850,
ryansMammoth, nottingham-dataset: about 12,000 tunes), read where they are installed."""

from __future__ import annotations

from pathlib import Path

from ..midi.scores import music21_corpus

FOLK_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "nottingham-dataset")


def folk_tunes() -> list[Path]:
    """The ABC files of music21's folk collections, by collection and then name (no parsing)."""
    corpus = music21_corpus()
    return [
        path
        for collection in FOLK_COLLECTIONS
        for path in sorted((corpus / collection).rglob("*.abc"))
    ]
