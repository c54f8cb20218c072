// harness.mjs — what the Studio's browser tests share: a service directory
// made from the seed's files, `braid studio` started on a free port (its
// printed address read back), Debian's chromium driven by puppeteer-core,
// screenshots under build/studio-shots/, and small helpers for the page.

import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import puppeteer from "puppeteer-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BRAID = process.env.BRAID_BIN ?? join(ROOT, "braid");
export const SEED = join(ROOT, "examples/seed");
export const SHOTS = join(ROOT, "build/studio-shots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A fresh service directory with the seed's APIs, data source (its
 *  database built from users.sql) and functions, and — with workflows —
 *  its workflows too. */
export function seedDir({ workflows = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "braid-studio-"));
  for (const sub of ["apis", "datasources", "functions", ...(workflows ? ["workflows"] : [])]) {
    cpSync(join(SEED, sub), join(dir, sub), { recursive: true });
  }
  mkdirSync(join(dir, "data"));
  const r = spawnSync("sqlite3", [join(dir, "data/users.db")], { input: readFileSync(join(SEED, "data/users.sql")) });
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return dir;
}

/** `braid studio dir` on a free loopback port: {url, token, origin, stop}. */
export async function startStudio(dir) {
  const proc = spawn(BRAID, ["studio", dir, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  proc.stderr.on("data", (d) => { err += d; });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`braid studio printed no address: ${out} ${err}`)), 15000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /Braid Studio: (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    proc.on("exit", (code) => fail(new Error(`braid studio exited ${code}: ${err}`)));
  });
  const u = new URL(url);
  return {
    url, token: u.searchParams.get("token"), origin: u.origin, host: u.host, stderr: () => err,
    stop: async () => { proc.kill("SIGTERM"); await new Promise((ok) => proc.once("exit", ok)); },
  };
}

/** A headless chromium page at 1280×800 recording console errors and page errors. */
export async function openBrowser() {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { browser, page, errors };
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** braid's own command line on dir: {status, stdout, stderr}. */
export function braid(...args) {
  const r = spawnSync(BRAID, args, { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Replaces the text of the input or textarea matching selector. */
export async function fill(page, selector, text) {
  const el = await page.waitForSelector(selector, { visible: true });
  await el.click({ clickCount: 3 });
  await page.keyboard.down("Control");
  await page.keyboard.press("a");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  await el.type(text);
}

/** The centre of an element. */
export async function centre(page, selector) {
  const el = await page.waitForSelector(selector, { visible: true });
  const b = await el.boundingBox();
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** Drags a palette item onto the canvas at (x, y): the HTML drag and drop
 *  events a mouse drag makes (dragstart on the item, dragenter, dragover
 *  and drop where it lands, dragend), dispatched in the page with one
 *  DataTransfer — headless chromium starts no native drag from
 *  synthesized mouse input, and the page's own handlers run as for a
 *  user's drag. */
export async function dragFromPalette(page, kind, x, y) {
  await page.waitForSelector(`[data-testid=palette-${kind}]`, { visible: true });
  const ok = await page.evaluate((k, px, py) => {
    const src = document.querySelector(`[data-testid=palette-${k}]`);
    const dt = new DataTransfer();
    const at = { bubbles: true, cancelable: true, composed: true, dataTransfer: dt, clientX: px, clientY: py };
    src.dispatchEvent(new DragEvent("dragstart", { ...at, clientX: 0, clientY: 0 }));
    const target = document.elementFromPoint(px, py);
    if (!target || !target.closest(".canvas")) return false;
    for (const type of ["dragenter", "dragover", "drop"]) target.dispatchEvent(new DragEvent(type, at));
    src.dispatchEvent(new DragEvent("dragend", at));
    return true;
  }, kind, x, y);
  if (!ok) throw new Error(`(${x}, ${y}) is not on the canvas`);
}

/** Draws an edge by dragging from a's output handle to b's node. */
export async function dragEdge(page, a, b) {
  const handle = await page.waitForSelector(`[data-testid="node-${a}"] .react-flow__handle.source`);
  const hb = await handle.boundingBox();
  const to = await page.waitForSelector(`[data-testid="node-${b}"] .react-flow__handle.target`);
  const tb = await to.boundingBox();
  await page.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2);
  await page.mouse.down();
  await page.mouse.move((hb.x + tb.x) / 2, (hb.y + tb.y) / 2, { steps: 5 });
  await page.mouse.move(tb.x + tb.width / 2, tb.y + tb.height / 2, { steps: 5 });
  await page.mouse.up();
}

/** Clicks a node on the canvas (shift: add it to the selection). */
export async function clickNode(page, id, shift = false) {
  const p = await centre(page, `[data-testid="node-${id}"] .bnode-title`);
  if (shift) await page.keyboard.down("Shift");
  await page.mouse.click(p.x, p.y);
  if (shift) await page.keyboard.up("Shift");
}

/** Waits until fn (run in the page) is truthy. */
export async function until(page, fn, what, timeout = 10000, ...args) {
  try {
    await page.waitForFunction(fn, { timeout }, ...args);
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message}`);
  }
}

export async function statusText(page) {
  return page.$eval("header .status", (e) => e.textContent ?? "");
}
