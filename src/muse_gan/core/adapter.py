"""The Adapter protocol: what a modality gives the rest of the toolkit, and nothing more.

An adapter turns files into items (the objects users know: a ``pretty_midi.PrettyMIDI``, a PIL
image, a waveform, a string), items into the ``uint8`` tensors the prepared cache stores, those
into the float tensors models see, and model outputs back into items and files. It publishes
the ``Spec`` that models are sized from, and the facts about its modality that other layers
ask for (formats, evaluation counts, what a frame is called), so that nothing above it keeps a
table keyed by modality names.

Optional capabilities are declared by inheriting one of the small classes at the end
(``Augments``, ``Animates``, ``Composes``, ``Tokens``, ``PlugsTerms``) and asked for with
``isinstance``; what a capability's method needs that is true of one modality only (a tempo, a
key, a vocabulary) stays in that modality's own settings or result objects.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch

from ..errors import ConfigError
from .config import build
from .objective import DomainTerms
from .spec import Spec


class Adapter(ABC):
    """One modality: files ⇄ items ⇄ tensors. Subclasses set the class attributes and
    implement the abstract methods; ``settings`` is their config section's dataclass."""

    modality: ClassVar[str]  # its registry name and config section
    settings_class: ClassVar[type]  # the dataclass of that section
    item_name: ClassVar[str]  # what one item is called in messages: "piece", "image", "clip"
    suffixes: ClassVar[tuple[str, ...]]  # the files it reads
    formats: ClassVar[tuple[str, ...]]  # the files it writes; the first for stdout and folders
    single_item_formats: ClassVar[
        tuple[str, ...]
    ] = ()  # of those, the ones that hold one item per file
    sample_formats: ClassVar[tuple[str, ...]]  # a training run's sample files
    preview_count: ClassVar[int]  # items in a training run's samples, and `muse sample`'s default
    evaluation_count: ClassVar[int]  # items on each side in `muse eval`
    frame_name: ClassVar[str]  # one step of the time axis, in likelihood reports: "steps", "rows"
    # whether its pieces have bars that its training windows start on and say they lie in
    # (their spans): what model.bar_numbers counts
    has_bars: ClassVar[bool] = False

    classes: tuple[str, ...] = ()  # class names found in the data; empty for unlabelled data
    fit_summary: str = ""  # what ``fitted`` learnt from the data, in one line for the training log

    def __init__(self, settings):
        self.settings = settings

    # what models are built from

    @property
    @abstractmethod
    def spec(self) -> Spec:
        """The tensor sizes and data kind."""

    # files → items → stored tensors

    @property
    def corpora(self) -> dict[str, Callable[[], list[Path]]]:
        """Built-in data: name → a function listing its files (the first is ``builtin``)."""
        return {}

    @abstractmethod
    def read(self, path: str | Path) -> list:
        """The items in one file (a collection can hold several); ``DataError`` naming the file
        and the reason when it cannot be used."""

    @abstractmethod
    def encode(self, item) -> torch.Tensor:
        """One item as the ``uint8`` tensor the prepared cache stores; ``DataError`` when unusable."""

    def values(self, stored: torch.Tensor) -> torch.Tensor:
        """Stored ``uint8`` tensors (with a leading batch axis) → the floats models see."""
        return stored.float()

    def tensor_of(self, piece) -> torch.Tensor:
        """A whole prepared piece (one of ``model_view``'s) as the float grid view models see."""
        return self.values(piece.tensor[None])[0]

    def label_of(self, path: Path) -> str:
        """The class of a file; "" for unlabelled data."""
        return ""

    def piece_info(self, item) -> dict:
        """What to note about an item besides its tensor, kept with it in the cache (JSON)."""
        return {}

    def fitted(self, pieces) -> Adapter:
        """This adapter with what only the data can say (class names, a vocabulary)."""
        return self

    def without_classes(self) -> str:
        """Why these settings give a model no classes whatever its data holds, in a few words
        naming the setting ("image.labels is off"); '' where the data decides."""
        return f"{self.modality} data has no classes"

    def check_fitted(self) -> None:
        """A ``ConfigError`` for a setting that what the data said makes wrong (a MIDI model's
        pulls for a class it has none of); nothing for most adapters."""
        return None

    def cache_settings(self) -> dict:
        """The settings that change what ``read`` and ``encode`` make: the prepared cache is keyed by them."""
        return dataclasses.asdict(self.settings)

    # model outputs → items → files

    @abstractmethod
    def decode(self, tensor: torch.Tensor):
        """One grid-view tensor ``(channels, steps, width)`` → an item."""

    @abstractmethod
    def file_bytes(self, tensors: torch.Tensor, suffix: str) -> bytes:
        """One item's tensor, or a batch of them, as a file of the format ``suffix`` names;
        ``DataError`` for a format this modality cannot write."""

    # checkpoints

    def to_dict(self) -> dict:
        """The settings (and whatever ``fitted`` learnt) as JSON, for checkpoints."""
        return dataclasses.asdict(self.settings)

    @classmethod
    def from_dict(cls, values: dict, where: str = "checkpoint") -> Adapter:
        """The adapter a checkpoint's ``to_dict`` describes; ``ConfigError`` naming ``where``."""
        return cls(settings_from(cls, values, where))

    # training

    def sampler(self, pieces: list, seed: int, training: bool):
        """Batches of ``pieces``: random and augmented for training, else every item once, in order.
        Fixed-size items are drawn whole; items of any length are cut into ``spec.window`` steps."""
        from .samplers import ItemSampler, WindowSampler

        if self.spec.length:
            varies = training and isinstance(self, Augments) and self.augments
            return ItemSampler(pieces, self, seed, augment=self.augment if varies else None)
        return WindowSampler(pieces, self.spec.window, self.spec.steps_per_bar, seed)

    def model_view(self, pieces: list) -> list:
        """The pieces as the model sees them in training and validation (e.g. moved to one key)."""
        return pieces

    def viewed(self, pieces: list) -> tuple[list, str]:
        """``model_view`` of ``pieces`` and, from the same pass, what it left out and why in a
        few words ('' for nothing): the training log says it, and so does the error when
        nothing is left."""
        return self.model_view(pieces), ""

    def preview_steps(self, sample_bars: int) -> int:
        """The length of a training run's sample: an item's, or two windows."""
        return self.spec.length or 2 * self.spec.window

    def scored_steps(self, tensor: torch.Tensor) -> slice:
        """The steps of a whole item ``(channels, steps, width)`` its likelihood counts: all of
        them, where the modality pads no silence around an item."""
        return slice(None)

    def view_nats(self, piece) -> float:
        """Nats that telling a piece from its model view (``model_view``) costs, added to its
        frames' NLL so that the likelihood is of the piece itself: 0 where the view is the
        piece."""
        return 0.0

    def likelihood(self, nats_per_frame: float, frames: int, pieces: list) -> dict:
        """A held-out negative log-likelihood as `muse eval` reports it."""
        return {
            "measure": "frame NLL",
            "unit": "nats per frame",
            "value": nats_per_frame,
            "pieces": len(pieces),
            "frames": frames,
            "frame_name": self.frame_name,
        }

    # evaluation

    @abstractmethod
    def judge(self, options):
        """The ``measures.judge.Judge`` that measures this modality's items for `muse eval`."""


