// The page's whole logic, plain JavaScript with no build step: read the served models and
// the controls each understands (GET /models), compose as notes, draw them as a piano roll,
// play them with WebAudio, and fetch the same request again as MIDI or WAV to download (same
// request and seed: the same piece, byte for byte).
"use strict";

const VOICE_COLOURS = ["#c0392b", "#2471a3", "#229954", "#b9770e", "#7d3c98", "#17a589"];
const CORE_CONTROLS = ["bars", "tempo", "seed", "temperature", "transpose", "decode"];
const token = new URLSearchParams(location.search).get("token");
const state = { models: {}, piece: null, last: null, audio: null, voices: [] };
const $ = (id) => document.getElementById(id);

async function call(path, body) {
  const headers = body ? { "Content-Type": "application/json" } : {};
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method: body ? "POST" : "GET",
    headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) {
    let line = `${response.status} ${response.statusText}`;
    try { line = (await response.json()).error; } catch (_) { /* not JSON: keep the status */ }
    throw new Error(line);
  }
  return response;
}

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// the controls of the chosen model

async function loadModels() {
  const listing = await (await call("models")).json();
  for (const model of listing.models) {
    state.models[model.name] = model;
    $("model").append(new Option(`${model.name} (${model.family.toUpperCase()})`, model.name));
  }
  showControls();
  say("Pick the settings and compose.");
}

function showControls() {
  const model = state.models[$("model").value];
  const fields = $("fields");
  fields.replaceChildren();
  const names = Object.keys(model.controls);
  // the usual ones first, then any the library added (a meter, a key...) in its order
  names.sort((a, b) => rank(a) - rank(b));
  for (const name of names) fields.append(field(name, model.controls[name]));
  $("model-note").textContent =
    `${model.voices.join(", ")} in ${model.meter}; ${model.endpoints.continue.primer}`;
  $("infill").hidden = !("infill" in model.endpoints);
  $("infill-key-field").hidden = !("key" in (model.endpoints.infill || {}));
  showInfillVoices(model);
}

function showInfillVoices(model) {
  const voices = $("infill-voices");
  voices.replaceChildren();
  for (const name of model.voices) {
    const box = Object.assign(document.createElement("input"), { type: "checkbox", value: name, checked: true });
    const label = document.createElement("label");
    label.append(box, ` ${name}`);
    voices.append(label);
  }
}

function rank(name) {
  const index = CORE_CONTROLS.indexOf(name);
  return index < 0 ? CORE_CONTROLS.length : index;
}

function field(name, control) {
  const label = document.createElement("label");
  label.textContent = name[0].toUpperCase() + name.slice(1);
  let input;
  if (control.type === "choice") {
    input = document.createElement("select");
    for (const choice of control.choices) input.append(new Option(choice, choice));
    input.value = control.default;
  } else if (control.type === "boolean") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = Boolean(control.default);
  } else {
    input = document.createElement("input");
    const numeric = control.type === "integer" || control.type === "number";
    input.type = numeric ? "number" : "text";
    if (numeric) {
      input.min = control.min;
      input.max = control.max;
      input.step = control.type === "integer" ? "1" : "any";
    }
    if (name === "bars") input.value = 4;  // short pieces answer fast
    else if (control.default !== null && control.default !== undefined) input.value = control.default;
    if (name === "seed") input.placeholder = "random";
    else if (control.by_class) input.placeholder = "the model's";  // its own differs by meter or voice count
  }
  input.id = `control-${name}`;
  input.dataset.control = name;
  input.dataset.type = control.type;
  label.append(input);
  return label;
}

function request() {
  const body = { model: $("model").value };
  for (const input of document.querySelectorAll("[data-control]")) {
    if (input.type === "checkbox") {
      body[input.dataset.control] = input.checked;
      continue;
    }
    if (input.value === "") continue;  // left to the server: a random seed, the model's tempo
    body[input.dataset.control] = valueOf(input);
  }
  return body;
}

function valueOf(input) {
  const type = input.dataset.type;
  if (type === "integer" || type === "number") return Number(input.value);
  if (type !== "json") return input.value;
  // a control the library takes in another shape (a list, a table): JSON, else the words
  try { return JSON.parse(input.value); } catch (_) { return input.value; }
}

// composing

async function make(path, body) {
  stop();
  say("Composing…");
  $("compose").disabled = true;
  try {
    const started = performance.now();
    const piece = await (await call(path, { ...body, format: "notes" })).json();
    state.piece = piece;
    state.last = { path, body: { ...body, seed: piece.seed } };  // the downloads ask again
    draw(piece);
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    say(`${piece.bars} bars by ${piece.model}, seed ${piece.seed}, ${piece.notes.length} notes (${seconds} s)`);
    for (const id of ["play", "download-midi", "download-wav", "continue"]) $(id).disabled = false;
  } catch (error) {
    say(error.message, true);
  } finally {
    $("compose").disabled = false;
  }
}

