// Node for Max half of the "muse" Max for Live device: talks to `muse serve`.
// Max sends:  continue <clip JSON> <bars to add> <tempo> <meter>   (from muse_clip.js)
// Max gets:   notes <answer JSON>                                   (to muse_clip.js)
//             error <one line>
// The HTTP call and the request mirror muse_gan.client.Client.continue_clip. Install: docs/daw.md#ableton-live
const maxAPI = require("max-api");

const URL = process.env.MUSE_URL || "http://127.0.0.1:8765";
const TOKEN = process.env.MUSE_TOKEN || "";
let model = null; // null: the server's first model
let seed = null; // null: a new piece every time
let key = null; // null: none asked; "D minor" from the message `key D minor` (`key none` clears it)

async function call(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  const response = await fetch(URL + path, {
    method: body ? "POST" : "GET",
    headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error);
  return answer;
}

async function controlsOf(name) {
  const { models } = await call("/models");
  const chosen = models.find((entry) => entry.name === name) || models[0];
  return chosen.controls;
}

maxAPI.addHandler("model", (name) => { model = name === "default" ? null : name; });
maxAPI.addHandler("seed", (value) => { seed = value < 0 ? null : value; });
maxAPI.addHandler("key", (...words) => { key = words.length && words[0] !== "none" ? words.join(" ") : null; });

maxAPI.addHandler("continue", async (clipJson, extraBars, tempo, meter) => {
  try {
    const clip = JSON.parse(clipJson); // {notes: [{pitch, start, end, velocity, voice}], beats}
    const [numerator, denominator] = String(meter || "4/4").split("/").map(Number);
    const beatsPerBar = (numerator * 4) / denominator;
    const bars = Math.max(1, Math.ceil(clip.beats / beatsPerBar)) + Number(extraBars);
    const controls = await controlsOf(model);
    const wanted = { bars, tempo, meter, key, seed };
    const body = { model, format: "notes", primer: { notes: clip.notes } };
    for (const [name, value] of Object.entries(wanted)) {
      if (value !== null && value !== undefined && name in controls) body[name] = value;
    }
    const answer = await call("/continue", body);
    await maxAPI.outlet("notes", JSON.stringify(answer));
  } catch (error) {
    await maxAPI.outlet("error", String(error.message || error));
  }
});
