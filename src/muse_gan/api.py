"""The library face of muse_gan: load a model, compose pieces, sample pictures.

    >>> import muse_gan
    >>> model = muse_gan.load()                      # the bundled Bach chorale model
    >>> song = model.compose(bars=16, seed=1, tempo=96)
    >>> song.write("chorale.mid")                    # a pretty_midi.PrettyMIDI
    >>> digits = muse_gan.load("runs/digits-gan")    # a model trained with muse train --modality image
    >>> sevens = digits.sample(8, seed=0, label="7") # PIL images
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .errors import MuseError
from .keys import common_key_shift, fits_shifted, shift_pitches
from .pretrained import DEFAULT, DESCRIPTIONS, bundled_path

MAX_BARS = 256
MAX_TRANSPOSE = 24  # semitones: two octaves either way
DECODINGS = ("threshold", "bernoulli")


def resolve_model(model: str | Path | None) -> Path:
    """A bundled model's name, a run folder or a checkpoint file → the checkpoint's path."""
    model = DEFAULT if model is None else model
    bundled = bundled_path(str(model))
    if bundled is not None:
        return bundled
    path = Path(model).expanduser()
    if path.is_dir():
        for candidate in (path / "model.safetensors", path / "checkpoints" / "latest.safetensors"):
            if candidate.exists():
                return candidate
        raise MuseError(f"--model {model}: the folder has no model.safetensors (not a run folder?)")
    if path.is_file():
        return path
    raise MuseError(f"--model {model}: not a bundled model (known: {', '.join(DESCRIPTIONS)}), run folder or checkpoint")


def load(model: str | Path | None = None) -> "MuseModel":
    """A model ready to compose: a bundled name (default: the Bach chorale model), a run folder
    or a checkpoint file. Everything is rebuilt from the file alone; no code in it runs."""
    path = resolve_model(model)
    tensors, info = ckpt.load_checkpoint(path)
    config, adapter = ckpt.model_settings(path, info)
    # a training checkpoint holds the live weights and, with train.ema, their moving average: the
    # average is what the run's model.safetensors samples with, so a checkpoint composes the same way
    weights = ckpt.unprefixed("ema.", tensors) or ckpt.unprefixed("model.", tensors)
    objective = _objective_with_weights(path, config, adapter, weights)
    return MuseModel(objective.eval(), adapter, config, path)


def _objective_with_weights(path: Path, config, adapter, weights: dict[str, torch.Tensor]):
    """The objective ``config`` describes, holding ``weights``. A file from elsewhere is first
    built on the meta device (no memory) and its shapes compared with the file's, so a doctored
    header that describes a huge or odd model fails with one line instead of allocating it. The
    package's own models skip that: they are as trusted as its code, and the meta device's first
    use imports torch._dynamo (a second at start-up, where `muse compose` should be quick)."""
    from .objectives import build_objective
    from .pretrained import FOLDER

    if path.parent != FOLDER:
        _check_shapes(path, config, adapter, weights)
    objective = build_objective(adapter.spec, config)
    objective.load_state_dict(weights)
    return objective


def _check_shapes(path: Path, config, adapter, weights: dict[str, torch.Tensor]) -> None:
    from .objectives import build_objective

    try:
        with torch.device("meta"):
            shapes = {name: value.shape for name, value in build_objective(adapter.spec, config).state_dict().items()}
    except MuseError as error:
        raise MuseError(f"{path}: {error}") from None
    except Exception as error:  # noqa: BLE001  an untrusted header's sizes can trip any layer's checks
        raise MuseError(f"{path}: its config describes no model that can be built ({type(error).__name__})") from None
    misfit = ckpt.misfit(shapes, weights, "the described model's")
    if misfit:
        raise MuseError(f"{path}: its weights do not fit the model its config describes ({misfit})")


class MuseModel:
    """A trained model plus the adapter that turns its tensors into pieces."""

    def __init__(self, objective, adapter, config, path: Path):
        self.objective, self.adapter, self.config, self.path = objective, adapter, config, path

    @property
    def steps_per_bar(self) -> int:
        return self.adapter.steps_per_bar

    def compose(self, bars: int = 16, seed: int = 0, temperature: float = 1.0, tempo: float | None = None,
                primer=None, decode: str | None = None, transpose: int = 0):
        """A new piece of exactly ``bars`` bars as a ``pretty_midi.PrettyMIDI``.

        ``primer`` (a path or a PrettyMIDI) is continued: the piece starts with it. ``tempo`` is
        in quarter notes per minute (default: the primer's, else the model's). The same seed
        and model always give the same piece. ``decode`` ("threshold" or "bernoulli") overrides how
        a GAN turns note probabilities into notes. ``transpose`` moves the whole piece that many
        semitones up (down if negative): a model trained in one key (bach-gan: C major or A
        minor) composes in another.
        """
        roll, tempo = self.compose_roll(bars, seed, temperature, tempo, primer, decode, transpose)
        return self.adapter.decode(roll, tempo)

    def compose_roll(self, bars: int = 16, seed: int = 0, temperature: float = 1.0, tempo: float | None = None,
                     primer=None, decode: str | None = None, transpose: int = 0) -> tuple[torch.Tensor, float]:
        """The piano roll ``(tracks, steps, pitches)`` of ``compose`` and the tempo to play it at."""
        check_options(bars=bars, temperature=temperature, tempo=tempo, transpose=transpose)
        self.check_composes()
        primer_roll, primer_tempo = self._primer(primer, bars)
        shift = self._key_shift(primer_roll)
        if shift:
            primer_roll = shift_pitches(primer_roll, shift)
        generator = torch.Generator().manual_seed(seed)
        with _single_thread(), self._decoding(decode):  # one thread: float sums in one order, same bytes
            roll = self.objective.sample(1, bars * self.steps_per_bar, temperature, generator, primer_roll)[0]
        roll = self._transposed(shift_pitches(roll, -shift), transpose)
        return roll.to(torch.uint8), tempo or primer_tempo or self.adapter.settings.tempo

    def _transposed(self, roll: torch.Tensor, semitones: int) -> torch.Tensor:
        """``roll`` moved ``semitones``, refused where a note would leave the model's pitch range."""
        if not fits_shifted(roll, semitones):
            low, high = self.adapter.settings.pitch_low, self.adapter.settings.pitch_high
            raise MuseError(f"--transpose {semitones}: moves notes of this piece past the model's pitch range "
                            f"(MIDI {low}-{high}); try a smaller shift")
        return shift_pitches(roll, semitones)

    def check_composes(self) -> None:
        """A ``MuseError`` unless this model makes pieces of music (MIDI models do)."""
        modality = self.adapter.modality
        if modality != "midi":
            made = "fixed-size items" if self.adapter.spec.length else "text"
            raise MuseError(f"{self.path}: {modality} models make {made}, not pieces of music "
                            f"(use muse sample, or .sample() in Python)")

    def _key_shift(self, primer_roll) -> int:
        """For a model trained in one key (``data.common_key``), the semitones that move the
        primer (or clip) there; what is made from it is moved back by as many. Else 0."""
        if primer_roll is None or not self.config.data.common_key:
            return 0
        return common_key_shift(primer_roll, self.adapter.settings.pitch_low)

    def interpolate(self, start, end, steps: int = 5, seed: int = 0, temperature: float = 0.5,
                    tempo: float | None = None) -> list:
        """``steps`` clips (both ends included) on a path through the latent space from clip
        ``start`` to clip ``end`` (paths or PrettyMIDIs), each one segment long, as PrettyMIDIs.
        The first and last reconstruct the two clips."""
        rolls, tempo = self.interpolate_rolls(start, end, steps, seed, temperature, tempo)
        return [self.adapter.decode(roll, tempo) for roll in rolls]

    def interpolate_rolls(self, start, end, steps: int = 5, seed: int = 0, temperature: float = 0.5,
                          tempo: float | None = None) -> tuple[torch.Tensor, float]:
        """The rolls ``(steps, tracks, segment steps, pitches)`` of ``interpolate`` and their tempo."""
        if self.adapter.spec.length:
            raise MuseError(f"{self.path}: interpolate morphs between MIDI clips; to walk an "
                            f"{self.adapter.modality} model's latent space, use muse animate")
        if not hasattr(self.objective, "interpolate"):
            raise MuseError(f"{self.path}: {self.objective.a_family} model has no latent space to interpolate in "
                            f"(use a VAE model)")
        check_options(temperature=temperature, tempo=tempo, steps=steps)
        (first, first_tempo), (last, _) = self._clip(start, "start"), self._clip(end, "end")
        shifts = self._key_shift(first), self._key_shift(last)
        generator = torch.Generator().manual_seed(seed)
        with _single_thread():
            rolls = self.objective.interpolate(shift_pitches(first, shifts[0]).float(),
                                               shift_pitches(last, shifts[1]).float(), steps - 2, temperature, generator)
        if any(shifts):  # a common-key model's clips come back in their own keys, the ones between glide
            rolls = torch.stack([shift_pitches(roll, -round(shift))
                                 for roll, shift in zip(rolls, torch.linspace(*shifts, steps).tolist())])
        return rolls.to(torch.uint8), tempo or first_tempo or self.adapter.settings.tempo

    # pictures (and every model with items of a fixed size)

    def sample(self, count: int = 1, seed: int = 0, label: str | None = None, temperature: float = 1.0,
               **options) -> list:
        """``count`` new items as the modality's objects: PIL images, waveforms (float32 arrays
        at ``adapter.settings.sample_rate``) or strings. ``label`` asks a class-conditional
        model for that class (e.g. "7", or a MIDI pitch); the same seed and model always give the
        same items. Text models also take ``length`` (most tokens), ``primer`` (the text to
        start with), ``top_k`` and ``top_p`` (see ``sample_tensors``)."""
        return [self.adapter.decode(item) for item in self.sample_tensors(count, seed, label, temperature, **options)]

    def sample_tensors(self, count: int = 1, seed: int = 0, label: str | None = None, temperature: float = 1.0,
                       length: int | None = None, primer: str | None = None, top_k: int = 0,
                       top_p: float = 1.0) -> torch.Tensor:
        """The tensors ``(count, channels, steps, width)`` of ``sample``: pictures or spectrograms
        with values from 0 to 1, or one-hot tokens. For text: at most ``length`` tokens (default:
        four training windows), starting with ``primer`` (RNN text models by default start with the
        first line all their training pieces share, such as ABC's "X:1"); only the ``top_k`` likeliest tokens
        (0: all) and the likeliest holding ``top_p`` of the probability are drawn from."""
        steps = self._sample_steps(length)
        check_options(temperature=temperature, count=count)
        labels = self._labels(label, count)
        primer_frames = self._text_primer(primer, steps)
        generator = torch.Generator().manual_seed(seed)
        with _single_thread(), self._token_filters(top_k, top_p):
            return self.objective.sample(count, steps, temperature, generator, primer=primer_frames, labels=labels)

    def _sample_steps(self, length: int | None) -> int:
        spec = self.adapter.spec
        if spec.length:
            return spec.length
        if spec.window:
            if length is not None and not 1 <= length <= 100_000:
                raise MuseError(f"--length {length}: must be from 1 to 100000 tokens")
            return length or 4 * spec.window
        raise MuseError(f"{self.path}: a {self.adapter.modality} model composes pieces of any length "
                        f"(use muse compose, or .compose() in Python)")

    def _text_primer(self, primer: str | None, steps: int):
        """A text model's primer as one-hot frames ``(1, tokens, vocabulary)``."""
        if primer is None and self.objective.family == "rnn":
            primer = getattr(self.adapter, "start", "") or None  # a sample starts as every training piece did
        if primer is None:
            return None
        if not hasattr(self.adapter, "token_ids"):
            raise MuseError("--primer: only text models take a text primer here (MIDI models: muse compose --primer)")
        ids = self.adapter.token_ids(primer)[:-1]  # no end token: the piece goes on
        if not 1 <= len(ids) < steps:
            raise MuseError(f"--primer: {len(ids)} tokens; it must be from 1 to --length - 1 ({steps - 1})")
        return self.adapter.one_hot(ids)

    @contextmanager
    def _token_filters(self, top_k: int, top_p: float):
        """The model's token head drawing only from the top-k / top-p tokens for the duration."""
        if top_k < 0 or not 0 < top_p <= 1:
            raise MuseError(f"--top-k {top_k} / --top-p {top_p}: need top-k >= 0 and 0 < top-p <= 1")
        head = getattr(self.objective, "head", None)
        if not hasattr(head, "top_k"):
            if top_k or top_p < 1:
                raise MuseError("--top-k/--top-p: only text RNN and VAE models draw tokens one by one")
            yield
            return
        with _temporarily(head, top_k=top_k, top_p=top_p):
            yield

    def animate(self, frames: int = 48, seed: int = 0, label: str | None = None) -> list:
        """``frames`` items along a closed loop through the latent space, as the modality's
        objects: played in order and repeated, the animation has no jump."""
        return [self.adapter.decode(frame) for frame in self.animation_tensors(frames, seed, label)]

    def animation_tensors(self, frames: int = 48, seed: int = 0, label: str | None = None) -> torch.Tensor:
        """The tensors ``(frames, channels, size, size)`` of ``animate``."""
        if not self.adapter.spec.length:
            raise MuseError(f"{self.path}: muse animate walks the latent space of picture and sound models, "
                            f"not {self.adapter.modality} ones")
        if not hasattr(self.objective, "animate"):
            raise MuseError(f"{self.path}: {self.objective.a_family} model has no latent space to walk "
                            f"(use a GAN or VAE model)")
        check_options(frames=frames)
        generator = torch.Generator().manual_seed(seed)
        with _single_thread():
            return self.objective.animate(frames, generator, self._labels(label, 1))

    def _labels(self, label: str | None, count: int) -> torch.Tensor | None:
        """The class index of ``label`` for ``count`` items; None (random classes) without one."""
        classes = self.adapter.classes
        if label is None:
            return None
        if not classes:
            raise MuseError(f"--label {label}: {self.path} was trained without labels")
        if str(label) not in classes:
            raise MuseError(f"--label {label}: not one of the model's classes ({', '.join(classes)})")
        return torch.full((count,), classes.index(str(label)))

    @contextmanager
    def _decoding(self, decode: str | None):
        """The model decoding probabilities ``decode``'s way for the duration."""
        if decode is None:
            yield
            return
        if not hasattr(self.objective, "decode"):
            raise MuseError(f"--decode {decode}: only GAN models decode note probabilities "
                            f"(this is a {self.objective.family} model)")
        if decode not in DECODINGS:
            raise MuseError(f"--decode {decode}: unknown (known: {', '.join(DECODINGS)})")
        with _temporarily(self.objective, decode=decode):
            yield

    def _primer(self, primer, bars: int):
        if primer is None:
            return None, None
        roll, tempo = self._clip(primer, "--primer")
        primer_bars = roll.shape[1] // self.steps_per_bar
        if primer_bars > bars:
            raise MuseError(f"--primer {primer}: it is {primer_bars} bars long; --bars must be at least that")
        return _trim_silence(roll).float(), tempo

    def _clip(self, clip, option: str) -> tuple[torch.Tensor, float | None]:
        """A user's clip (a path or a PrettyMIDI) as a roll in this model's settings, and its tempo."""
        from .errors import DataError

        name = "clip" if hasattr(clip, "instruments") else str(clip)
        try:
            piece = clip if name == "clip" else self.adapter.read(clip)[0]
            roll = self.adapter.encode(piece, strict=False)
        except DataError as error:
            reason = str(error).removeprefix(f"{name}: ")
            raise MuseError(f"{option} {name}: {reason}") from None
        return roll, _first_tempo(piece)


