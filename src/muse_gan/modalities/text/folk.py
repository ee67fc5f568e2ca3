"""The built-in text: the ABC folk tunes in music21's corpus (essenFolksong, oneills1850,
ryansMammoth, nottingham-dataset: about 12,000 tunes), read where they are installed. The MIDI
modality reads the same files as scores (``data.source = "folk"`` there)."""

from __future__ import annotations

from ..midi.scores import FOLK_COLLECTIONS, folk_tunes

__all__ = ["FOLK_COLLECTIONS", "folk_tunes"]
