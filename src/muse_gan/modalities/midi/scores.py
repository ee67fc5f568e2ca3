"""Notated scores (MusicXML, ABC) turned into ``pretty_midi.PrettyMIDI`` objects via music21.

Units: music21 measures time in quarter notes ("quarters"), pretty_midi in seconds. Each
piece is converted at a single tempo, so ``seconds = quarters * 60 / qpm``.

music21 takes about a third of a second to import, so it is imported inside the functions
that need it; importing this module stays cheap for the command line.

Example::

    for path in bach_chorales()[:10]:
        (chorale,) = read_scores(path)
"""

import contextlib
import importlib.util
import io
import os
import pathlib
import re

import pretty_midi

from ...errors import DataError, MuseError
from ...timeouts import time_limit

SCORE_SUFFIXES = (
    ".mxl",
    ".musicxml",
    ".xml",
    ".abc",
    ".krn",
)  # .krn: Humdrum (music21's Palestrina)
MAX_ABC_BARS = 1000


def _score_seconds() -> float:
    """60 s, or ``MUSE_GAN_SCORE_SECONDS``: music21 reads a chorale in 0.2 s; a few odd files would
    take it many minutes. An environment variable, so that the processes preparing data in
    parallel (spawned: they import this module afresh) keep a changed limit."""
    text = os.environ.get("MUSE_GAN_SCORE_SECONDS", "60")
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise MuseError(f"MUSE_GAN_SCORE_SECONDS={text}: expected a number of seconds above 0")
    return seconds


SCORE_SECONDS = _score_seconds()
SECONDS_PER_TUNE = 1.0  # of an ABC collection: 25 times what a tune takes on a quiet machine
MAX_SCORE_BYTES = 50_000_000  # of notation; the largest score in music21's corpus (a Beethoven quartet) unpacks to 11 MB
DEFAULT_VELOCITY = 80

# Chorales in music21's corpus are named after their BWV number: a movement of a cantata,
# passion or oratorio is "bwv<work>.<movement>", and the free-standing four-part chorales are
# BWV 250-438. Names with a suffix ("-a", "-inst", "-w", ...) are alternative versions of a
# setting (another instrumentation, an earlier version), left out so a setting is counted once.
_CHORALE_FILE = re.compile(r"bwv(\d+)(\.\d+)?\.mxl")
_FREE_STANDING_CHORALES = range(250, 439)


def read_scores(
    path, default_tempo: float = 100.0, default_program: int = 0
) -> list[pretty_midi.PrettyMIDI]:
    """One PrettyMIDI per piece in the score file at ``path``, in file order.

    MusicXML holds one piece; an ABC file can hold many tunes (``X:`` headers). Tied notes
    become one note, a pickup bar is padded so bar lines fall at whole multiples of the bar
    length from time 0, and each part becomes one instrument named after the part. The
    first metronome mark sets the tempo (else ``default_tempo``, in quarter notes per
    minute); a part without a MIDI program gets ``default_program``. Repeats are not
    expanded: notes come in written order.

    Raises ``DataError`` naming the file when it cannot be read or a piece has no notes.

    Example::

        tunes = read_scores("session.abc")   # one PrettyMIDI per tune
    """
    path = pathlib.Path(path)
    with _in_time(path, _seconds_for(path)):
        return _read_scores(path, default_tempo, default_program)


def _seconds_for(path: pathlib.Path) -> float:
    """The time music21 may take over ``path``: ``SCORE_SECONDS``, and for an ABC collection
    ``SECONDS_PER_TUNE`` a tune when that is more (Essen's files hold 300 tunes: 13 s on a quiet
    machine, past a minute on a busy one, and should not be refused for their length)."""
    if path.suffix.lower() != ".abc" or not path.is_file():
        return SCORE_SECONDS
    with open(path, "rb") as file:
        tunes = sum(line.startswith(b"X:") for line in file)
    return max(SCORE_SECONDS, tunes * SECONDS_PER_TUNE) if tunes > 1 else SCORE_SECONDS


class _TooSlow(BaseException):
    """music21 took over ``SCORE_SECONDS`` on one file (a BaseException: music21's own
    ``except Exception`` blocks must not swallow it)."""