function continuePiece() {
  const piece = state.piece;
  const body = request();
  body.bars = piece.bars + 4;
  body.primer = { notes: piece.notes, tempo: piece.tempo };
  body.tempo = piece.tempo;
  make("continue", body);
}

function infillPiece() {
  const piece = state.piece;
  if (!piece) return say("Compose a piece first, then write a selection of it again.", true);
  const chosen = [...$("infill-voices").querySelectorAll("input:checked")].map((box) => box.value);
  const { seed, temperature } = request();
  const key = $("infill-key-field").hidden ? "" : $("infill-key").value.trim();
  make("infill", {
    model: $("model").value,
    clip: { notes: piece.notes, tempo: piece.tempo },
    bars: $("infill-bars").value,
    tracks: chosen.join(","),
    tempo: piece.tempo,
    ...(seed === undefined ? {} : { seed }),
    ...(temperature === undefined ? {} : { temperature }),
    ...(key ? { key } : {}),  // the new notes only in this key; the rest is kept as it is
  });
}

// the piano roll: one row per pitch, one colour per voice, bar lines

function draw(piece) {
  const canvas = $("roll");
  const context = canvas.getContext("2d");
  const [beatsPerBar, unit] = piece.meter.split("/").map(Number);
  const beats = piece.bars * beatsPerBar * 4 / unit;
  const pitches = piece.notes.map((note) => note.pitch);
  const low = Math.min(...pitches, 60) - 2;
  const high = Math.max(...pitches, 72) + 2;
  const x = (beat) => (beat / beats) * canvas.width;
  const rowHeight = canvas.height / (high - low + 1);
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = "#d0d0d0";
  for (let bar = 0; bar <= piece.bars; bar += 1) {
    const at = Math.round(x(bar * beatsPerBar * 4 / unit)) + 0.5;
    context.beginPath();
    context.moveTo(at, 0);
    context.lineTo(at, canvas.height);
    context.stroke();
  }
  for (const note of piece.notes) {
    context.fillStyle = VOICE_COLOURS[note.voice % VOICE_COLOURS.length];
    const top = (high - note.pitch) * rowHeight;
    context.fillRect(x(note.start), top, Math.max(x(note.end) - x(note.start) - 1, 1), Math.max(rowHeight - 1, 1));
  }
  canvas.dataset.notes = String(piece.notes.length);
  $("legend").replaceChildren(...piece.voices.map((name, voice) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = VOICE_COLOURS[voice % VOICE_COLOURS.length];
    item.append(swatch, name);
    return item;
  }));
}

// playing: a soft organ-like tone per note, scheduled on the audio clock

function play() {
  if (state.audio) { stop(); return; }
  const audio = new AudioContext();
  const piece = state.piece;
  const secondsPerBeat = 60 / piece.tempo;
  const start = audio.currentTime + 0.1;
  const master = audio.createGain();
  master.gain.value = 0.15;
  master.connect(audio.destination);
  for (const note of piece.notes) {
    const oscillator = audio.createOscillator();
    const envelope = audio.createGain();
    const on = start + note.start * secondsPerBeat;
    const off = start + note.end * secondsPerBeat;
    oscillator.type = "triangle";
    oscillator.frequency.value = 440 * 2 ** ((note.pitch - 69) / 12);
    envelope.gain.setValueAtTime(0, on);
    envelope.gain.linearRampToValueAtTime(note.velocity / 127, on + 0.02);
    envelope.gain.setValueAtTime(note.velocity / 127, Math.max(off - 0.03, on + 0.02));
    envelope.gain.linearRampToValueAtTime(0, off);
    oscillator.connect(envelope).connect(master);
    oscillator.start(on);
    oscillator.stop(off + 0.01);
  }
  const length = Math.max(...piece.notes.map((note) => note.end), 0) * secondsPerBeat;
  state.audio = audio;
  state.ending = setTimeout(stop, (length + 0.3) * 1000);
  document.body.dataset.playing = "true";
  $("play").textContent = "Stop";
}

function stop() {
  if (!state.audio) return;
  clearTimeout(state.ending);
  state.audio.close();
  state.audio = null;
  document.body.dataset.playing = "false";
  $("play").textContent = "Play";
}

// downloads: the same request again, as a file

async function download(format, suffix) {
  const { path, body } = state.last;
  try {
    const blob = await (await call(path, { ...body, format })).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${body.model}-seed${body.seed}${suffix}`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (error) {
    say(error.message, true);
  }
}

$("model").addEventListener("change", showControls);
$("controls").addEventListener("submit", (event) => { event.preventDefault(); make("compose", request()); });
$("continue").addEventListener("click", continuePiece);
$("infill-run").addEventListener("click", infillPiece);
$("play").addEventListener("click", play);
$("download-midi").addEventListener("click", () => download("midi", ".mid"));
$("download-wav").addEventListener("click", () => download("wav", ".wav"));
loadModels().catch((error) => say(error.message, true));
