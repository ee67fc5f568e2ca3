"""The DAW scripts run against a real `muse serve`: examples/reaper/muse_continue.py inside a
stand-in for REAPER's API that holds one MIDI item and records what the script does to it, and
the Ableton device's Node for Max half (examples/ableton/muse_node.js) in Node with a stand-in
for Max's API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from muse_gan.client import Client, Note
from tests.serving import Server

SCRIPT = Path(__file__).parents[2] / "examples" / "reaper" / "muse_continue.py"
NODE_SCRIPT = Path(__file__).parents[2] / "examples" / "ableton" / "muse_node.js"
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

    def RPR_TimeMap2_timeToBeats(self, project, time, *_):
        """(beats into the bar, project, time, whole bars before it, the bar's beats, beats
        from the start, the beat's note value), as REAPER's Python API gives them."""
        self.asked_bar_at = time
        quarters = time / SECONDS_PER_QN
        return (quarters % 4, project, time, int(quarters // 4), 4, quarters, 4)

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
    sent = []  # what the script asks the server for
    monkeypatch.setattr(Client, "continue_clip", _recorded(Client.continue_clip, sent))
    script = SCRIPT.read_text().replace('URL = "http://127.0.0.1:8765"', f'URL = "{server.url}"')
    namespace = {"__name__": "__main__"}
    exec(compile(script, str(SCRIPT), "exec"), namespace)
    assert reaper.active == 2, reaper.console
    new_take = reaper.takes[2]
    soprano = [(start / PPQ, pitch) for start, _, channel, pitch, _ in new_take if channel == 0]
    assert soprano[:4] == [(4.0, 72), (5.0, 74), (6.0, 76), (7.0, 77)]  # the clip, where it was
    ends = [end for _, end, *_ in new_take]
    assert (4 + 4) * PPQ < max(ends) <= (4 + 4 * 5) * PPQ  # past the clip, within 1 bar + 4 more
    # the item holds the 5 bars whole, even where the answer's last beat is a rest
    assert reaper.item["D_LENGTH"] == pytest.approx(5 * 4 * SECONDS_PER_QN)
    taken = set(Client(server.url).models()["bach-rnn"]["controls"])
    left_out = [name for name in ("meter", "key") if name not in taken]
    assert any(f"takes no {', '.join(left_out)}" in line for line in reaper.console) == bool(
        left_out
    )
    assert reaper.console[-1].startswith("muse: new take: 5 bars, seed ")
    # the item starts at quarter note 4: bar 2 of the song, the bar the clip goes on from
    assert reaper.asked_bar_at == 2.0 and sent[0]["first_bar"] == 2


def _recorded(method, sent: list):
    """``method`` as it was, noting the controls of each call in ``sent``."""

    def call(self, notes, model=None, **controls):
        sent.append(controls)
        return method(self, notes, model, **controls)

    return call


# Max's API as muse_node.js uses it: handlers by message name, and what went out of the outlet
MAX_API = """
const handlers = {}, sent = [];
module.exports = {
  handlers, sent,
  addHandler(name, handler) { handlers[name] = handler; },
  async outlet(...message) { sent.push(message); },
};
"""
# Max's messages to the device, as muse_clip.js and message boxes send them
MESSAGES = """
const max = require("max-api");
require(process.env.SCRIPT);
(async () => {
  max.handlers.seed(7);
  max.handlers.key(...process.env.KEY.split(" "));
  const clip = {notes: JSON.parse(process.env.NOTES), beats: 4};
  await max.handlers.continue(JSON.stringify(clip), 2, 90, "4/4");
  console.log(JSON.stringify(max.sent));
})();
"""
CLIP = [Note(74, 0, 1, 90), Note(77, 1, 2, 90), Note(76, 2, 4, 90)]


def ableton_device(tmp_path, url: str, key: str) -> list:
    """What muse_node.js sends back to Max for one press of Continue on a 1-bar clip."""
    (tmp_path / "node_modules" / "max-api").mkdir(parents=True, exist_ok=True)
    (tmp_path / "node_modules" / "max-api" / "index.js").write_text(MAX_API)
    notes = json.dumps([note.__dict__ for note in CLIP])
    environment = dict(os.environ, NODE_PATH=str(tmp_path / "node_modules"), MUSE_URL=url)
    environment |= {"SCRIPT": str(NODE_SCRIPT), "KEY": key, "NOTES": notes}
    result = subprocess.run(
        ["node", "-e", MESSAGES], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(
    shutil.which("node") is None, reason="no Node.js here (Max for Live has its own)"
)
def test_the_ableton_device_asks_for_the_continuation_the_client_would(server, tmp_path):
    [(outlet, answer)] = ableton_device(tmp_path, server.url, "D minor")
    client = Client(server.url)
    wanted = {"bars": 3, "tempo": 90, "meter": "4/4", "key": "D minor", "seed": 7}
    expected = client.continue_clip(CLIP, None, **client.understood(None, wanted)[0])
    answer = json.loads(answer)
    assert outlet == "notes" and (answer["bars"], answer["seed"]) == (3, 7)
    assert answer["notes"] == [note.__dict__ for note in expected.notes]


@pytest.mark.skipif(
    shutil.which("node") is None, reason="no Node.js here (Max for Live has its own)"
)
def test_the_ableton_device_passes_a_refusal_on_as_one_line(server, tmp_path):
    [(outlet, line)] = ableton_device(tmp_path, server.url, "H minor")
    assert outlet == "error" and line.startswith("key H minor: ") and "\n" not in line