@contextlib.contextmanager
def _in_time(where, seconds: float = 0.0):
    """music21's reading limited to ``seconds`` (default ``SCORE_SECONDS``); past that, a
    ``DataError`` naming ``where``."""
    seconds = seconds or SCORE_SECONDS
    try:
        with time_limit(seconds, _TooSlow):
            yield
    except _TooSlow:
        raise DataError(
            f"{where}: not read within {seconds:g} s (music21 slows down badly on some files)"
        ) from None


def _read_scores(
    path: pathlib.Path, default_tempo: float, default_program: int
) -> list[pretty_midi.PrettyMIDI]:
    pieces = _parse_pieces(path)
    midis, reasons = [], []
    for number, score in enumerate(pieces, start=1):
        piece = f"piece {number}" if len(pieces) > 1 else "the score"
        try:
            midi = _score_to_midi(score, default_tempo, default_program)
        # music21 parses odd files into streams its own methods then trip over
        except Exception as error:
            reasons.append(f"{path}: {piece} cannot be read as music ({_one_line(error)})")
            continue
        if not any(track.notes for track in midi.instruments):
            reasons.append(f"{path}: {piece} has no notes")
            continue
        midis.append(midi)
    if not midis:  # one odd tune in a collection costs that tune, not the collection
        first = reasons[0].removeprefix(f"{path}: ")
        raise DataError(
            reasons[0]
            if len(pieces) == 1
            else f"{path}: none of its {len(pieces)} pieces is usable ({first})"
        )
    return midis


def abc_to_midi(
    tune: str, default_tempo: float = 100.0, default_program: int = 0
) -> pretty_midi.PrettyMIDI:
    """One ABC tune (text) as a PrettyMIDI, as ``read_scores`` reads a file's. Raises
    ``DataError`` when music21 cannot parse it or it holds no notes."""
    _short_enough(tune, "the tune")
    with _in_time("the tune"):
        midi = _parse_tune(tune, default_tempo, default_program)
    if not any(track.notes for track in midi.instruments):
        raise DataError("no notes")
    return midi


def _parse_tune(tune: str, default_tempo: float, default_program: int) -> pretty_midi.PrettyMIDI:
    from music21 import stream

    try:
        # music21 prints a warning line per odd note it guesses at; a generated tune may have dozens
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            parsed = _parse(_with_unit_length(tune), format="abc")
        if isinstance(parsed, stream.Opus):
            parsed = parsed.scores[0]
        return _score_to_midi(parsed, default_tempo, default_program)
    except Exception as error:  # music21's parsers fail with anything from ParseError to IndexError
        raise DataError(f"not valid ABC ({_one_line(error)})") from None


def _with_unit_length(tune: str) -> str:
    """The tune with an ``L:`` field: music21 refuses notes without one, where the ABC standard
    (2.1, section 3.1.7) gives a default: 1/16 under a meter below 3/4, else 1/8."""
    if re.search(r"^L:", tune, re.MULTILINE):
        return tune
    meter = re.search(r"^M:\s*(\d+)\s*/\s*(\d+)", tune, re.MULTILINE)
    short = (
        meter is not None
        and int(meter.group(2))
        and int(meter.group(1)) / int(meter.group(2)) < 0.75
    )
    unit = "L:1/16" if short else "L:1/8"
    header = re.search(r"^X:[^\n]*\n", tune, re.MULTILINE)
    at = header.end() if header else 0
    return tune[:at] + unit + "\n" + tune[at:]


def bach_chorales() -> list[pathlib.Path]:
    """Paths of the Bach chorales in music21's corpus, sorted by file name.

    Only lists the corpus folder: nothing is parsed, and music21 is not imported.
    """
    folder = music21_corpus() / "bach"
    chorales = (path for path in folder.glob("bwv*.mxl") if _is_chorale_file(path.name))
    return sorted(chorales, key=lambda path: path.name)


# music21's collections of ABC folk tunes: 12,949 melodies in 2/4, 3/4, 4/4, 6/8, 9/8 and more
FOLK_COLLECTIONS = (
    "essenFolksong",
    "oneills1850",
    "ryansMammoth",
    "airdsAirs",
    "miscFolk",
    "nottingham-dataset",
)


def folk_tunes() -> list[pathlib.Path]:
    """The ABC files of music21's folk collections, by collection and then name (no parsing)."""
    corpus = music21_corpus()
    return [
        path
        for collection in FOLK_COLLECTIONS
        for path in sorted((corpus / collection).rglob("*.abc"))
    ]