def _first_tempo(piece) -> float | None:
    _, tempi = piece.get_tempo_changes()
    return float(tempi[0]) if len(tempi) else None


def _trim_silence(roll: torch.Tensor) -> torch.Tensor:
    """The primer up to its last sounding step, so the continuation follows on directly."""
    sounding = roll.any(dim=2).any(dim=0).nonzero()
    return roll[:, : int(sounding.max()) + 1]


def check_options(*, bars: int = 1, temperature: float = 1.0, tempo: float | None = None, variations: int = 1,
                  steps: int = 2, count: int = 1, frames: int = 2, transpose: int = 0) -> None:
    """The composing options a user gives, checked before any work is done."""
    for option, value, low, high in (("bars", bars, 1, MAX_BARS), ("variations", variations, 1, 10_000),
                                     ("steps", steps, 2, 64), ("count", count, 1, 10_000), ("frames", frames, 2, 1000),
                                     ("transpose", transpose, -MAX_TRANSPOSE, MAX_TRANSPOSE)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
            raise MuseError(f"--{option} {value}: must be a whole number from {low} to {high}")
    if not temperature > 0:
        raise MuseError(f"--temperature {temperature}: must be above 0")
    if tempo is not None and not 10 <= tempo <= 400:
        raise MuseError(f"--tempo {tempo}: must be from 10 to 400 quarter notes per minute")


@contextmanager
def _temporarily(thing, **values):
    """``thing``'s attributes set to ``values`` for the duration, then back as they were."""
    saved = {name: getattr(thing, name) for name in values}
    for name, value in values.items():
        setattr(thing, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(thing, name, value)


class _single_thread:
    def __enter__(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc_info):
        torch.set_num_threads(self.threads)
