// seed.test.mjs — builds the seed workflow in Braid Studio from an empty
// workflow directory the way its users do: palette items dragged onto the
// canvas, edges dragged between nodes and made from the keyboard, every
// field typed into the side panel; saves; checks the saved directory with
// `braid check` and `braid run` against the hand-written seed; then presses
// Run in the Test console and reads the trace's colours off the canvas.
// Real braid studio, real chromium (puppeteer-core), real sockets.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  braid, cleanup, clickNode, dragEdge, dragFromPalette, fill, openBrowser, seedDir, shot,
  startStudio, statusText, until,
} from "./harness.mjs";

let dir, studio, browser, page, errors;

before(async () => {
  dir = seedDir();
  studio = await startStudio(dir);
  ({ browser, page, errors } = await openBrowser());
});

after(async () => {
  await browser?.close();
  await studio?.stop();
  if (dir) cleanup(dir);
});

async function addParam(label, name, value) {
  const rows = await page.$$(`input[aria-label^="${label} name "]`);
  const n = rows.length + 1;
  const [add] = await page.$$(`xpath/.//button[normalize-space(.)="+ ${label}"]`);
  await add.click();
  await fill(page, `input[aria-label="${label} name ${n}"]`, name);
  await fill(page, `input[aria-label="${label} value ${n}"]`, value);
}