def palestrina_pieces() -> list[pathlib.Path]:
    """The 1,318 Humdrum (.krn) files of Palestrina's masses and motets in music21's corpus,
    sorted by name: polyphony of four to six and more voices (no parsing)."""
    return sorted((music21_corpus() / "palestrina").glob("*.krn"), key=lambda path: path.name)


def music21_corpus() -> pathlib.Path:
    # find_spec locates the package without running its (slow) __init__.
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "music21 is needed for its corpus (chorales, folk tunes, Palestrina)"
        )
    return pathlib.Path(spec.origin).parent / "corpus"


def _is_chorale_file(name: str) -> bool:
    match = _CHORALE_FILE.fullmatch(name)
    if match is None:
        return False
    is_movement = match.group(2) is not None
    return is_movement or int(match.group(1)) in _FREE_STANDING_CHORALES


def _parse_pieces(path: pathlib.Path) -> list:
    """The music21 Scores in the file: one, or one per tune of an ABC file."""
    _check_readable(path)
    from music21 import stream

    try:
        parsed = _parse(path)
    except Exception as error:  # music21's parsers fail with anything from ParseError to IndexError
        raise DataError(f"{path}: not a readable score ({_one_line(error)})") from error
    if isinstance(parsed, stream.Opus):
        return list(parsed.scores)
    return [parsed]


def _parse(source, **options):
    """music21's parse, without beaming. music21 beams every ABC tune it reads, in time
    quadratic in its bars (512 bars of quavers: 7.3 s, of which beaming 6.6 s); beams are
    engraving, not music, and no option turns them off, so the method is stubbed for the parse.
    forceSource: no pickled copy is read from or written to music21's scratch folder."""
    from music21 import converter, stream

    beam = stream.Stream.makeBeams
    stream.Stream.makeBeams = _no_beams
    try:
        return converter.parse(source, forceSource=True, **options)
    finally:
        stream.Stream.makeBeams = beam


def _no_beams(self, *, inPlace=False, **_):
    return None if inPlace else self


def _short_enough(abc: str, where) -> str:
    """The ABC text, unless a tune in it has over ``MAX_ABC_BARS`` bar lines: music21's reading
    still grows faster than the length (2,700 bars: minutes), and no folk tune is that long."""
    for tune in re.split(r"^X:", abc, flags=re.MULTILINE):
        if tune.count("|") > MAX_ABC_BARS:
            raise DataError(
                f"{where}: a tune of over {MAX_ABC_BARS} bars (music21 would take minutes over it)"
            )
    return abc


def _check_readable(path: pathlib.Path) -> None:
    if path.suffix.lower() not in SCORE_SUFFIXES:
        raise DataError(f"{path}: not a score file (expected {', '.join(SCORE_SUFFIXES)})")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: empty file")
    if path.suffix.lower() == ".mxl":
        size = _unpacked_size(path)
    if size > MAX_SCORE_BYTES:
        raise DataError(
            f"{path}: {size} bytes of notation is over the {MAX_SCORE_BYTES} a score may have"
        )
    if path.suffix.lower() == ".abc":
        _short_enough(path.read_text(encoding="utf-8", errors="replace"), path)


