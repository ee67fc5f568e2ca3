"""The HTTP face of `muse serve`: a FastAPI app over the served models.

Every refusal is JSON ``{"error": "FIELD: reason"}`` with a 4xx status naming the field; an
unexpected failure is a 500 with one line, and the server goes on. Same request with the same
seed, same bytes: the answer is the library's own ``Piece.file_bytes``.

Controls the library's ``compose`` gains (a key, constraints) need no change here: they are
listed and passed through by name (``models.library_controls``); /infill and /harmonize take
the hard constraints among them the same way, listed under the endpoint. An endpoint for a
``MuseModel`` method (/infill, /harmonize) is a request model in ``schema``, a route below whose
job calls the method through ``Served.run`` (one request at a time per model, the time limit,
errors as one line), and its entry in ``models.describe``'s endpoints where the model's
capability says it can; the page shows its infill panel once a model lists "infill".
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import MuseError
from ..version import __version__
from .clips import Limits, Refused, clip_piece, piece_notes
from .models import DECLARED, Catalog, check_control
from .schema import (
    ComposeRequest,
    ContinueRequest,
    HarmonizeRequest,
    InfillRequest,
    InterpolateRequest,
    RenderRequest,
)

STATIC = resources.files(__package__) / "static"
MEDIA = {"midi": "audio/midi", "wav": "audio/wav"}
SUFFIX = {"midi": ".mid", "wav": ".wav"}
TOKEN_COOKIE = "muse_token"
RENDER_SECONDS = 600  # the longest clip /render plays: ten minutes of audio is about 26 MB


def create_app(catalog: Catalog, token: str | None = None, hosts: set[str] | None = None):
    """The app serving ``catalog``; with ``token``, every request must carry it; with
    ``hosts``, only those Host headers are answered (a page elsewhere that renames itself to
    127.0.0.1, DNS rebinding, gets nothing)."""
    limits = catalog.limits
    body_limit = 4 * limits.clip_bytes + 200 * limits.notes  # two clips, base64 or notes
    renderer = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="render")

    @asynccontextmanager
    async def lifespan(_app):
        yield
        renderer.shutdown(wait=True)

    app = FastAPI(
        lifespan=lifespan,
        title="muse_gan server",
        version=__version__,
        description="Compose, continue, interpolate and render MIDI with muse_gan's models.",
        docs_url=None,  # their pages load scripts from a CDN, which a local server cannot promise
        redoc_url=None,
        max_body_size=body_limit,
    )
    app.add_middleware(Guard, token=token, hosts=hosts)
    _handle_errors(app)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        answer = HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))
        if token:  # the page's own requests (its script, its style) carry it from here on
            answer.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return answer

    @app.get("/models", summary="The served models and the controls each understands")
    async def models():
        listed = [await _described(served, limits) for served in catalog.served.values()]
        return {"models": listed, "limits": _limits_json(limits)}

    @app.post("/compose", summary="A new piece")
    async def compose(request: ComposeRequest):
        return await _composed(catalog, renderer, request, None)

    @app.post("/continue", summary="A piece that starts with a clip (or accompanies its melody)")
    async def continue_(request: ContinueRequest):
        return await _composed(catalog, renderer, request, request.primer)

    @app.post("/interpolate", summary="Clips on a path between two clips (VAE models)")
    async def interpolate(request: InterpolateRequest):
        served, seed = catalog.get(request.model), _seed(request.seed)
        deadline = time.monotonic() + limits.seconds
        clips = await _read_clips(served, renderer, deadline, start=request.start, end=request.end)

        def job(muse):
            pieces = muse.interpolate(
                clips["start"],
                clips["end"],
                request.steps,
                seed,
                request.temperature,
                request.tempo,
            )
            return _payload(muse.join(pieces), request.format)

        return await _answer(served, renderer, job, request.format, seed, deadline)

    @app.post("/infill", summary="A clip with chosen bars and voices composed anew, the rest kept")
    async def infill(request: InfillRequest):
        from ..modalities.midi.selection import parse_bars

        served, seed = catalog.get(request.model), _seed(request.seed)
        deadline = time.monotonic() + limits.seconds
        bars = parse_bars(request.bars)
        clips = await _read_clips(served, renderer, deadline, clip=request.clip)
        asked = _library_extras(served, request, "infill")

        def job(muse):
            piece = muse.infill(
                clips["clip"],
                bars,
                request.tracks,
                seed,
                request.temperature,
                request.tempo,
                **asked,
            )
            return _payload(piece, request.format)

        return await _answer(served, renderer, job, request.format, seed, deadline)

    @app.post("/harmonize", summary="The other voices under a melody, the melody kept")
    async def harmonize(request: HarmonizeRequest):
        served, seed = catalog.get(request.model), _seed(request.seed)
        deadline = time.monotonic() + limits.seconds
        clips = await _read_clips(served, renderer, deadline, melody=request.melody)
        asked = _library_extras(served, request, "harmonize")

        def job(muse):
            piece = muse.harmonize(
                clips["melody"], seed, request.temperature, request.tempo, **asked
            )
            return _payload(piece, request.format)

        return await _answer(served, renderer, job, request.format, seed, deadline)

    @app.post("/render", summary="A clip played into a WAV", response_class=Response)
    async def render(request: RenderRequest):
        def job():
            from ..modalities.midi.render import render as play
            from ..modalities.midi.render import wav_bytes

            piece = clip_piece(request.clip, "clip", limits)
            if piece.get_end_time() > RENDER_SECONDS:
                raise MuseError(
                    f"clip: lasts {piece.get_end_time():.0f} s, over the {RENDER_SECONDS} s "
                    f"the server renders"
                )
            waveform = play(piece, request.sample_rate, synth=request.synth)
            return wav_bytes(waveform, request.sample_rate)

        data = await _in_time(renderer, job, time.monotonic() + limits.seconds)
        return Response(data, media_type=MEDIA["wav"], headers=_download("render", None, "wav"))

    return app


async def _described(served, limits: Limits) -> dict:
    if not served.info:  # still loading: wait for it
        await served.run(lambda muse: None, time.monotonic() + limits.seconds)
    return served.info


def _limits_json(limits: Limits) -> dict:
    return {
        "bars": limits.bars,
        "clip_bytes": limits.clip_bytes,
        "notes": limits.notes,
        "seconds": limits.seconds,
    }


async def _composed(catalog: Catalog, renderer, request: ComposeRequest, primer):
    limits = catalog.limits
    limits.check_bars(request.bars)
    served, seed = catalog.get(request.model), _seed(request.seed)
    deadline = time.monotonic() + limits.seconds
    clips = await _read_clips(served, renderer, deadline, primer=primer)
    extras = _library_extras(served, request)

    def job(muse):
        piece = muse.compose(
            bars=request.bars,
            seed=seed,
            temperature=request.temperature,
            tempo=request.tempo,
            primer=clips["primer"],
            decode=request.decode,
            transpose=request.transpose,
            **extras,
        )
        return _payload(piece, request.format)

    return await _answer(served, renderer, job, request.format, seed, deadline)


async def _read_clips(served, renderer, deadline: float, **clips) -> dict:
    """The request's clips by field as pieces (None where not given), read off the model's
    thread, before the request queues for it: a clip over the limits waits for nothing."""
    limits = served.limits
    await _described(served, limits)  # the voices, to name a notes clip's parts after
    voices = tuple(served.info["voices"])

    def read():
        return {
            field: clip_piece(clip, field, limits, voices) if clip is not None else None
            for field, clip in clips.items()
        }

    return await _in_time(renderer, read, deadline, "clips")


def _library_extras(served, request, endpoint: str = "compose") -> dict:
    """The request's undeclared controls, each one ``endpoint`` takes with a value of its listed
    type; else refused by name. Compose takes the model's listed controls (what its ``compose``
    takes); /infill and /harmonize the ones listed under the endpoint besides its fields (the
    hard constraints, where the model keeps them). For an endpoint the model does not list, the
    library's own refusal answers (it names a model that can)."""
    extras = request.model_extra or {}
    if endpoint == "compose":
        listed, where = served.info["controls"], ""
    elif endpoint in served.info["endpoints"]:
        fields = type(request).model_fields
        listed = {
            name: control
            for name, control in served.info["endpoints"][endpoint].items()
            if name not in fields
        }
        where = f" on /{endpoint}"
    else:
        return extras
    for control, value in extras.items():
        if control not in listed or control in DECLARED:
            raise Refused(
                422,
                f"{control}: {served.name} takes no such control{where} "
                f"(its controls: {', '.join(listed) or 'none beyond its fields'})",
            )
        check_control(control, value, listed[control])
    return extras


