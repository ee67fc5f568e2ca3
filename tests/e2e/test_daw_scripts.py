"""examples/reaper/muse_continue.py run against a real `muse serve`, inside a stand-in for
REAPER's API that holds one MIDI item and records what the script does to it."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from muse_gan.client import Client
from tests.serving import Server

SCRIPT = Path(__file__).parents[2] / "examples" / "reaper" / "muse_continue.py"
PPQ = 960  # REAPER's ticks per quarter note
SECONDS_PER_QN = 0.5  # the project at 120 quarter notes per minute


class Reaper:
    """One selected MIDI item at 2 s (quarter note 4) holding a soprano line, 4/4, 120 per
    minute, no time selection; REAPER's calls as the script makes them."""

    def __init__(self):
        self.console: list[str] = []
        self.item = {"D_POSITION": 2.0, "D_LENGTH": 4.0}
        first = 4 * PPQ
        # take number → its notes (start, end, channel, pitch, velocity); REAPER's takes are
        # pointers, never 0
        self.takes = {
            1: [
                (first + n * PPQ, first + (n + 1) * PPQ, 0, pitch, 90)
                for n, pitch in enumerate((72, 74, 76, 77))
            ]
        }
        self.active = 1

    def module(self) -> types.ModuleType:
        api = types.ModuleType("reaper_python")
        for name in dir(self):
            if name.startswith("RPR_"):
                setattr(api, name, getattr(self, name))
        return api

    def RPR_ShowConsoleMsg(self, text):
        self.console.append(text)

    def RPR_CountSelectedMediaItems(self, project):
        return 1

    def RPR_GetSelectedMediaItem(self, project, index):
        return "item"

    def RPR_GetActiveTake(self, item):
        return self.active

    def RPR_TakeIsMIDI(self, take):
        return True

    def RPR_GetMediaItemInfo_Value(self, item, key):
        return self.item[key]

    def RPR_SetMediaItemInfo_Value(self, item, key, value):
        self.item[key] = value

    def RPR_GetSet_LoopTimeRange(self, *_):
        return (False, False, 0.0, 0.0, False)

    def RPR_TimeMap2_timeToQN(self, project, time):
        return time / SECONDS_PER_QN

    def RPR_TimeMap2_QNToTime(self, project, qn):
        return qn * SECONDS_PER_QN

    def RPR_TimeMap_GetTimeSigAtTime(self, *_):
        return (0, 0.0, 4, 4, 120.0)

    def RPR_MIDIEditor_GetActive(self):
        return "editor"

    def RPR_MIDIEditor_GetSetting_int(self, editor, setting):
        return {"scale_enabled": 1, "scale_root": 7}[setting]  # key snap on, G

    def RPR_MIDIEditor_GetSetting_str(self, editor, setting, buffer, size):
        return (True, editor, setting, {"scale": "102034050607"}[setting], size)  # major

    def RPR_MIDI_CountEvts(self, take, *_):
        return (1, take, len(self.takes[take]), 0, 0)

    def RPR_MIDI_GetNote(self, take, index, *_):
        start, end, channel, pitch, velocity = self.takes[take][index]
        return (True, take, index, False, False, start, end, channel, pitch, velocity)

    def RPR_MIDI_GetProjQNFromPPQPos(self, take, ppq):
        return ppq / PPQ

    def RPR_MIDI_GetPPQPosFromProjQN(self, take, qn):
        return qn * PPQ

    def RPR_AddTakeToMediaItem(self, item):
        self.takes[len(self.takes) + 1] = []
        return len(self.takes)

    def RPR_PCM_Source_CreateFromType(self, kind):
        return kind

    def RPR_SetMediaItemTake_Source(self, take, source):
        pass

    def RPR_MIDI_InsertNote(
        self, take, selected, muted, start, end, channel, pitch, velocity, no_sort
    ):
        self.takes[take].append((start, end, channel, pitch, velocity))

    def RPR_MIDI_Sort(self, take):
        self.takes[take].sort()

    def RPR_SetActiveTake(self, take):
        self.active = take

    def RPR_GetSetMediaItemTakeInfo_String(self, *_):
        pass

    def RPR_Undo_BeginBlock(self):
        pass

    def RPR_Undo_EndBlock(self, *_):
        pass

    def RPR_UpdateArrange(self):
        pass


@pytest.fixture(scope="module")
def server():
    running = Server("--models", "bach-rnn", "-q")
    yield running
    running.stop()


def test_the_reaper_script_adds_the_continuation_as_a_new_take(server, monkeypatch):
    reaper = Reaper()
    monkeypatch.setitem(sys.modules, "reaper_python", reaper.module())
    script = SCRIPT.read_text().replace('URL = "http://127.0.0.1:8765"', f'URL = "{server.url}"')
    namespace = {"__name__": "__main__"}
    exec(compile(script, str(SCRIPT), "exec"), namespace)
    assert reaper.active == 2, reaper.console
    new_take = reaper.takes[2]
    soprano = [(start / PPQ, pitch) for start, _, channel, pitch, _ in new_take if channel == 0]
    assert soprano[:4] == [(4.0, 72), (5.0, 74), (6.0, 76), (7.0, 77)]  # the clip, where it was
    assert max(end for _, end, *_ in new_take) == (4 + 4 * 5) * PPQ  # 1 bar + 4 more
    assert reaper.item["D_LENGTH"] == pytest.approx(5 * 4 * SECONDS_PER_QN)
    taken = set(Client(server.url).models()["bach-rnn"]["controls"])
    left_out = [name for name in ("meter", "key") if name not in taken]
    assert any(f"takes no {', '.join(left_out)}" in line for line in reaper.console) == bool(
        left_out
    )
    assert reaper.console[-1].startswith("muse: new take: 5 bars, seed ")
