// The alphagan page: choose a photo, paint or upload a trimap (or a mask), POST /api/matte.
// Plain browser JavaScript, no build step and nothing loaded from other sites.
"use strict";

const $ = (id) => document.getElementById(id);
const BG = 0, UNKNOWN = 128, FG = 255;

const state = {
  photo: null,        // Blob sent as the image field
  photoName: "photo",
  width: 0, height: 0,
  photoPixels: null,  // ImageData of the photo as the server reads it
  trimap: null,       // Uint8Array width*height of 0 / 128 / 255: the painted trimap
  display: null,      // ImageData: photo with the trimap overlaid
  drawing: false, last: null,
  undo: [],           // earlier trimaps, newest last (a few, they are photo-sized)
  fileTrimapShown: false,  // the uploaded trimap file is in the buffer (shown in its mode)
};

const UNDO_STEPS = 8;

function rememberForUndo() {
  state.undo.push(state.trimap.slice());
  if (state.undo.length > UNDO_STEPS) state.undo.shift();
}

function undo() {
  if (!state.undo.length) return;
  state.trimap = state.undo.pop();
  render(0, 0, state.width, state.height);
}

// ---------------------------------------------------------------------------------------
// Messages

function showError(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

function clearError() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function setStatus(text) { $("status").textContent = text; }

// The server answers errors as JSON {"error": "..."}; anything else is shown as it came.
async function errorText(response) {
  const body = await response.text();
  try {
    const parsed = JSON.parse(body);
    if (parsed && parsed.error) return parsed.error;
  } catch (_) { /* not JSON */ }
  return `the server answered ${response.status} ${response.statusText}` +
         (body ? `: ${body.slice(0, 200)}` : "");
}

// ---------------------------------------------------------------------------------------
// The photo and the painting canvas

async function choosePhoto(blob, name) {
  clearError();
  $("results").hidden = true;  // they belong to the previous photo
  setStatus("reading the photo…");
  const form = new FormData();
  form.append("image", blob, name);
  let response;
  try {
    response = await fetch("/api/preview", { method: "POST", body: form });
  } catch (err) {
    forgetPhoto();
    showError(`cannot reach the server (${err.message})`);
    return false;
  }
  if (!response.ok) {
    forgetPhoto();
    showError(await errorText(response));
    return false;
  }
  const bitmap = await createImageBitmap(await response.blob());
  const [w, h] = [bitmap.width, bitmap.height];
  const scratch = document.createElement("canvas");
  scratch.width = w; scratch.height = h;
  const sctx = scratch.getContext("2d");
  sctx.drawImage(bitmap, 0, 0);
  Object.assign(state, {
    photo: blob, photoName: name, width: w, height: h, undo: [], fileTrimapShown: false,
    photoPixels: sctx.getImageData(0, 0, w, h),
    trimap: new Uint8Array(w * h),  // all background to start with
    display: new ImageData(w, h),
  });
  const canvas = $("paint-canvas");
  canvas.width = w; canvas.height = h;
  // small photos are shown larger (pixelated) so that they can be painted on
  canvas.style.width = w < 480 ? "480px" : "";
  canvas.style.imageRendering = w < 480 ? "pixelated" : "";
  canvas.hidden = false;
  $("canvas-empty").hidden = true;
  render(0, 0, w, h);
  setStatus(`photo ${name}: ${w}×${h}`);
  return true;
}

// A refused photo must not leave the previous one in place, to be sent by mistake.
function forgetPhoto() {
  Object.assign(state, { photo: null, photoPixels: null, trimap: null, display: null });
  $("paint-canvas").hidden = true;
  $("canvas-empty").hidden = false;
  setStatus("");
}

// Draw the photo, with the painted trimap over it when painting, in [x0, x1) x [y0, y1).
function render(x0, y0, x1, y1) {
  const { width: w, photoPixels: src, display: dst, trimap } = state;
  if (!src) return;
  const how = source();
  const overlay = how === "paint" || (how === "trimap" && state.fileTrimapShown);
  x0 = Math.max(0, Math.floor(x0)); y0 = Math.max(0, Math.floor(y0));
  x1 = Math.min(w, Math.ceil(x1)); y1 = Math.min(state.height, Math.ceil(y1));
  if (x1 <= x0 || y1 <= y0) return;
  const s = src.data, d = dst.data;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * w + x, p = 4 * i, t = trimap[i];
      let r = s[p], g = s[p + 1], b = s[p + 2];
      if (!overlay) {
        // the photo as it is
      } else if (t === BG) {          // background: darkened, bluish
        r = r * 0.35; g = g * 0.35; b = b * 0.35 + 40;
      } else if (t === UNKNOWN) { // unknown: orange
        r = r * 0.45 + 140; g = g * 0.45 + 90; b = b * 0.45;
      }
      d[p] = r; d[p + 1] = g; d[p + 2] = b; d[p + 3] = 255;
    }
  }
  $("paint-canvas").getContext("2d").putImageData(dst, 0, 0, x0, y0, x1 - x0, y1 - y0);
}