test("the seed workflow built by drag and drop answers as the hand-written one", async () => {
  page.on("dialog", (d) => void d.accept("user_lookup"));
  await page.goto(studio.url, { waitUntil: "networkidle0" });
  await page.waitForSelector("nav.side");
  // A new workflow: START → END.
  const [newBtn] = await page.$$('xpath/.//nav//button[normalize-space(.)="New"]');
  await newBtn.click();
  await page.waitForSelector('[data-testid="node-START"]');
  await page.waitForSelector('[data-testid="node-END"]');
  // Its START → END edge goes (E selects it, Delete removes it).
  await page.click(".canvas .react-flow__pane");
  await page.keyboard.press("e");
  await until(page, () => document.querySelector(".panel")?.textContent?.includes("Edge START → END"), "edge selected");
  await page.keyboard.press("Delete");

  // Drop the nodes from the palette.
  const box = await (await page.$(".canvas")).boundingBox();
  const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
  await dragFromPalette(page, "sql", ...at(0.3, 0.5));
  await page.waitForSelector('[data-testid="node-API1"]');
  await dragFromPalette(page, "switch", ...at(0.45, 0.5));
  await page.waitForSelector('[data-testid="node-SWITCH1"]');
  await dragFromPalette(page, "function", ...at(0.6, 0.3));
  await page.waitForSelector('[data-testid="node-PYTHON1"]');
  await dragFromPalette(page, "function", ...at(0.6, 0.7));
  await page.waitForSelector('[data-testid="node-PYTHON2"]');
  await shot(page, "1-nodes-dropped");
  // Tidy up (L): laid out left to right, the view fitted.
  await page.click(".canvas .react-flow__pane");
  await page.keyboard.press("l");
  await new Promise((ok) => setTimeout(ok, 400));

  // API1: the SQL API, its parameter and output mapping.
  await clickNode(page, "API1");
  await page.waitForSelector('select[aria-label="api"]');
  await page.select('select[aria-label="api"]', "get_user");
  await addParam("params", "id", "${START.uid}");
  await addParam("output", "user_id", "$.data[0].id");
  await addParam("output", "name", "$.data[0].name");

  // The functions.
  await clickNode(page, "PYTHON1");
  await page.select('select[aria-label="function"]', "regular_user");
  await clickNode(page, "PYTHON2");
  await page.select('select[aria-label="function"]', "admin_user");

  // Edges: dragged with the mouse, and from the keyboard (two selected, C).
  await dragEdge(page, "START", "API1");
  await dragEdge(page, "API1", "SWITCH1");
  await clickNode(page, "SWITCH1");
  await clickNode(page, "PYTHON1", true);
  await page.keyboard.press("c");
  await clickNode(page, "SWITCH1");
  await clickNode(page, "PYTHON2", true);
  await page.keyboard.press("c");
  await dragEdge(page, "PYTHON1", "END");
  await dragEdge(page, "PYTHON2", "END");

  // The switch's conditions, in order.
  await clickNode(page, "SWITCH1");
  await page.waitForSelector('input[aria-label="condition 2"]');
  await fill(page, 'input[aria-label="condition 1"]', "$.user_id != 1");
  await fill(page, 'input[aria-label="condition 2"]', "$.user_id == 1");
  assert.equal(await page.$eval('select[aria-label="next 1"]', (e) => e.value), "PYTHON1");
  assert.equal(await page.$eval('select[aria-label="next 2"]', (e) => e.value), "PYTHON2");

  // START's declared parameter and END's result.
  await clickNode(page, "START");
  const [addDecl] = await page.$$('xpath/.//button[normalize-space(.)="+ parameter"]');
  await addDecl.click();
  await fill(page, 'input[aria-label="parameter name 1"]', "uid");
  await page.select('select[aria-label="parameter type 1"]', "int");
  await page.click('input[aria-label="parameter required 1"]');
  await clickNode(page, "END");
  await addParam("result", "user_id", "${API1.user_id}");
  await addParam("result", "name", "$.name");
  await addParam("result", "role", "$.role");
  await addParam("result", "vip", "$.vip");

  // Tidy up again (L), save (Ctrl+S): valid.
  await page.click(".canvas .react-flow__pane");
  await page.keyboard.press("l");
  await page.keyboard.down("Control");
  await page.keyboard.press("s");
  await page.keyboard.up("Control");
  await until(page, () => document.querySelector("header .status")?.textContent === "saved, valid", "saved, valid",
    10000);
  await shot(page, "2-seed-built");

  // The saved directory: valid, and the same answers as the seed.
  assert.ok(existsSync(join(dir, "workflows/user_lookup.json")));
  assert.ok(existsSync(join(dir, "layouts/user_lookup.json")), "positions go to layouts/, not the workflow");
  const wf = JSON.parse(readFileSync(join(dir, "workflows/user_lookup.json"), "utf8"));
  for (const n of wf.nodes) assert.equal(n.position, undefined);
  assert.deepEqual(wf.params, { uid: { type: "int", required: true } });
  // Declared int: a string "2" (as a query string gives it) is converted, as for the seed.
  const asText = braid("run", dir, "user_lookup", "--input", '{"uid": "2"}');
  assert.equal(asText.status, 0, asText.stderr);
  assert.deepEqual(JSON.parse(asText.stdout), { user_id: 2, name: "bob", role: "user", vip: false });
  const check = braid("check", dir);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const seed = seedDir({ workflows: true });
  try {
    for (const uid of [1, 2]) {
      const mine = braid("run", dir, "user_lookup", "--input", JSON.stringify({ uid }));
      const theirs = braid("run", seed, "user_lookup", "--input", JSON.stringify({ uid }));
      assert.equal(mine.status, 0, mine.stderr);
      assert.deepEqual(JSON.parse(mine.stdout), JSON.parse(theirs.stdout), `uid=${uid}`);
    }
    assert.deepEqual(JSON.parse(braid("run", dir, "user_lookup", "--input", '{"uid": 1}').stdout),
      { user_id: 1, name: "alice", role: "admin", vip: true });
  } finally {
    cleanup(seed);
  }

  // Test: {"uid": 1} — PYTHON2 succeeded, PYTHON1 skipped, on the canvas.
  await fill(page, 'textarea[aria-label="test input"]', '{"uid": 1}');
  const [runBtn] = await page.$$('xpath/.//section[@aria-label="Test console"]//button[normalize-space(.)="Run"]');
  await runBtn.click();
  await until(page, () => document.querySelector('[data-testid="node-PYTHON2"]')?.classList.contains("s-succeeded"),
    "PYTHON2 succeeded on the canvas");
  const cls = async (id) => page.$eval(`[data-testid="node-${id}"]`, (e) => [...e.classList]);
  assert.ok((await cls("PYTHON1")).includes("s-skipped"), String(await cls("PYTHON1")));
  assert.ok((await cls("API1")).includes("s-succeeded"));
  assert.ok((await cls("SWITCH1")).includes("s-succeeded"));
  const out = await page.$eval('pre[aria-label="test output"]', (e) => JSON.parse(e.textContent ?? "null"));
  assert.deepEqual(out, { user_id: 1, name: "alice", role: "admin", vip: true });
  await shot(page, "3-test-run");

  // Save the run as a test case; braid test passes it.
  await fill(page, 'input[aria-label="test case name"]', "admin");
  const [saveCase] = await page.$$('xpath/.//button[normalize-space(.)="Save as test case"]');
  await saveCase.click();
  await until(page, () => document.querySelector("header .status")?.textContent?.includes("tests/user_lookup/admin.json"),
    "case saved");
  const t = braid("test", dir);
  assert.equal(t.status, 0, t.stdout + t.stderr);
  assert.match(t.stdout, /1 passed, 0 failed/);
  assert.deepEqual(errors, [], "no console errors");
  assert.ok((await statusText(page)).includes("admin.json"));
});
