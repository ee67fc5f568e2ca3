"""The sampler facade: a trained model and its adapter, composing, sampling, morphing and animating.

What it returns writes itself: a MIDI model's ``compose`` gives a ``Piece`` (a
``pretty_midi.PrettyMIDI`` that knows its length and tempo), ``sample`` gives ``Items`` (a list of
pictures, sounds or texts) and ``animate`` an ``Animation``; each one's ``write(path)`` makes the
same bytes as the command line does for the same seed. What is true of one modality (a tempo, a
key, a vocabulary) is asked of the adapter through its declared capabilities.

    >>> import muse_gan
    >>> model = muse_gan.load()                      # the bundled Bach chorale model
    >>> song = model.compose(bars=16, seed=1, tempo=96)
    >>> song.write("chorale.mid")                    # = muse compose --bars 16 --seed 1 --tempo 96 -o chorale.mid
    >>> digits = muse_gan.load("digits-gan")
    >>> digits.sample(8, seed=0, label="7").write("sevens.png")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType

import torch

from .core.adapter import Animates, Composes, Constrains, Tokens
from .core.objective import DecodesProbabilities, FillsMasks, Interpolates, WalksLatent
from .core.rules import CellRules, DrawsFrames, KeepsRules, Leans
from .errors import DataError, MuseError
from .files import write_atomically
from .options import FRAME_PULLS, check_options

# The hard constraints (docs/constraints.md) that compose, infill and harmonize take, each with
# the value that asks for nothing; the server lists and passes these names for its endpoints.
CONSTRAINTS = MappingProxyType(
    {
        "key": None,
        "scale": None,
        "passing": False,
        "ranges": None,
        "density": None,
        "chords": None,
        "polyphony": None,
    }
)


class MuseModel:
    """A trained model (its objective, in eval mode) plus the adapter that turns its tensors
    into pieces, and the config it was trained with; ``path`` is the file it came from."""

    def __init__(self, objective, adapter, config, path: Path):
        self.objective, self.adapter, self.config, self.path = (
            objective,
            adapter,
            config,
            Path(path),
        )

    # pieces of music (adapters that compose)

    def compose(
        self,
        bars: int = 16,
        seed: int = 0,
        temperature: float = 1.0,
        tempo: float | None = None,
        primer=None,
        decode: str | None = None,
        transpose: int = 0,
        meter: str | None = None,
        voices: int | None = None,
        velocity: int | None = None,
        key: str | None = None,
        scale: str | None = None,
        passing: bool = False,
        ranges: str | None = None,
        density: str | None = None,
        chords: str | None = None,
        polyphony: str | None = None,
        key_hold: float | None = None,
        note_hold: float | None = None,
        voice_span: int | None = None,
        ensemble_span: int | None = None,
        rest_hold: float | None = None,
        first_bar: int = 1,
    ):
        """A new piece of exactly ``bars`` bars (for MIDI a ``Piece``, a ``pretty_midi.PrettyMIDI``).

        ``primer`` (a path or a PrettyMIDI) is continued: the piece starts with it. ``first_bar``
        is the bar of your song the piece (its primer first) starts at: a model told its bar
        numbers (``model.bar_numbers``: folk-melody) composes from bar 9 as a tune goes on,
        not as it opens; other models compose every bar alike, so it changes nothing. ``tempo`` is
        in quarter notes per minute (default: the primer's, else the model's). ``meter`` ("6/8")
        and ``voices`` ask a model trained on several meters or voice counts for one of them
        (default: the primer's meter, else the data's most frequent). ``velocity`` sets every
        note's velocity (default: the model's dynamics). The same seed and model always give the
        same piece. ``decode`` ("threshold" or "bernoulli") overrides how a GAN turns note
        probabilities into notes. ``transpose`` moves the whole piece that many semitones up
        (down if negative): a model trained in one key (bach-gan: C major or A minor) composes
        in another.

        Hard constraints, kept as every note is drawn (docs/constraints.md): ``key`` ("D minor")
        or ``scale`` ("D dorian", "C D E G A"), with ``passing`` chromatic notes between beats;
        ``ranges`` ("soprano=60-81, bass=C2-D4"); ``density`` notes started per bar ("4",
        "soprano=6, 2", "low"/"medium"/"high"); ``chords`` ("Dm | G7 | C C/E": chord tones on
        strong beats, the bass on the root); ``polyphony`` most notes at once ("1", "alto=2").

        Soft pulls while drawing (None: the model's own, from its header; docs/midi.md):
        ``key_hold`` toward the key of the notes so far (0-30); for models that draw frame by
        frame, ``note_hold`` toward holding the notes that sound (-30 to 30; negative: shorter
        notes), ``rest_hold`` toward each voice going on sounding or resting as it was (-30 to
        30; negative: more, shorter rests), ``voice_span`` keeping each voice within that many
        semitones and ``ensemble_span`` all voices together (0: off). A model's own may differ
        by meter or voice count (``midi.class_pulls``).
        """
        asked = {
            "key": key,
            "scale": scale,
            "passing": passing,
            "ranges": ranges,
            "density": density,
            "chords": chords,
            "polyphony": polyphony,
        }
        pulls = {
            "key_hold": key_hold,
            "note_hold": note_hold,
            "rest_hold": rest_hold,
            "voice_span": voice_span,
            "ensemble_span": ensemble_span,
        }
        check_options(
            bars=bars,
            temperature=temperature,
            tempo=tempo,
            transpose=transpose,
            velocity=velocity,
            voices=voices,
            first_bar=first_bar,
            **pulls,
        )
        self.check_composes()
        clip = self._primer(primer)
        label = self._label(meter, voices, clip, primer)
        meter, bar = self.adapter.bar_of(label)
        given = None if clip is None else self._trimmed(clip.tensor, bars, bar, primer)
        shift = self.adapter.into_model_key([given])[0] if given is not None else 0
        if shift:
            given = self.adapter.shifted(given, shift)
        if isinstance(self.adapter, Constrains) and clip is None and not transpose:
            transpose = self.adapter.key_shift(asked)  # a one-key model composes in the key asked
        rules = self._leaning(
            self._rules(asked, bars * bar, meter, shift - transpose, voices),
            bars * bar,
            bar,
            pulls,
            label,
        )
        generator = torch.Generator().manual_seed(seed)
        labels = None if label is None else torch.tensor([label])
        with (
            _single_thread(),
            self._decoding(decode),
        ):  # one thread: float sums in one order, same bytes
            roll = self.objective.sample(
                1,
                bars * bar,
                temperature,
                generator,
                given,
                labels=labels,
                **rules,
                **self._placed_at(first_bar, bar),
            )[0]
        roll = self.adapter.shifted(self.adapter.shifted(roll, -shift), transpose, "--transpose")
        return self.adapter.piece(
            roll.to(torch.uint8), tempo or (clip and clip.tempo), meter, velocity
        )

    def bar_alike(self, bar: int) -> int:
        """The first bar the model composes as it does bar ``bar`` (counted from 1): past
        ``model.bar_numbers`` the numbers cycle (8: bar 17 is told what bar 9 is,
        ``models.rnn`` ``_placed``), and a model not told them composes every bar alike (1).
        A piece may start at any bar of a song, however long."""
        cycle = self.config.model.bar_numbers
        if not cycle:
            return 1
        return bar if bar <= cycle else cycle + 1 + (bar - 1 - cycle) % cycle

    def _placed_at(self, first_bar: int, bar: int) -> dict:
        """``first_step`` for a network told its bar numbers, when the piece starts past bar 1
        (bar numbers are an RNN's alone); nothing otherwise, where the bar changes nothing."""
        alike = self.bar_alike(first_bar)
        return {} if alike == 1 else {"first_step": (alike - 1) * bar}

    def _rules(self, asked: dict, steps: int, meter: str, cells: int, voices=None) -> dict:
        """``{"rules": CellRules}`` for the constraints asked (moved ``cells`` into the model's
        key) and the voice count asked, or nothing when none are."""
        if all(value is None or value is False for value in asked.values()) and not voices:
            return {}
        if not isinstance(self.adapter, Constrains):
            raise MuseError(
                f"--{next(iter(asked))}: {self.adapter.modality} models take no constraints"
            )
        rules = self.adapter.cell_rules(asked, steps, meter, cells, voices)
        if rules is None:
            return {}
        if not isinstance(self.objective, KeepsRules):
            raise MuseError(
                f"{self.path}: {self.objective.a_family} model cannot keep constraints as it draws"
            )
        return {"rules": rules}

    @property
    def pulls(self) -> tuple[str, ...]:
        """The soft pulls ``compose`` takes for this model: ``key_hold`` where the family leans
        (frame by frame, or on a Gibbs draft) and ``FRAME_PULLS`` where it draws frame by frame;
        none for a GAN, or where the modality has no leaning."""
        if not (isinstance(self.adapter, Constrains) and isinstance(self.objective, Leans)):
            return ()
        return ("key_hold",) + (FRAME_PULLS if isinstance(self.objective, DrawsFrames) else ())

    def _leaning(self, rules: dict, steps: int, bar: int, pulls: dict, label=None) -> dict:
        """``rules`` with the adapter's leaning (a piece's pulls: toward its key and, drawn frame
        by frame, on its notes' length, rests and register, and bars of ``bar`` steps that
        each sound; ``pulls`` the strengths asked, None: the model's for class ``label``) for
        families that lean; a pull asked of a model that takes none is refused (0, off, is
        taken anywhere)."""
        taken = self.pulls
        for pull, strength in pulls.items():
            if strength and pull not in taken:
                option = "--" + pull.replace("_", "-")
                family = self.objective.a_family
                named = ", ".join(f"--{name.replace('_', '-')}" for name in taken)
                takes = f"only {named}" if taken else "no pull"
                raise MuseError(f"{option}: {family} model takes {takes}")
        if not taken:
            return rules
        leaning = self.adapter.leaning(
            frames=isinstance(self.objective, DrawsFrames), bar=bar, label=label, **pulls
        )
        if leaning is None:
            return rules
        if "rules" in rules:
            return {"rules": dataclasses.replace(rules["rules"], leaning=leaning)}
        spec = self.adapter.spec  # no limit: which columns would count matters not
        return {"rules": CellRules.unlimited(spec.channels, steps, spec.width, spec.width, leaning)}

    def _label(self, meter, voices, clip, primer) -> int | None:
        """The class to compose: as asked, else a meter-conditioned model's primer's meter."""
        if meter is None and clip is not None and clip.meter and self.adapter.spec.class_periods:
            try:
                return self.adapter.label_for(clip.meter, voices)
            except MuseError as error:
                raise MuseError(
                    f"--primer {primer}: it is in {clip.meter}; {str(error).split(': ', 1)[1]}"
                ) from None
        return self.adapter.label_for(meter, voices)

    def check_composes(self) -> None:
        """A ``MuseError`` unless this model makes pieces of music of any length (MIDI models do)."""
        if not isinstance(self.adapter, Composes):
            made = "fixed-size items" if self.adapter.spec.length else "text"
            raise MuseError(
                f"{self.path}: {self.adapter.modality} models make {made}, not pieces of music "
                f"(use muse sample, or .sample() in Python)"
            )

    def interpolate(
        self,
        start,
        end,
        steps: int = 5,
        seed: int = 0,
        temperature: float = 0.5,
        tempo: float | None = None,
    ) -> list:
        """``steps`` clips (both ends included) on a path through the latent space from clip
        ``start`` to clip ``end`` (paths or PrettyMIDIs), each one segment long, as pieces. The
        first and last reconstruct the two clips; ``join`` puts them in one piece."""
        if not isinstance(self.adapter, Composes):
            raise MuseError(
                f"{self.path}: interpolate morphs between MIDI clips; to walk an "
                f"{self.adapter.modality} model's latent space, use muse animate"
            )
        if not isinstance(self.objective, Interpolates):
            raise MuseError(
                f"{self.path}: {self.objective.a_family} model has no latent space to interpolate in "
                f"(use a VAE model)"
            )
        check_options(temperature=temperature, tempo=tempo, steps=steps)
        first_clip, last_clip = (
            self.adapter.read_clip(start, "start"),
            self.adapter.read_clip(end, "end"),
        )
        (first, first_tempo), last = (first_clip.tensor, first_clip.tempo), last_clip.tensor
        shifts = self.adapter.into_model_key([first, last])
        generator = torch.Generator().manual_seed(seed)
        with _single_thread():
            rolls = self.objective.interpolate(
                self.adapter.shifted(first, shifts[0]).float(),
                self.adapter.shifted(last, shifts[1]).float(),
                steps - 2,
                temperature,
                generator,
            )
        # a common-key model's clips come back in their own keys, the ones between glide
        back = torch.linspace(*shifts, steps).tolist()
        return [
            self.adapter.piece(
                self.adapter.shifted(roll, -round(shift)).to(torch.uint8), tempo or first_tempo
            )
            for roll, shift in zip(rolls, back)
        ]

    def join(self, pieces: list):
        """Pieces of this model one after another, as one piece (at the first one's tempo)."""
        return self.adapter.piece(
            torch.cat([piece.roll for piece in pieces], dim=1), pieces[0].tempo
        )

    def infill(
        self,
        clip,
        bars: tuple[int, int],
        tracks=None,
        seed: int = 0,
        temperature: float = 1.0,
        tempo: float | None = None,
        **constraints,
    ):
        """``clip`` (a path or a PrettyMIDI) as a ``Piece`` with ``bars`` (first, last, counted
        from 1) of ``tracks`` (names; default: all) composed anew, given everything before and
        after them; every other note stays as the model read it. Models that fill masks do it
        (Coconet); others refuse, naming one that can. ``constraints`` are ``compose``'s hard
        constraints (``key="D minor"``, ``ranges``, ``chords``, ...), kept by the new notes.

            >>> coconet = muse_gan.load("bach-coconet")
            >>> coconet.infill("chorale.mid", bars=(5, 8), tracks=["alto", "tenor"]).write("new.mid")
        """
        from .modalities.midi.selection import selection

        check_options(temperature=temperature, tempo=tempo)
        self._check_fills("infill")
        self.check_composes()
        read = self.adapter.read_clip(clip, "CLIP")
        self._check_meter(read.meter, "CLIP", clip)
        clip = read
        mask = selection(self.adapter, clip.tensor, bars, tracks)
        filled = self._filled(clip.tensor, mask, seed, temperature, constraints)
        return self.adapter.piece(filled, tempo or clip.tempo, clip.meter)

    def harmonize(
        self,
        melody,
        seed: int = 0,
        temperature: float = 1.0,
        tempo: float | None = None,
        **constraints,
    ):
        """The other voices under ``melody`` (a path or a PrettyMIDI; its top line, where it has
        chords), in its key and meter, as a ``Piece`` whose first track is the melody untouched.
        ``chords_dropped`` on the piece says whether the melody had chords. Models that fill
        masks (Coconet) and GANs that accompany their first track (bach-gan) harmonize;
        ``constraints`` as for ``infill`` (Coconet models).

            >>> muse_gan.load("bach-coconet").harmonize("tune.mid", seed=3).write("chorale.mid")
        """
        from .modalities.midi.selection import melody_of

        check_options(temperature=temperature, tempo=tempo)
        self.check_composes()
        try:
            piece = melody if not isinstance(melody, (str, Path)) else self.adapter.read(melody)[0]
            line = melody_of(self.adapter, piece)
        except DataError as error:
            reason = str(error).removeprefix(f"{melody}: ")
            raise MuseError(f"MELODY {_named(melody)}: {reason}") from None
        self._check_meter(line.meter, "MELODY", melody)
        roll = torch.zeros(self.adapter.tracks, *line.roll.shape, dtype=torch.uint8)
        roll[0] = line.roll
        if isinstance(self.objective, FillsMasks):
            mask = torch.zeros(roll.shape[:2], dtype=torch.bool)
            mask[1:] = True
            made = self._filled(roll, mask, seed, temperature, constraints)
        else:
            made = self._accompanied(roll, seed, temperature, constraints)
        harmony = self.adapter.piece(made, tempo or line.tempo, line.meter)
        harmony.chords_dropped = line.chords
        return harmony

    @property
    def harmonizes(self) -> bool:
        """Whether ``harmonize`` works: the model fills masks, or it accompanies its first track
        (a GAN with ``gan.condition_track = 0``, such as bach-gan)."""
        accompanies = getattr(self.objective, "condition_track", -1) == 0
        return isinstance(self.objective, FillsMasks) or accompanies

    def _check_fills(self, command: str) -> None:
        if not isinstance(self.objective, FillsMasks):
            raise MuseError(
                f"{self.path}: {self.objective.a_family} model cannot {command} inside a piece "
                f'(use --model bach-coconet, or a model trained with model.family = "coconet")'
            )

    def _check_meter(self, meter: str | None, option: str, given) -> None:
        """A clip in a meter this model does not compose in, refused."""
        if meter and meter != self.adapter.meter:
            raise MuseError(
                f"{option} {_named(given)}: it is in {meter}; this model knows "
                f"{self.adapter.meter} only"
            )

    def _filled(self, roll, mask, seed: int, temperature: float, constraints: dict):
        """``roll`` with the cells of ``mask`` ``(tracks, steps)`` drawn anew, in the model's key
        and back, within ``constraints``; every other cell exactly as given."""
        shift = self.adapter.into_model_key([roll])[0]
        given = self.adapter.shifted(roll.float(), shift)
        rules = self._rules(self._asked(constraints), roll.shape[1], self.adapter.meter, shift)
        generator = torch.Generator().manual_seed(seed)
        with _single_thread():
            filled = self.objective.fill(given[None], mask[None], temperature, generator, **rules)
        filled = filled[0]
        filled = self.adapter.shifted(filled, -shift).to(torch.uint8)
        return torch.where(mask[..., None], filled, roll.to(torch.uint8))

    @staticmethod
    def _asked(constraints: dict) -> dict:
        """``constraints`` as ``compose`` names them, every one present; a ``MuseError`` for
        another name."""
        unknown = sorted(set(constraints) - set(CONSTRAINTS))
        if unknown:
            raise MuseError(f"{unknown[0]}: not a constraint (known: {', '.join(CONSTRAINTS)})")
        return dict(CONSTRAINTS) | constraints

    def _no_constraints(self, constraints: dict) -> None:
        asked = [name for name, value in self._asked(constraints).items() if value]
        if asked:
            raise MuseError(
                f"--{asked[0]}: {self.objective.a_family} model harmonizes without constraints "
                f"(use --model bach-coconet)"
            )

    def _accompanied(self, roll: torch.Tensor, seed: int, temperature: float, constraints: dict):
        """A GAN's accompaniment of ``roll``'s first track (its condition track); it keeps no
        constraints (a model that cannot harmonize at all is refused first, as such)."""
        if not self.harmonizes:
            self._check_fills("harmonize")
        self._no_constraints(constraints)
        shift = self.adapter.into_model_key([roll])[0]
        given = self.adapter.shifted(roll.float(), shift)
        generator = torch.Generator().manual_seed(seed)
        with _single_thread():
            made = self.objective.sample(1, roll.shape[1], temperature, generator, given)[0]
        made = self.adapter.shifted(made, -shift).to(torch.uint8)
        made[0] = roll[0]
        return made

    def _primer(self, primer):
        """The primer as a ``Clip`` (None without one)."""
        return None if primer is None else self.adapter.read_clip(primer, "--primer")

    @staticmethod
    def _trimmed(roll: torch.Tensor, bars: int, bar: int, primer) -> torch.Tensor:
        """The primer's roll up to its last sounding step, so that the continuation follows on
        directly; refused when it is longer than the piece."""
        sounding = roll.any(dim=2).any(dim=0).nonzero()
        roll = roll[:, : int(sounding.max()) + 1]
        primer_bars = -(-roll.shape[1] // bar)
        if primer_bars > bars:
            raise MuseError(
                f"--primer {primer}: it is {primer_bars} bars long; --bars must be at least that"
            )
        return roll.float()

    # items of a fixed size, and text

    def sample(
        self,
        count: int = 1,
        seed: int = 0,
        label: str | None = None,
        temperature: float = 1.0,
        length: int | None = None,
        primer: str | None = None,
        top_k: int = 0,
        top_p: float = 1.0,
        grammar: bool = True,
    ) -> Items:
        """``count`` new items as ``Items``: a sequence of the modality's objects (PIL images,
        waveforms as float32 arrays at ``adapter.settings.sample_rate``, or strings) that also
        holds their tensors ``(count, channels, steps, width)`` and writes itself.

        ``label`` asks a class-conditional model for that class (e.g. "7", or a MIDI pitch); the
        same seed and model always give the same items. Text models: at most ``length`` tokens
        (default: four training windows), starting with ``primer`` (RNN text models by default
        start with the first line all their training pieces share, such as ABC's "X:1"); only
        the ``top_k`` likeliest tokens (0: all) and the likeliest holding ``top_p`` of the
        probability are drawn from. ABC models draw only tokens that keep a tune well formed
        (complete headers, bars that fill the meter: see docs/text.md) unless ``grammar`` is
        False.
        """
        steps = self._sample_steps(length)
        check_options(temperature=temperature, count=count)
        labels = self._labels(label, count)
        primer_frames = self._text_primer(primer, steps)
        generator = torch.Generator().manual_seed(seed)
        tokens = grammar and isinstance(self.adapter, Tokens)
        rules = self.adapter.token_grammar(primer_frames, count, steps) if tokens else None
        with _single_thread(), self._token_filters(top_k, top_p, rules):
            tensors = self.objective.sample(
                count, steps, temperature, generator, primer=primer_frames, labels=labels
            )
        return Items(self.adapter, tensors)

    def _sample_steps(self, length: int | None) -> int:
        spec = self.adapter.spec
        if spec.length:
            return spec.length
        if isinstance(self.adapter, Tokens):
            if length is not None and not 1 <= length <= 100_000:
                raise MuseError(f"--length {length}: must be from 1 to 100000 tokens")
            return length or 4 * spec.window
        raise MuseError(
            f"{self.path}: a {self.adapter.modality} model composes pieces of any length "
            f"(use muse compose, or .compose() in Python)"
        )

    def _text_primer(self, primer: str | None, steps: int):
        """A text model's primer as one-hot frames ``(1, tokens, vocabulary)``."""
        tokens = isinstance(self.adapter, Tokens)
        if primer is None and tokens and self.objective.family == "rnn":
            primer = self.adapter.start or None  # a sample starts as every training piece did
        if primer is None:
            return None
        if not tokens:
            raise MuseError(
                "--primer: only text models take a text primer here (MIDI models: muse compose --primer)"
            )
        return self.adapter.primer_frames(primer, steps)

    def animate(self, frames: int = 48, seed: int = 0, label: str | None = None) -> Animation:
        """``frames`` items along a closed loop through the latent space, as an ``Animation`` (a
        sequence of the modality's objects): played in order and repeated, it has no jump."""
        if not isinstance(self.adapter, Animates):
            raise MuseError(
                f"{self.path}: muse animate walks the latent space of picture and sound models, "
                f"not {self.adapter.modality} ones"
            )
        if not isinstance(self.objective, WalksLatent):
            raise MuseError(
                f"{self.path}: {self.objective.a_family} model has no latent space to walk "
                f"(use a GAN or VAE model)"
            )
        check_options(frames=frames)
        generator = torch.Generator().manual_seed(seed)
        with _single_thread():
            return Animation(
                self.adapter, self.objective.animate(frames, generator, self._labels(label, 1))
            )

    # options

    def _labels(self, label: str | None, count: int) -> torch.Tensor | None:
        """The class index of ``label`` for ``count`` items; None (random classes) without one."""
        classes = self.adapter.classes
        if label is None:
            return None
        if not classes:
            raise MuseError(f"--label {label}: {self.path} was trained without labels")
        if str(label) not in classes:
            raise MuseError(
                f"--label {label}: not one of the model's classes ({', '.join(classes)})"
            )
        return torch.full((count,), classes.index(str(label)))

    @contextmanager
    def _decoding(self, decode: str | None):
        """The model decoding probabilities ``decode``'s way for the duration."""
        if decode is None:
            yield
            return
        if not isinstance(self.objective, DecodesProbabilities):
            raise MuseError(
                f"--decode {decode}: only GAN models decode note probabilities "
                f"(this is {self.objective.a_family} model)"
            )
        if decode not in DecodesProbabilities.DECODINGS:
            raise MuseError(
                f"--decode {decode}: unknown (known: {', '.join(DecodesProbabilities.DECODINGS)})"
            )
        with self.objective.decoding(decode):
            yield

    @contextmanager
    def _token_filters(self, top_k: int, top_p: float, grammar=None):
        """The model's token head drawing only from the top-k / top-p tokens (and those
        ``grammar`` leaves open) for the duration."""
        if top_k < 0 or not 0 < top_p <= 1:
            raise MuseError(
                f"--top-k {top_k} / --top-p {top_p}: need top-k >= 0 and 0 < top-p <= 1"
            )
        head = self.objective.token_head()
        if head is None:
            if top_k or top_p < 1:
                raise MuseError(
                    "--top-k/--top-p: only text RNN and VAE models draw tokens one by one"
                )
            yield
            return
        saved = head.top_k, head.top_p, head.grammar
        head.top_k, head.top_p, head.grammar = top_k, top_p, grammar
        try:
            yield
        finally:
            head.top_k, head.top_p, head.grammar = saved


def _named(clip) -> str:
    """A clip as messages name it: its path, or "clip" for one given as a PrettyMIDI."""
    return str(clip) if isinstance(clip, (str, Path)) else "clip"


def check_scalable(adapter, factor: int) -> None:
    """Refuses a ``--scale`` other than 1 for a model that makes no pictures, before it
    samples anything."""
    check_options(scale=factor)
    if factor != 1 and adapter.modality != "image":
        raise MuseError(f"--scale: only pictures are scaled, not {adapter.modality}")


class _Decoded(Sequence):
    """A batch of tensors ``(count, channels, steps, width)`` read as the modality's objects,
    each decoded when first asked for (a sound's Griffin-Lim is not free)."""

    def __init__(self, adapter, tensors: torch.Tensor):
        self.adapter, self.tensors = adapter, tensors
        self._decoded: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.tensors)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[number] for number in range(len(self))[index]]
        number = range(len(self))[index]  # negative indices, and IndexError past the end
        if number not in self._decoded:
            self._decoded[number] = self.adapter.decode(self.tensors[number])
        return self._decoded[number]

    def scaled(self, factor: int):
        """The same pictures ``factor`` times as wide and as high, each pixel a ``factor`` ×
        ``factor`` square (nearest neighbour), so that 16 × 16 digits are not thumbnails:
        ``digits.sample(16, seed=0, label="7").scaled(4).write("sevens.png")``."""
        check_scalable(self.adapter, factor)
        tensors = self.tensors.repeat_interleave(factor, -2).repeat_interleave(factor, -1)
        return type(self)(self.adapter, tensors)


class Items(_Decoded):
    """Items a model made: a sequence of the modality's objects (PIL images, waveforms,
    strings) that also holds their tensors and writes itself: ``items.write("grid.png")`` gives
    the same bytes as ``muse sample -o grid.png``."""

    def file_bytes(self, suffix: str, index: int | None = None) -> bytes:
        """All the items as one file of the format ``suffix`` names (pictures: a grid; sounds
        and texts: one after another), or the item ``index`` alone; ``DataError`` for a format
        the modality cannot write (an invalid ABC tune as MIDI)."""
        if index is not None:
            return self.adapter.file_bytes(self.tensors[index], suffix)
        return self.adapter.file_bytes(self.tensors if len(self) > 1 else self.tensors[0], suffix)

    def write(self, path) -> None:
        write_atomically(Path(path), _in_words(lambda: self.file_bytes(Path(path).suffix)))


class Animation(_Decoded):
    """The frames of a loop through a latent space, as the modality's objects; writes itself
    as a GIF (``animation.write("walk.gif", fps=12)`` = ``muse animate -o walk.gif --fps 12``)."""

    def file_bytes(self, fps: float = 12.0) -> bytes:
        return self.adapter.animation_bytes(self.tensors, 1 / fps)

    def write(self, path, fps: float = 12.0) -> None:
        write_atomically(Path(path), self.file_bytes(fps))


def _in_words(make_bytes) -> bytes:
    """``make_bytes()``, a ``DataError`` (a format the modality cannot write) as a ``MuseError``."""
    try:
        return make_bytes()
    except DataError as error:
        raise MuseError(str(error)) from None


class _single_thread:
    def __enter__(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc_info):
        torch.set_num_threads(self.threads)
