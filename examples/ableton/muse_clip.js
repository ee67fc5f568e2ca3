// Max `js` half of the "muse" Max for Live device: reads the selected clip through the Live
// API and writes the answer into the next empty clip slot of the same track (a new clip, the
// original kept). Live's note times are beats, the same unit muse serve's notes use.
// Messages: bang (send the selected clip), notes <answer JSON> (from muse_node.js).
outlets = 1;
var EXTRA_BARS = 4;

function bang() {
    var clip = new LiveAPI("live_set view detail_clip");
    if (!clip.id || clip.id == 0 || clip.get("is_midi_clip")[0] != 1) {
        post("muse: select a MIDI clip first\n");
        return;
    }
    var length = clip.get("length")[0];
    var raw = JSON.parse(clip.call("get_notes_extended", 0, 128, 0, length));
    var notes = raw.notes.map(function (note) {
        return {
            pitch: note.pitch,
            start: note.start_time,
            end: note.start_time + note.duration,
            velocity: Math.max(1, Math.round(note.velocity)),
            voice: 0
        };
    });
    var song = new LiveAPI("live_set");
    var meter = song.get("signature_numerator")[0] + "/" + song.get("signature_denominator")[0];
    outlet(0, "continue", JSON.stringify({notes: notes, beats: length}), EXTRA_BARS,
           song.get("tempo")[0], meter);
}

function notes(answerJson) {
    var answer = JSON.parse(answerJson);
    var track = new LiveAPI("live_set view selected_track");
    var slots = track.getcount("clip_slots");
    for (var index = 0; index < slots; index++) {
        var slot = new LiveAPI("live_set view selected_track clip_slots " + index);
        if (slot.get("has_clip")[0] == 0) {
            var beats = answer.bars * 4 * Number(answer.meter.split("/")[0]) / Number(answer.meter.split("/")[1]);
            slot.call("create_clip", beats);
            var clip = new LiveAPI("live_set view selected_track clip_slots " + index + " clip");
            clip.set("name", "muse seed " + answer.seed);
            clip.call("add_new_notes", JSON.stringify({notes: answer.notes.map(function (note) {
                return {pitch: note.pitch, start_time: note.start, duration: note.end - note.start,
                        velocity: note.velocity};
            })}));
            post("muse: new clip in slot " + (index + 1) + ", seed " + answer.seed + "\n");
            return;
        }
    }
    post("muse: no empty clip slot on this track\n");
}