def _unpacked_size(path: pathlib.Path) -> int:
    """What a compressed MusicXML file unpacks to, from its zip directory (nothing is unpacked):
    a zip bomb is refused before music21 inflates it in memory. Python's zipfile never inflates
    a member past the size the directory gives, so a directory that lies doesn't help a bomb."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise DataError(
            f"{path}: not a readable compressed MusicXML file ({_one_line(error)})"
        ) from None


def _one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return reason[:120]


def _score_to_midi(score, default_tempo: float, default_program: int) -> pretty_midi.PrettyMIDI:
    score.stripTies(inPlace=True)
    qpm = _quarter_bpm(score) or default_tempo
    midi = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    timing = _Timing(seconds_per_quarter=60.0 / qpm, pickup_padding=_pickup_padding(score))
    midi.time_signature_changes.extend(_time_signatures(score, timing))
    parts = list(score.parts) or [score]  # a bare stream of notes reads as one part
    for number, part in enumerate(parts, start=1):
        midi.instruments.append(_part_to_instrument(part, number, default_program, timing))
    return midi


def _quarter_bpm(score) -> float | None:
    from music21 import tempo

    mark = score.recurse().getElementsByClass(tempo.MetronomeMark).first()
    bpm = mark.getQuarterBPM() if mark is not None else None
    return float(bpm) if bpm is not None and bpm > 0 else None


def _time_signatures(score, timing: "_Timing") -> list[pretty_midi.TimeSignature]:
    """Every change of time signature, in the first part that has one (4/4 without any); a
    signature repeated in each part or bar counts once."""
    from music21 import meter

    parts = list(score.parts) or [score]
    for part in parts:
        found = list(part.flatten().getElementsByClass(meter.TimeSignature))
        if found:
            break
    else:
        return [pretty_midi.TimeSignature(4, 4, 0.0)]
    changes = []
    for signature in found:
        start = 0.0 if not changes else timing.seconds(signature.offset)
        if not changes or (changes[-1].numerator, changes[-1].denominator) != (
            signature.numerator,
            signature.denominator,
        ):
            changes.append(
                pretty_midi.TimeSignature(signature.numerator, signature.denominator, start)
            )
    return changes


def _pickup_padding(score) -> float:
    """Quarters missing from a short first bar; music21 stores them as ``paddingLeft``."""
    from music21 import stream

    first_bar = score.recurse().getElementsByClass(stream.Measure).first()
    return float(first_bar.paddingLeft) if first_bar is not None else 0.0


class _Timing:
    """Turns a music21 offset in quarters, counted from the part's start, into seconds."""

    def __init__(self, seconds_per_quarter: float, pickup_padding: float):
        self.seconds_per_quarter = seconds_per_quarter
        self.pickup_padding = pickup_padding

    def seconds(self, offset_quarters: float) -> float:
        return (float(offset_quarters) + self.pickup_padding) * self.seconds_per_quarter


def _part_to_instrument(part, number: int, default_program: int, timing: _Timing):
    sound = part.getInstrument()  # a plain Instrument when the part names none
    program = sound.midiProgram if sound.midiProgram in range(128) else default_program
    track = pretty_midi.Instrument(
        program=program, is_drum=_is_percussion(sound), name=_part_name(part, number)
    )
    flat = part.flatten()
    for element in flat.notes:
        start = timing.seconds(flat.elementOffset(element))
        track.notes.extend(_midi_notes(element, sound, start, timing))
    return track


def _part_name(part, number: int) -> str:
    # Some corpus files put line breaks in names ("Soprano\rOboe 1,2"); MIDI wants one line.
    return " ".join((part.partName or "").split()) or f"Part {number}"


def _is_percussion(sound) -> bool:
    from music21 import instrument

    # music21 counts MIDI channels from 0, so 9 is the General MIDI drum channel 10.
    return isinstance(sound, instrument.UnpitchedPercussion) or sound.midiChannel == 9


def _midi_notes(element, sound, start: float, timing: _Timing) -> list[pretty_midi.Note]:
    """One pretty_midi note per sounding pitch of a music21 note or chord."""
    from music21 import chord

    length = float(element.duration.quarterLength)
    if element.duration.isGrace or length <= 0:
        return []
    end = start + length * timing.seconds_per_quarter
    components = element.notes if isinstance(element, chord.ChordBase) else (element,)
    notes = []
    for component in components:
        pitch = _midi_pitch(component, sound)
        if pitch is not None:
            notes.append(pretty_midi.Note(_velocity(component, element), pitch, start, end))
    return notes


def _midi_pitch(component, sound) -> int | None:
    """MIDI number of a note, or of a drum from its percussion map; None when out of range."""
    from music21 import instrument, note

    if isinstance(component, note.Unpitched):
        stored = component.storedInstrument
        kit = stored if isinstance(stored, instrument.UnpitchedPercussion) else sound
        pitch = getattr(kit, "percMapPitch", None)
    else:
        # pitch.midi folds pitches above 127 down by octaves; round(ps) keeps the real height.
        pitch = round(component.pitch.ps)
    return pitch if pitch in range(128) else None


def _velocity(component, element) -> int:
    # A chord's notes carry their own velocity when read from MusicXML, the chord's when built.
    for source in (component, element):
        velocity = source.volume.velocity
        if velocity is not None:
            return min(max(int(velocity), 1), 127)
    return DEFAULT_VELOCITY
