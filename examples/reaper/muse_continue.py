"""REAPER ReaScript (Python): continue the selected MIDI item with `muse serve`.

Sends the selected MIDI item's notes (only those inside the time selection, when there is one)
with the project's tempo and time signature at the item (and the MIDI editor's key snap, when
a model takes a key) to a running `muse serve`, and adds the answer to the item as a new take:
the clip as it was, then EXTRA_BARS more. Settings a model does not take are listed in
REAPER's console instead of being sent. Install: docs/daw.md#reaper.

All the logic besides REAPER's calls lives in muse_gan.client (tested with the package).
"""

import reaper_python as RPR  # REAPER's API (RPR_* functions), on ReaScript's path

# Where muse_gan is installed, when REAPER's Python is not the one it was installed into:
# import sys; sys.path.append("/home/me/muse_gan/src")
from muse_gan.client import (
    Client,
    ServerError,
    continuation_request,
    key_name,
    notes_from_ticks,
)

URL = "http://127.0.0.1:8765"
TOKEN = None  # the server's --token, if it has one
MODEL = None  # None: the server's first model (bach-rnn by default); e.g. "bach-gan" to accompany
EXTRA_BARS = 4
SEED = None  # None: a new piece each run; a number: the same answer every time
TEMPERATURE = 1.0


def say(line: str) -> None:
    RPR.RPR_ShowConsoleMsg(f"muse: {line}\n")


def selected_midi():
    """The first selected item and its active take, if that take is MIDI."""
    if RPR.RPR_CountSelectedMediaItems(0) == 0:
        return None, None
    item = RPR.RPR_GetSelectedMediaItem(0, 0)
    take = RPR.RPR_GetActiveTake(item)
    return (item, take) if take and RPR.RPR_TakeIsMIDI(take) else (None, None)


def window_qn(item):
    """Where to read notes, in project quarter notes: the item, narrowed to the time selection."""
    start = RPR.RPR_GetMediaItemInfo_Value(item, "D_POSITION")
    end = start + RPR.RPR_GetMediaItemInfo_Value(item, "D_LENGTH")
    _, _, selection_start, selection_end, _ = RPR.RPR_GetSet_LoopTimeRange(
        False, False, 0, 0, False
    )
    if selection_end > selection_start:
        start, end = max(start, selection_start), min(end, selection_end)
    return start, RPR.RPR_TimeMap2_timeToQN(0, start), RPR.RPR_TimeMap2_timeToQN(0, end)


def take_notes(take):
    """(pitch, start, end, velocity, channel) of every note, times in project quarter notes."""
    _, _, count, _, _ = RPR.RPR_MIDI_CountEvts(take, 0, 0, 0)
    events = []
    for index in range(count):
        _, _, _, _, _, start, end, channel, pitch, velocity = RPR.RPR_MIDI_GetNote(
            take, index, 0, 0, 0, 0, 0, 0, 0
        )
        events.append(
            (
                pitch,
                RPR.RPR_MIDI_GetProjQNFromPPQPos(take, start),
                RPR.RPR_MIDI_GetProjQNFromPPQPos(take, end),
                velocity,
                channel,
            )
        )
    return events


def project_settings(start_time: float) -> dict:
    """Tempo, time signature and bar number where the clip starts, and the MIDI editor's key
    snap."""
    _, _, numerator, denominator, tempo = RPR.RPR_TimeMap_GetTimeSigAtTime(0, start_time, 0, 0, 0)
    measures = RPR.RPR_TimeMap2_timeToBeats(0, start_time, 0, 0, 0, 0)[3]  # bars before it
    settings = {
        "tempo": tempo,
        "meter": f"{numerator}/{denominator}",
        "first_bar": int(measures) + 1,  # a model told its bar numbers goes on as from there
    }
    editor = RPR.RPR_MIDIEditor_GetActive()
    if editor and RPR.RPR_MIDIEditor_GetSetting_int(editor, "scale_enabled"):
        root = RPR.RPR_MIDIEditor_GetSetting_int(editor, "scale_root")  # 0 = C
        scale = RPR.RPR_MIDIEditor_GetSetting_str(editor, "scale", "", 64)[3]  # from the root
        settings["key"] = key_name(root, scale)
    return settings


def add_take(item, start_qn: float, answer) -> None:
    """The answer as a new active take of ``item``, the item made long enough to hold it."""
    take = RPR.RPR_AddTakeToMediaItem(item)
    RPR.RPR_SetMediaItemTake_Source(take, RPR.RPR_PCM_Source_CreateFromType("MIDI"))
    end_qn = start_qn + answer.beats()  # whole bars, even where the last one ends on a rest
    start_time = RPR.RPR_TimeMap2_QNToTime(0, start_qn)
    RPR.RPR_SetMediaItemInfo_Value(item, "D_POSITION", start_time)
    RPR.RPR_SetMediaItemInfo_Value(
        item, "D_LENGTH", RPR.RPR_TimeMap2_QNToTime(0, end_qn) - start_time
    )
    for note in answer.notes:
        RPR.RPR_MIDI_InsertNote(
            take,
            False,
            False,
            RPR.RPR_MIDI_GetPPQPosFromProjQN(take, start_qn + note.start),
            RPR.RPR_MIDI_GetPPQPosFromProjQN(take, start_qn + note.end),
            note.voice,
            note.pitch,
            note.velocity,
            True,
        )
    RPR.RPR_MIDI_Sort(take)
    RPR.RPR_SetActiveTake(take)
    RPR.RPR_GetSetMediaItemTakeInfo_String(take, "P_NAME", f"muse seed {answer.seed}", True)


def main() -> None:
    item, take = selected_midi()
    if item is None:
        say("select a MIDI item first")
        return
    start_time, start_qn, end_qn = window_qn(item)
    notes = notes_from_ticks(take_notes(take), 1.0, start_qn, end_qn)  # 1 tick = 1 quarter note
    if not notes:
        say("no notes in the item (or the time selection) to continue")
        return
    client = Client(URL, TOKEN)
    daw = project_settings(start_time) | {"seed": SEED, "temperature": TEMPERATURE}
    try:
        controls, ignored = continuation_request(client, MODEL, notes, EXTRA_BARS, daw)
        if ignored:
            say(f"{MODEL or client.default_model()} takes no {', '.join(ignored)}: left out")
        answer = client.continue_clip(notes, MODEL, **controls)
    except ServerError as error:
        say(str(error))
        return
    RPR.RPR_Undo_BeginBlock()
    add_take(item, start_qn, answer)
    RPR.RPR_Undo_EndBlock("muse: continue the clip", -1)
    RPR.RPR_UpdateArrange()
    say(
        f"new take: {answer.bars} bars, seed {answer.seed} (set SEED = {answer.seed} to get it again)"
    )


main()