function canvasPoint(event) {
  const canvas = $("paint-canvas");
  const rect = canvas.getBoundingClientRect();
  return {
    x: Math.floor((event.clientX - rect.left) * canvas.width / rect.width),
    y: Math.floor((event.clientY - rect.top) * canvas.height / rect.height),
  };
}

function currentLabel() {
  return Number(document.querySelector("input[name=label]:checked").value);
}
function currentTool() { return document.querySelector("input[name=tool]:checked").value; }
// The size slider is in screen pixels: the same brush on a large photo shown scaled down.
function brushRadius() {
  const canvas = $("paint-canvas");
  const scale = canvas.width / canvas.getBoundingClientRect().width;
  return Number($("brush-size").value) / 2 * scale;
}

// A hard-edged disc: every pixel gets exactly the label (no antialiasing in a trimap).
function stamp(cx, cy, r, value) {
  const { width: w, height: h, trimap } = state;
  const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(h - 1, Math.ceil(cy + r));
  for (let y = y0; y <= y1; y++) {
    const half = Math.sqrt(Math.max(0, r * r - (y - cy) * (y - cy)));
    const xa = Math.max(0, Math.ceil(cx - half)), xb = Math.min(w - 1, Math.floor(cx + half));
    trimap.fill(value, y * w + xa, y * w + xb + 1);
  }
}

function strokeTo(p) {
  const r = brushRadius(), value = currentLabel();
  const from = state.last || p;
  const steps = Math.max(1, Math.ceil(Math.hypot(p.x - from.x, p.y - from.y) / Math.max(1, r / 3)));
  for (let k = 1; k <= steps; k++) {
    stamp(from.x + (p.x - from.x) * k / steps, from.y + (p.y - from.y) * k / steps, r, value);
  }
  render(Math.min(from.x, p.x) - r - 1, Math.min(from.y, p.y) - r - 1,
         Math.max(from.x, p.x) + r + 2, Math.max(from.y, p.y) + r + 2);
  state.last = p;
}

// Flood fill of the 4-connected region of equal labels around (x, y), scanline by scanline.
function fill(x, y, value) {
  const { width: w, height: h, trimap } = state;
  const target = trimap[y * w + x];
  if (target === value) return;
  const stack = [[x, y]];
  while (stack.length) {
    const [sx, sy] = stack.pop();
    let xl = sx;
    const row = sy * w;
    if (trimap[row + sx] !== target) continue;
    while (xl > 0 && trimap[row + xl - 1] === target) xl--;
    let xr = sx;
    while (xr < w - 1 && trimap[row + xr + 1] === target) xr++;
    trimap.fill(value, row + xl, row + xr + 1);
    for (const ny of [sy - 1, sy + 1]) {
      if (ny < 0 || ny >= h) continue;
      const nrow = ny * w;
      let inRun = false;
      for (let nx = xl; nx <= xr; nx++) {
        const match = trimap[nrow + nx] === target;
        if (match && !inRun) stack.push([nx, ny]);
        inRun = match;
      }
    }
  }
  render(0, 0, w, h);
}

