"""MIDI and notated scores as multi-track piano rolls: reading (``scores`` for MusicXML/ABC),
the roll encoding (``adapter``), keys and transposition (``keys``), rendering to sound
(``render``) and pictures (``png``), metrics (``metrics``) and their judge (``judge``), and the
terms piano rolls add to a GAN's training (``gan_terms``)."""

from .adapter import PianoRollAdapter, Piece
from .settings import MidiConfig

__all__ = ["MidiConfig", "PianoRollAdapter", "Piece"]