class LabelledAdapter(Adapter):
    """Fixed-size items (pictures, sound clips) whose classes, when ``settings.labels`` is on,
    are the names of the folders their files are in; the class names are kept in checkpoints."""

    def __init__(self, settings, classes: tuple[str, ...] = ()):
        super().__init__(settings)
        self.classes = tuple(classes)

    def to_dict(self) -> dict:
        return super().to_dict() | {"classes": list(self.classes)}

    @classmethod
    def from_dict(cls, values: dict, where: str = "checkpoint") -> LabelledAdapter:
        values = dict(values)
        classes = pop_names(values, "classes", where)
        return cls(settings_from(cls, values, where), classes)

    def fitted(self, pieces) -> LabelledAdapter:
        """This adapter knowing the classes of ``pieces`` when labels are in use."""
        if not self.settings.labels:
            return type(self)(self.settings, ())
        return type(self)(self.settings, class_order({piece.label for piece in pieces}))

    def without_classes(self) -> str:
        return "" if self.settings.labels else f"{self.modality}.labels is off"

    def label_of(self, path) -> str:
        """The class of a file: the name of the folder it is in."""
        return Path(path).parent.name if self.settings.labels else ""

    def labelled(self) -> LabelledAdapter:
        """This adapter reading class labels from folder names, whatever its settings say
        (`muse eval` classifies pictures and checks pitches by them)."""
        return (
            self
            if self.settings.labels
            else type(self)(dataclasses.replace(self.settings, labels=True), self.classes)
        )


# optional capabilities