function setupPainting() {
  const canvas = $("paint-canvas");
  canvas.addEventListener("pointerdown", (event) => {
    if (!state.trimap || event.button !== 0) return;
    const p = canvasPoint(event);
    rememberForUndo();
    if (currentTool() === "fill") {
      fill(p.x, p.y, currentLabel());
      return;
    }
    canvas.setPointerCapture(event.pointerId);
    state.drawing = true;
    state.last = null;
    strokeTo(p);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (state.drawing) strokeTo(canvasPoint(event));
  });
  const stop = () => { state.drawing = false; state.last = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  $("brush-size").addEventListener("input", () => {
    $("brush-size-value").textContent = $("brush-size").value;
  });
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "z" && source() === "paint") undo();
  });
  $("clear-trimap").addEventListener("click", () => {
    if (!state.trimap) return;
    rememberForUndo();
    state.trimap.fill(BG);
    render(0, 0, state.width, state.height);
    setStatus("trimap cleared: everything is background");
  });
}

// The painted trimap as a grey PNG (opaque, so the browser stores the levels exactly).
function trimapBlob() {
  const { width: w, height: h, trimap } = state;
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let i = 0; i < trimap.length; i++) {
    const p = 4 * i;
    image.data[p] = image.data[p + 1] = image.data[p + 2] = trimap[i];
    image.data[p + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

// A trimap PNG (an example's from the server, or the user's file) into the painting buffer
// when it has the photo's size. Returns its [width, height], loaded or not, or null when the
// browser cannot decode it (TIFF and the like: the server still reads the file itself).
async function loadTrimap(blob) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch (_) {
    return null;
  }
  const size = [bitmap.width, bitmap.height];
  if (bitmap.width !== state.width || bitmap.height !== state.height) return size;
  rememberForUndo();
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width; canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  for (let i = 0; i < state.trimap.length; i++) {
    const v = data[4 * i];
    state.trimap[i] = v < 64 ? BG : v > 191 ? FG : UNKNOWN;
  }
  render(0, 0, state.width, state.height);
  return size;
}

// ---------------------------------------------------------------------------------------
// Sources, examples, method list

function source() { return document.querySelector("input[name=source]:checked").value; }

function showSource() {
  const chosen = source();
  for (const name of ["paint", "trimap", "mask"]) $(`${name}-panel`).hidden = name !== chosen;
  if (state.photoPixels) render(0, 0, state.width, state.height);
}

async function loadExample(name, title) {
  const [image, trimap] = await Promise.all([
    fetch(`/api/examples/${name}/image.png`).then((r) => r.blob()),
    fetch(`/api/examples/${name}/trimap.png`).then((r) => r.blob()),
  ]);
  if (!(await choosePhoto(image, `${name}.png`))) return;
  await loadTrimap(trimap);
  document.querySelector("input[name=source][value=paint]").checked = true;
  showSource();
  setStatus(`example: ${title} (${state.width}×${state.height}), with its trimap; ` +
            "paint over it or press Make the matte");
}

async function loadInfo() {
  const info = await (await fetch("/api/info")).json();
  const select = $("method");
  const names = { alphagan: "AlphaGAN (the shipped model)", cf: "closed-form (Levin)",
                  knn: "KNN matting", lkm: "large-kernel matting", rw: "random-walk matting",
                  sm: "shared matting" };
  for (const method of info.methods) {
    const option = document.createElement("option");
    option.value = method;
    option.textContent = names[method] || method;
    select.append(option);
  }
  for (const example of info.examples) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = example.title;
    button.dataset.example = example.name;
    button.addEventListener("click", () => loadExample(example.name, example.title));
    $("examples").append(button);
  }
  const limits = info.limits;
  $("photo-file").title = `up to ${limits.max_megapixels} megapixels, ${limits.max_upload_mb} MB`;
}