def _payload(piece, format: str):
    """What goes back for ``format``: MIDI bytes, notes as JSON, or the piece itself (a WAV
    is rendered off the model's thread)."""
    if format == "midi":
        return piece.file_bytes(".mid")
    if format == "notes":
        return piece_notes(piece)
    return piece


async def _answer(served, renderer, job, format: str, seed: int, deadline: float) -> Response:
    result = await served.run(job, deadline)
    if format == "wav":
        result = await _in_time(renderer, lambda: result.file_bytes(".wav"), deadline)
    headers = {"X-Muse-Seed": str(seed), "X-Muse-Model": served.name}
    if format == "notes":
        return JSONResponse(result | {"model": served.name, "seed": seed}, headers=headers)
    headers |= _download(served.name, seed, format)
    return Response(result, media_type=MEDIA[format], headers=headers)


async def _in_time(executor, job, deadline: float, what: str = "render"):
    """``job()`` on ``executor``, answered by ``deadline``; 504 naming ``what`` past it."""
    future = asyncio.get_running_loop().run_in_executor(executor, job)
    try:
        return await asyncio.wait_for(future, max(deadline - time.monotonic(), 0.001))
    except TimeoutError:
        raise Refused(504, f"{what}: took longer than the server's time limit") from None


def _download(stem: str, seed: int | None, format: str) -> dict:
    name = f"{stem}-seed{seed}" if seed is not None else stem
    return {"Content-Disposition": f'attachment; filename="{name}{SUFFIX[format]}"'}