class Augments(ABC):
    """Training items are randomly varied (pictures mirrored, turned, shifted)."""

    @property
    @abstractmethod
    def augments(self) -> bool:
        """Whether the settings ask for any variation."""

    @abstractmethod
    def augment(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The batch ``(batch, channels, steps, width)``, each item varied at random."""


class Animates(ABC):
    """Items can be the frames of a looping animation (`muse animate`)."""

    @abstractmethod
    def animation_bytes(self, frames: torch.Tensor, seconds_per_frame: float) -> bytes:
        """Frames ``(count, channels, steps, width)`` as a GIF that loops forever."""


@dataclasses.dataclass(frozen=True)
class Clip:
    """A user's clip as a model reads it: its tensor ``(channels, steps, width)`` in the model's
    settings, and the tempo and meter it gives (None where it gives none)."""

    tensor: torch.Tensor
    tempo: float | None = None
    meter: str | None = None


class Composes(ABC):
    """Pieces of any length, measured in bars, that continue a user's clip (`muse compose`), in
    the meters (and for the voice counts) a model knows."""

    @property
    @abstractmethod
    def steps_per_bar(self) -> int:
        """Time steps in one bar."""

    @abstractmethod
    def read_clip(self, clip, option: str) -> Clip:
        """A user's clip (a path or an item) as a ``Clip``; a ``MuseError`` naming ``option`` when unusable."""

    @abstractmethod
    def piece(
        self,
        tensor: torch.Tensor,
        tempo: float | None = None,
        meter: str | None = None,
        velocity: int | None = None,
    ):
        """A finished piece: the item for ``tensor`` at ``tempo``, in ``meter`` (defaults: the
        model's), every note at ``velocity`` when given; it writes itself to any of ``formats``."""

    @abstractmethod
    def label_for(self, meter: str | None = None, voices: int | None = None) -> int | None:
        """The class a piece in ``meter`` for ``voices`` voices is asked of the model with (None:
        the model has no classes; None arguments: its most frequent); a ``MuseError`` naming
        ``--meter`` or ``--voices`` when it does not know it."""

    @abstractmethod
    def bar_of(self, label: int | None) -> tuple[str, int]:
        """The meter of the class ``label`` (None: the model's) and the steps in its bar."""

    @abstractmethod
    def into_model_key(self, tensors: list[torch.Tensor]) -> list[int]:
        """For a model trained in one key, the shift (in width cells) that moves each clip
        there; what is made from a clip is moved back by as much. Zeros otherwise."""

    @abstractmethod
    def shifted(self, tensor: torch.Tensor, cells: int, option: str = "") -> torch.Tensor:
        """``tensor`` moved ``cells`` along its width (a transposition); with ``option``, a
        ``MuseError`` naming it where something would be pushed out of the range."""


class Constrains(ABC):
    """A composer's hard constraints (for music: a key, voice ranges, chords, a density) become
    ``core.rules.CellRules`` that every family keeps as it draws."""

    @abstractmethod
    def cell_rules(self, asked: dict, steps: int, meter: str, cells: int = 0, voices=None):
        """The ``CellRules`` that ``asked`` (each constraint's name → the words given, None
        where not given) makes of a piece of ``steps`` steps in ``meter``, moved ``cells``
        along the width, for ``voices`` voices where the model is conditioned on the voice
        count; None when nothing is asked. A ``MuseError`` names what cannot be kept."""

    def leaning(self, frames: bool = True, bar: int = 0, label: int | None = None, **asked):
        """A ``core.rules.Leaning`` factory (frames so far → leaning) for pieces drawn frame by
        frame (``frames``) or redrawn as a whole draft, in bars of ``bar`` steps, of class
        ``label``, with the pulls ``asked`` by name (None: the model's own); None for no
        leaning."""
        return None

    @abstractmethod
    def own_pulls(self, label: int | None = None) -> dict:
        """The pulls (``options.PULLS`` by name) a piece of class ``label`` is composed with
        when none are asked."""

    @abstractmethod
    def key_shift(self, asked: dict) -> int:
        """For a model trained in one key, the shift (in width cells) that moves what it makes
        into the key ``asked``; 0 when none is asked, and for other models."""


class Tokens(ABC):
    """Items are sequences of tokens of a vocabulary (text)."""

    start: str  # what every training item began with: sampling starts there too

    @abstractmethod
    def primer_frames(self, text: str, steps: int) -> torch.Tensor:
        """``text`` as one-hot frames ``(1, tokens, vocabulary)``, not yet ended."""

    def token_grammar(self, primer: torch.Tensor | None, count: int, steps: int):
        """What keeps ``count`` samples of ``steps`` tokens well formed as they are drawn after
        ``primer`` (frames, or None): an object whose ``allowed()`` gives the open tokens
        ``(count, vocabulary)`` and whose ``advance(choices)`` takes the drawn ids ``(count,)``;
        None where any token may follow any other."""
        return None


class PlugsTerms(ABC):
    """The modality adds terms of its own to a family's training (``DomainTerms``)."""

    @abstractmethod
    def family_terms(self, family: str) -> DomainTerms:
        """The terms for models of ``family``, from this adapter's settings."""


def settings_from(adapter_class, values: dict, where: str):
    """The settings dataclass of ``adapter_class`` from a checkpoint's dict of them."""
    return build(adapter_class.settings_class, values, where, f"{adapter_class.modality}.")


def pop_names(values: dict, key: str, where: str) -> tuple[str, ...]:
    """``values[key]`` (taken out of ``values``) as a tuple of strings: a checkpoint's class
    names or tokens, checked because a checkpoint is a file from elsewhere."""
    names = values.pop(key, ())
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(names)


def class_order(names) -> tuple[str, ...]:
    """Class names in a stable order: numbers (digits, MIDI pitches) in numeric order, then
    other names in text order."""
    return tuple(sorted(set(names), key=lambda name: (not name.isdigit(), name.zfill(12))))