// ---------------------------------------------------------------------------------------
// Running

function toBlobUrl(dataUrl) {
  const bytes = atob(dataUrl.split(",")[1]);
  const array = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
  return URL.createObjectURL(new Blob([array], { type: "image/png" }));
}

async function run() {
  clearError();
  if (!state.photo) { showError("choose a photo (or an example) first"); return; }
  const form = new FormData();
  form.append("image", state.photo, state.photoName);
  const how = source();
  if (how === "paint") {
    if (!state.trimap.includes(UNKNOWN)) {
      showError("the painted trimap has no unknown (orange) pixels: paint a band over the " +
                "object's edge with the Unknown brush");
      return;
    }
    form.append("trimap", await trimapBlob(), "painted-trimap.png");
  } else {
    const file = $(`${how}-file`).files[0];
    if (!file) { showError(`choose a ${how} file first`); return; }
    form.append(how, file, file.name);
    if (how === "mask") form.append("erode_size", $("band").value);
  }
  form.append("method", $("method").value);
  form.append("output", "json");
  const bgFile = $("bg-file").files[0];
  if (bgFile) form.append("background_image", bgFile, bgFile.name);
  else form.append("background", $("bg-colour").value);

  $("run").disabled = true;
  const started = performance.now();
  setStatus("matting…");
  try {
    const response = await fetch("/api/matte", { method: "POST", body: form });
    if (!response.ok) { setStatus(""); showError(await errorText(response)); return; }
    showResult(await response.json(), (performance.now() - started) / 1000);
  } catch (err) {
    setStatus("");
    showError(`cannot reach the server (${err.message})`);
  } finally {
    $("run").disabled = false;
  }
}

function showResult(result, roundTrip) {
  const stem = state.photoName.replace(/\.[^.]*$/, "") || "photo";
  for (const kind of ["trimap", "alpha", "cutout", "composite"]) {
    const img = $(`out-${kind}`);
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = toBlobUrl(result.images[kind]);
  }
  for (const kind of ["cutout", "alpha"]) {
    const link = $(`download-${kind}`);
    link.href = $(`out-${kind}`).src;
    link.download = `${stem}_${kind}.png`;
  }
  const text = `${result.method}, ${result.width}×${result.height}: alpha in ` +
               `${result.seconds.toFixed(2)} s (${roundTrip.toFixed(2)} s with the foreground ` +
               "colours and the transfer)";
  $("time").textContent = text;
  setStatus("done");
  $("results").hidden = false;
  $("results").scrollIntoView({ block: "start" });
}

// ---------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  setupPainting();
  for (const radio of document.querySelectorAll("input[name=source]")) {
    radio.addEventListener("change", showSource);
  }
  $("photo-file").addEventListener("change", () => {
    const file = $("photo-file").files[0];
    if (file) choosePhoto(file, file.name);
  });
  $("band").addEventListener("input", () => { $("band-value").textContent = $("band").value; });
  // An uploaded trimap is shown on the photo and can be touched up in Paint mode (the file
  // itself is what "Upload a trimap" sends).
  $("trimap-file").addEventListener("change", async () => {
    const file = $("trimap-file").files[0];
    clearError();
    const size = file && state.trimap ? await loadTrimap(file) : null;
    state.fileTrimapShown = Boolean(size && size[0] === state.width && size[1] === state.height);
    render(0, 0, state.width, state.height);
    if (state.fileTrimapShown) {
      setStatus("trimap shown on the photo; Paint mode edits it");
    } else if (size) {
      // Said at once, not after "Make the matte": the server would refuse it anyway.
      showError(`${file.name}: the trimap is ${size[0]}x${size[1]} but the photo is ` +
                `${state.width}x${state.height}; a trimap must have the photo's size`);
    }
  });
  $("run").addEventListener("click", run);
  loadInfo().catch((err) => showError(`cannot load the server's settings (${err.message})`));
});