def _seed(seed: int | None) -> int:
    return seed if seed is not None else int.from_bytes(os.urandom(4), "little") >> 1


# refusals as one line each


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request, error: RequestValidationError):
        return _error(422, _validation_line(error.errors()))

    @app.exception_handler(Refused)
    async def refused(_request, error: Refused):
        return _error(error.status, str(error))

    @app.exception_handler(MuseError)
    async def unusable(_request, error: MuseError):
        return _error(400, field_line(str(error)))

    @app.exception_handler(Exception)
    async def failed(_request, error: Exception):
        first = str(error).splitlines()[0] if str(error) else ""
        return _error(500, f"internal error: {type(error).__name__}: {first}".rstrip(": "))


def _error(status: int, line: str) -> JSONResponse:
    return JSONResponse({"error": line}, status_code=status)


def _validation_line(errors) -> str:
    """Pydantic's first complaint as ``field.path: reason``."""
    if not errors:
        return "body: not valid"
    first = errors[0]
    where = [str(part) for part in first.get("loc", ()) if part != "body"]
    reason = first.get("msg", "not valid").removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        return f"body: not valid JSON ({first.get('ctx', {}).get('error', reason)})"
    if not where:
        return "body: send a JSON object, with the header Content-Type: application/json"
    return f"{'.'.join(where) or 'body'}: {reason}"


def field_line(message: str) -> str:
    """A library message naming command-line options (``--primer clip: it is 2 bars long;
    --bars must be at least that``) as one naming the request's fields (``primer: it is 2 bars
    long; bars must be at least that``)."""
    # a clip the request sent is a PrettyMIDI to the library, and named by its repr
    message = re.sub(r" (<pretty_midi\.\S* object at \w+>|clip):", ":", message)
    return re.sub(r"--([a-z][a-z-]*)", lambda option: option[1].replace("-", "_"), message)


class Guard:
    """Checks every request's Host header (when ``hosts`` is given) and token (when set)."""

    def __init__(self, app, token: str | None, hosts: set[str] | None):
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope) -> JSONResponse | None:
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        host = headers.get("host", "")
        if self.hosts is not None and host not in self.hosts:
            return _error(421, f"Host: {host or '(none)'} is not this server's address")
        if self.token and not self._token_given(headers, scope):
            return _error(
                401,
                "token: missing or wrong (send the header 'Authorization: Bearer TOKEN', "
                "or ?token=TOKEN in the address)",
            )
        return None

    def _token_given(self, headers: dict, scope) -> bool:
        from http.cookies import SimpleCookie
        from urllib.parse import parse_qs

        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        cookie = SimpleCookie(headers.get("cookie", "")).get(TOKEN_COOKIE)
        offered = [
            headers.get("authorization", "").removeprefix("Bearer ").strip(),
            (query.get("token") or [""])[0],
            cookie.value if cookie else "",
        ]
        return any(
            hmac.compare_digest(given.encode(), self.token.encode()) for given in offered if given
        )
