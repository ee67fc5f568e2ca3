"""The models a server serves: each loaded once, used by one request at a time, and described
by the controls it understands.

A model's objective may hold state for the length of a call (a GAN's decoding), so one model
runs one request at a time, on its own thread; different models run side by side. A request
waits at most until its deadline, queued or running: past it, the client is answered and a
job not yet started is skipped (one already running finishes, bounded by the bars limit, and
its answer is dropped).

The controls are read off the model: the adapter's and objective's capability classes, and
the parameters of ``MuseModel.compose`` (a parameter the library gains is listed, and taken
in requests, without a change here).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import MuseError
from ..options import LIMITS, PULLS
from .clips import Limits, Refused
from .schema import MAX_SEED


class Served:
    """One model by name: loaded on its own thread, then running one request at a time."""

    def __init__(self, name: str, limits: Limits, queue: int):
        self.name, self.limits, self.queue = name, limits, queue
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"model {name}")
        self.waiting = 0
        self.info: dict = {}  # what GET /models says of it, once loaded
        self._model = None

    def model(self):
        """The loaded ``MuseModel`` (loads it on first use; call on the model's thread)."""
        if self._model is None:
            from ..api import load

            model = load(self.name)
            model.check_composes()
            self.info = describe(self.name, model, self.limits)
            self._model = model
        return self._model

    def preload(self):
        """Start loading on the model's thread; a request for it waits behind the load."""
        return self.executor.submit(self.model)

    async def run(self, job, deadline: float):
        """``job(model)`` on the model's thread, answered by ``deadline`` (``time.monotonic``)."""
        if self.waiting >= self.queue:
            raise Refused(
                503, f"model: {self.name} has {self.waiting} requests waiting; try again soon"
            )

        def guarded():
            if time.monotonic() > deadline:  # its client has been answered already
                raise TimeoutError
            import torch

            muse = self.model()
            try:
                with torch.inference_mode():  # the library's own kernels, less bookkeeping per op
                    return job(muse)
            except Refused:
                raise
            except MuseError as error:  # the library names the model by its file
                raise MuseError(str(error).replace(str(muse.path), self.name)) from None

        self.waiting += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self.executor, guarded)
            return await asyncio.wait_for(future, max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            raise Refused(
                504, f"model: {self.name} took longer than the server's time limit"
            ) from None
        finally:
            self.waiting -= 1

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class Catalog:
    """The served models, the first being the default."""

    def __init__(self, names: list[str], limits: Limits, queue: int = 32):
        self.limits = limits
        self.served = {name: Served(name, limits, queue) for name in names}

    def get(self, name: str | None) -> Served:
        if name is None:
            return next(iter(self.served.values()))
        if name not in self.served:
            raise Refused(
                404, f"model: '{name}' is not served here (served: {', '.join(self.served)})"
            )
        return self.served[name]

    def close(self) -> None:
        for served in self.served.values():
            served.close()


# what a model understands

# compose's parameters that the request schema declares itself
DECLARED = ("bars", "seed", "temperature", "tempo", "primer", "decode", "transpose")


def describe(name: str, muse, limits: Limits) -> dict:
    """What ``GET /models`` says of one loaded model: its voices, meter and pitch range, the
    controls ``compose`` understands, and its endpoints with what each takes."""
    from ..core.objective import FillsMasks, Interpolates

    sample = muse.adapter.piece(_silence(muse))
    signature = sample.time_signature_changes[0]
    settings = muse.adapter.settings
    endpoints = {"compose": {}, "continue": {"primer": _primer_role(muse)}}
    if isinstance(muse.objective, Interpolates):
        endpoints["interpolate"] = {"steps": _number("integer", 2, 64, 5)}
    fills = isinstance(muse.objective, FillsMasks)
    kept = constraint_controls(muse) if fills else {}  # the hard constraints its fills keep
    if fills:
        endpoints["infill"] = {"bars": {"type": "text"}, "tracks": {"type": "text"}} | kept
    if muse.harmonizes:  # a GAN that accompanies its first track keeps no constraints
        endpoints["harmonize"] = {"melody": {"type": "clip"}} | kept
    return {
        "name": name,
        "family": muse.objective.family,
        "voices": [part.name for part in sample.instruments],
        "meter": f"{signature.numerator}/{signature.denominator}",
        "tempo": sample.tempo,
        "pitch_range": [settings.pitch_low, settings.pitch_high],
        "controls": controls(muse, limits),
        "endpoints": endpoints,
    }


def controls(muse, limits: Limits) -> dict:
    """The compose controls this model understands, each with its type, range and default."""
    from ..core.objective import DecodesProbabilities

    found = {
        "bars": _number("integer", 1, limits.bars, 16),
        "seed": _number("integer", 0, MAX_SEED, None) | {"note": "default: random, answered"},
        "temperature": _number("number", 0, 10, 1.0) | {"note": "above 0"},
        "tempo": _number("number", 10, 400, muse.adapter.settings.tempo),
        "transpose": _number("integer", -24, 24, 0) | {"unit": "semitones"},
    }
    if isinstance(muse.objective, DecodesProbabilities):
        found["decode"] = {
            "type": "choice",
            "choices": list(DecodesProbabilities.DECODINGS),
            "default": muse.objective.decode,
        }
    listed = library_controls(muse.compose)
    # the soft pulls: only those the model takes, with its own values as their defaults
    pulls = {name: pull_control(muse, name) for name in muse.pulls}
    return found | {name: kind for name, kind in listed.items() if name not in PULLS} | pulls


def pull_control(muse, name: str) -> dict:
    """A pull's field, defaulting to the model's own value; where that differs by class (a
    meter, a voice count: ``midi.class_pulls``) no default and ``by_class``, so that a page
    sends none and the model's own for the class asked is used, as from the command line."""
    pull = PULLS[name]
    kind = "integer" if pull.whole else "number"
    adapter = muse.adapter
    own = adapter.own_pulls()[name]
    others = {
        label: strength
        for number, label in enumerate(adapter.classes)
        if (strength := adapter.own_pulls(number)[name]) != own
    }
    if not others:
        return _number(kind, pull.low, pull.high, own)
    listed = ", ".join(f"{label}: {strength:g}" for label, strength in others.items())
    note = f"default: the model's own for the class asked ({listed}; else {own:g})"
    return _number(kind, pull.low, pull.high, None) | {"by_class": True, "note": note}


def library_controls(call, declared: tuple[str, ...] = DECLARED) -> dict:
    """Parameters of ``call`` (a ``MuseModel`` method: ``compose``) that the request schema
    does not declare: listed with their type (from the annotation) and default, passed
    through by name; a whole number the options limit (voices, velocity, first_bar) with its
    range, as the declared fields have theirs. /infill and /harmonize take their method's
    ``**constraints``, listed as ``compose``'s (``constraint_controls``)."""
    parameters = inspect.signature(call).parameters
    taken = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        name: _control(name, _kind(parameter.annotation), _json_default(parameter.default))
        for name, parameter in parameters.items()
        if name not in declared and parameter.kind in taken
    }


