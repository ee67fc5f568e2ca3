"""Text (ABC tunes, lyrics, poems) as token sequences, for the text modality.

Items are strings, one per piece: an ABC tune (from its ``X:`` header to the next), or a
stretch of text between blank lines. The prepared cache keeps each piece's UTF-8 bytes; the
vocabulary is built from the training data (``fitted``) and kept in every checkpoint. Token ids:
0 pads, 1 stands for anything outside the vocabulary, 2 ends a piece, then the tokens in sorted
order. Models see one-hot frames ``(1, steps, vocabulary)``: a categorical data kind.

Two vocabularies (``text.vocabulary``): "char", every character a token; and "abc", tokens of
ABC notation in the manner of folk-rnn: a note with its accidentals and octave marks, a
duration, a bar line or repeat sign, a whole ``M:``/``L:``/``K:`` header line; other characters
one by one. Of ABC tunes only the headers that matter for the music are kept (``X:``, ``M:``,
``L:``, ``K:``), so titles and transcribers' notes don't take up the model.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import torch

from ...core.adapter import Adapter, Tokens, pop_names, settings_from
from ...core.spec import Spec
from ...errors import ConfigError, DataError, MuseError
from ..midi.adapter import PianoRollAdapter
from ..midi.render import SAMPLE_RATE, render, wav_bytes
from ..midi.scores import abc_to_midi
from ..midi.settings import MidiConfig
from ..registry import ADAPTERS
from .folk import folk_tunes
from .pieces import music_only, numbered, split_pieces, text_of
from .settings import TextConfig

TEXT_SUFFIXES = (".txt", ".abc")
MUSIC_FORMATS = (".mid", ".wav", ".png")  # an ABC tune played
PAD, UNKNOWN, END = "<pad>", "<unk>", "<end>"
RESERVED = (PAD, UNKNOWN, END)
VOCABULARIES = ("char", "abc")
ABC_TOKEN = re.compile(
    r"""
    [MLK]:[^\n]*\n                      # a meter, unit length or key line, whole
  | \|\]|\|\||\[\||\|:|:\||::|\|[12]?   # bar lines and repeats
  | \[[12]                              # first and second endings
  | [\^=_]*[A-Ga-gz][,']*               # a note or rest with accidentals and octave marks
  | \d+/\d+|\d+|/+\d*                   # durations
  | .|\n                                # anything else, one character
""",
    re.VERBOSE,
)


@ADAPTERS.register("text")
class TextAdapter(Adapter, Tokens):
    modality = "text"
    settings_class = TextConfig
    item_name = "piece"
    suffixes = TEXT_SUFFIXES
    formats = (".abc", ".txt") + MUSIC_FORMATS
    # one tune per file: a tune that is not valid ABC is skipped
    single_item_formats = MUSIC_FORMATS
    preview_count = 4
    evaluation_count = 100
    frame_name = "tokens"

    def __init__(
        self, settings: TextConfig = TextConfig(), vocabulary: tuple[str, ...] = (), start: str = ""
    ):
        _check(settings)
        super().__init__(settings)
        # the first line every training piece has (ABC: "X:1"): sampling starts there too
        self.start = start
        self.vocabulary = RESERVED + tuple(token for token in vocabulary if token not in RESERVED)
        self.ids = {token: number for number, token in enumerate(self.vocabulary)}

    @property
    def corpora(self) -> dict:
        return {"folk": folk_tunes}

    @property
    def spec(self) -> Spec:
        return Spec(
            "categorical",
            channels=1,
            width=len(self.vocabulary),
            window=self.settings.window,
            channel_tracks=False,
        )

    @property
    def sample_formats(self) -> tuple[str, ...]:
        return (".abc",) if self.settings.vocabulary == "abc" else (".txt",)

    def to_dict(self) -> dict:
        return super().to_dict() | {
            "tokens": list(self.vocabulary[len(RESERVED) :]),
            "start": self.start,
        }

    @classmethod
    def from_dict(cls, values: dict, where: str = "checkpoint") -> TextAdapter:
        values = dict(values)
        tokens, start = pop_names(values, "tokens", where), values.pop("start", "")
        if not isinstance(start, str):
            raise ConfigError(f"{where}: start must be a string")
        return cls(settings_from(cls, values, where), tokens, start)

    def fitted(self, pieces) -> TextAdapter:
        """This adapter with the vocabulary of ``pieces``' texts, at most ``text.max_vocabulary``
        tokens (the most frequent; the rest read as the unknown token), and the first line
        they all share, if any: sampling starts with it, as a piece does."""
        counts: dict[str, int] = {}
        first_lines = set()
        for piece in pieces:
            text = text_of(piece.tensor)
            first_lines.add(text.partition("\n")[0] + "\n" if "\n" in text else None)
            for token in self.tokens(text):
                counts[token] = counts.get(token, 0) + 1
        kept = sorted(counts, key=lambda token: (-counts[token], token))[
            : self.settings.max_vocabulary - len(RESERVED)
        ]
        start = first_lines.pop() if len(first_lines) == 1 else None
        return TextAdapter(self.settings, tuple(sorted(kept)), start or "")

    # files → items

    def read(self, path: str | Path) -> list[str]:
        """The pieces in a text file: ABC tunes by their ``X:`` headers, else stretches between
        blank lines. Binary files, invalid UTF-8 and empty files are refused."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
        if b"\x00" in data[:8192]:
            raise DataError(f"{path}: a binary file, not text")
        try:
            text = data.decode("utf-8-sig").replace("\r\n", "\n")
        except UnicodeDecodeError as error:
            raise DataError(f"{path}: not UTF-8 text (byte {error.start})") from None
        abc = path.suffix.lower() == ".abc" or bool(re.search(r"^X:", text, re.MULTILINE))
        pieces = split_pieces(text, abc)
        if abc:
            pieces = [music_only(piece) for piece in pieces]
        pieces = [piece for piece in pieces if piece.strip()]
        if not pieces:
            raise DataError(f"{path}: empty")
        return pieces

    # items ⇄ tensors

    def encode(self, text: str) -> torch.Tensor:
        """The piece's UTF-8 bytes, ``uint8`` ``(bytes,)``: the cache keeps text, not token ids,
        so one cache serves every vocabulary."""
        data = text.encode("utf-8")
        if not data:
            raise DataError("empty")
        return torch.frombuffer(bytearray(data), dtype=torch.uint8)

    def tokens(self, text: str) -> list[str]:
        if self.settings.vocabulary == "char":
            return list(text)
        return ABC_TOKEN.findall(text)

    def token_ids(self, text: str) -> torch.Tensor:
        """The piece's token ids, ending with the end token: ``(tokens + 1,)`` long."""
        ids = [self.ids.get(token, 1) for token in self.tokens(text)]
        return torch.tensor(ids + [self.ids[END]], dtype=torch.long)

    def one_hot(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids ``(..., steps)`` → the grid view ``(..., 1, steps, vocabulary)`` of floats."""
        return torch.nn.functional.one_hot(ids, len(self.vocabulary)).float().unsqueeze(-3)

    def primer_frames(self, text: str, steps: int) -> torch.Tensor:
        """``text`` as one-hot frames ``(1, tokens, vocabulary)``, with no end token: the piece goes on."""
        ids = self.token_ids(text)[:-1]
        if not 1 <= len(ids) < steps:
            raise MuseError(
                f"--primer: {len(ids)} tokens; it must be from 1 to --length - 1 ({steps - 1})"
            )
        return self.one_hot(ids)

    def token_grammar(self, primer: torch.Tensor | None, count: int, steps: int):
        """For ABC models, an ``AbcGrammar`` that keeps ``count`` tunes of ``steps`` tokens well
        formed as they are drawn after ``primer`` (one-hot frames ``(1, tokens, vocabulary)``,
        or None); None for character models and for primers that don't begin as the training
        tunes did (``start``)."""
        from .grammar import AbcGrammar

        start = self.token_ids(self.start)[:-1].tolist()
        given = [] if primer is None else primer[0].argmax(-1).tolist()
        shared = min(len(start), len(given))
        if self.settings.vocabulary != "abc" or not start or start[:shared] != given[:shared]:
            return None
        return AbcGrammar(self.vocabulary, start, given, count, steps)

    # training and measuring

    def sampler(self, pieces: list, seed: int, training: bool):
        """Windows of ``text.window`` tokens (see ``TokenSampler``)."""
        from .sampler import TokenSampler

        return TokenSampler(pieces, self, self.settings.window, seed)

    def likelihood(self, nats_per_frame: float, frames: int, pieces: list) -> dict:
        """Bits per character of text (the end of each piece counts as one character)."""
        characters = sum(len(text_of(piece.tensor)) + 1 for piece in pieces)
        return {
            "measure": "NLL",
            "unit": "bits per character",
            "value": nats_per_frame * frames / math.log(2) / characters,
            "pieces": len(pieces),
            "frames": characters,
            "frame_name": "characters",
        }

    def judge(self, options):
        from .judge import TextJudge

        return TextJudge(self, options)

    def values(self, stored: torch.Tensor) -> torch.Tensor:
        """A cached piece (UTF-8 bytes, with a leading batch axis of 1) → its one-hot grid view."""
        return self.one_hot(self.token_ids(text_of(stored[0])))[None]

    def decode(self, frames: torch.Tensor) -> str:
        """One-hot (or probability) frames ``(1, steps, vocabulary)`` → the text up to the end token."""
        pieces = []
        for number in frames[0].argmax(-1).tolist():
            token = self.vocabulary[number]
            if token == END:
                break
            pieces.append("" if token == PAD else "?" if token == UNKNOWN else token)
        return "".join(pieces)

    def file_bytes(self, items: torch.Tensor, suffix: str) -> bytes:
        """Samples ``(count, 1, steps, vocabulary)`` (or one) as a text file, pieces separated by
        a blank line (ABC tunes numbered ``X:1``, ``X:2``, ...); one ABC tune as music (.mid,
        .wav, .png: see ``tune_bytes``)."""
        items = items[None] if items.dim() == 3 else items
        suffix = suffix.lower()
        if suffix in MUSIC_FORMATS and len(items) == 1:
            return tune_bytes(self.decode(items[0]), suffix)
        if suffix not in (".txt", ".abc"):
            raise DataError(
                f"cannot write '{suffix}' files from a text model (known: .txt, .abc; "
                f"and one ABC tune per .mid, .wav or .png file)"
            )
        texts = [self.decode(item) for item in items]
        if self.settings.vocabulary == "abc":
            texts = [numbered(text, number) for number, text in enumerate(texts, 1)]
        return ("\n\n".join(text.strip("\n") for text in texts) + "\n").encode("utf-8")


def tune_bytes(tune: str, suffix: str) -> bytes:
    """An ABC tune as music: a MIDI file, its sound (see ``midi.render``) or its piano roll.
    Raises ``DataError`` when the tune is not valid ABC."""
    piece = abc_to_midi(tune)
    if suffix == ".wav":
        return wav_bytes(render(piece), SAMPLE_RATE)
    if suffix == ".png":
        rolls = PianoRollAdapter(
            MidiConfig(track_mapping="merge", track_names=("Tune",), pitch_low=21, pitch_high=108)
        )
        return rolls.file_bytes(rolls.roll(piece), ".png")
    out = io.BytesIO()
    piece.write(out)
    return out.getvalue()


def _check(settings: TextConfig) -> None:
    def fail(key, reason):
        raise ConfigError(f"text.{key}: {getattr(settings, key)!r} {reason}")

    if settings.vocabulary not in VOCABULARIES:
        fail("vocabulary", 'must be "char" or "abc"')
    if not 8 <= settings.window <= 8192 or settings.window % 8:
        fail("window", "must be a multiple of 8, from 8 to 8192 tokens")
    if not 4 <= settings.max_vocabulary <= 10_000:
        fail("max_vocabulary", "must be from 4 to 10000")