def _control(name: str, kind: str, default) -> dict:
    """A listed parameter's field: with its range where it is a whole number the options limit
    (not ``scale``: compose's is a musical scale, text; LIMITS' a picture's pixel scale)."""
    if kind == "integer" and name in LIMITS:
        return _number(kind, *LIMITS[name], default)
    return {"type": kind, "default": default}


def constraint_controls(muse) -> dict:
    """The hard constraints (``key``, ``chords``, ...) as ``compose`` lists them: what a model
    that fills masks keeps in ``infill`` and ``harmonize`` too, which take them by name."""
    from ..model import CONSTRAINTS

    listed = library_controls(muse.compose)
    return {name: listed[name] for name in CONSTRAINTS if name in listed}


# a parameter's annotation (without None) as the kind the page and scripts know, and what a
# value of that kind is in JSON; any other annotation is "json": any value, the library checks it
KINDS = {"bool": "boolean", "int": "integer", "float": "number", "str": "text"}
VALUES = {
    "boolean": ((bool,), "true or false"),
    "integer": ((int,), "a whole number"),
    "number": ((int, float), "a number"),
    "text": ((str,), "a string"),
}


def _kind(annotation) -> str:
    """A parameter's type as the page and scripts know them, from its annotation ("int | None")."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    names = {part.strip() for part in text.split("|")} - {"None"}
    return KINDS.get(names.pop(), "json") if len(names) == 1 else "json"


def check_control(name: str, value, control: dict) -> None:
    """Refuses ``value`` for the listed ``control`` unless it is of the control's kind (or null),
    so a pass-through control of the wrong type is a 422 naming it, not a failure inside."""
    if value is None or control["type"] not in VALUES:
        return
    types, wanted = VALUES[control["type"]]
    if isinstance(value, bool) != (control["type"] == "boolean") or not isinstance(value, types):
        raise Refused(422, f"{name}: should be {wanted}, not {json.dumps(value)}")


def _number(kind: str, low, high, default) -> dict:
    return {"type": kind, "min": low, "max": high, "default": default}


def _json_default(value):
    if value is inspect.Parameter.empty:
        return None
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def accompanies(muse) -> int | None:
    """The voice of a primer that this model keeps and accompanies (bach-gan: the soprano,
    0); None for a model that continues a primer instead."""
    # The library declares no capability for accompanying; the GAN's setting says it.
    track = getattr(muse.objective, "condition_track", -1)
    return track if track >= 0 else None


def _primer_role(muse) -> str:
    """What a primer does for this model: continued, or its melody accompanied."""
    track = accompanies(muse)
    if track is not None:
        return f"accompanies: keeps the clip's voice {track} and writes the others"
    return "continues: the piece starts with the clip"


def _silence(muse):
    import torch

    spec = muse.adapter.spec
    return torch.zeros(spec.channels, muse.adapter.steps_per_bar, spec.width, dtype=torch.uint8)
