// guards.test.mjs — what must never go wrong on the Studio's page, in a
// real chromium against a real `braid studio`: a broken switch condition
// shows the engine's parse error on that switch (field and node); a file
// changed on disk meanwhile is a conflict the page offers to resolve, never
// a silent overwrite; markup in node ids, print output and API answers is
// shown as text (no script runs); the API refuses calls without the token
// (401), with a foreign Host (403) and names that leave the directory (400).

import assert from "node:assert/strict";
import { request } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { cleanup, clickNode, fill, openBrowser, seedDir, shot, startStudio, until } from "./harness.mjs";

let dir, studio, browser, page, errors;

before(async () => {
  dir = seedDir({ workflows: true });
  studio = await startStudio(dir);
  ({ browser, page, errors } = await openBrowser());
});

after(async () => {
  await browser?.close();
  await studio?.stop();
  if (dir) cleanup(dir);
});

async function save() {
  await page.keyboard.down("Control");
  await page.keyboard.press("s");
  await page.keyboard.up("Control");
}

test("a broken condition shows its parse error on the switch, and the file is still saved", async () => {
  await page.goto(studio.url, { waitUntil: "networkidle0" });
  await page.waitForSelector('[data-testid="node-SWITCH2"]');
  await clickNode(page, "SWITCH2");
  await fill(page, 'input[aria-label="condition 1"]', "$.user_id != ");
  await save();
  await until(page, () => /problem/.test(document.querySelector("header .status")?.textContent ?? ""), "saved with problems");
  const saved = JSON.parse(readFileSync(join(dir, "workflows/user_lookup.json"), "utf8"));
  assert.equal(saved.nodes.find((n) => n.id === "SWITCH2").branches[0].when, "$.user_id != ", "saved anyway");
  const bad = await page.$eval('[data-testid="node-SWITCH2"]', (e) => e.classList.contains("bad"));
  assert.ok(bad, "the switch is outlined");
  const shown = await page.$eval(".panel .branches .problems", (e) => e.textContent ?? "");
  assert.match(shown, /branches\[0\]|when|condition|expected/i, shown);
  await shot(page, "guard-parse-error");
  // Mended: valid again, the outline gone.
  await fill(page, 'input[aria-label="condition 1"]', "$.user_id != 1");
  await save();
  await until(page, () => document.querySelector("header .status")?.textContent === "saved, valid", "valid again");
  assert.equal(await page.$eval('[data-testid="node-SWITCH2"]', (e) => e.classList.contains("bad")), false);
});

test("a file changed on disk meanwhile is a conflict: reload theirs, or overwrite with mine", async () => {
  await page.goto(studio.url, { waitUntil: "networkidle0" });
  await page.waitForSelector('[data-testid="node-API1"]');
  const path = join(dir, "workflows/user_lookup.json");
  const theirs = JSON.parse(readFileSync(path, "utf8"));
  theirs.timeout_ms = 4321;
  writeFileSync(path, JSON.stringify(theirs, null, 2) + "\n");
  await clickNode(page, "API1");
  await fill(page, 'input[aria-label="node timeout_ms"]', "777");
  await save();
  await page.waitForSelector('[role="alertdialog"][aria-label="conflict"]');
  assert.equal(JSON.parse(readFileSync(path, "utf8")).timeout_ms, 4321, "their change is not overwritten");
  await shot(page, "guard-conflict");
  const [reload] = await page.$$('xpath/.//button[normalize-space(.)="Reload theirs"]');
  await reload.click();
  await until(page, () => !document.querySelector('[role="alertdialog"]'), "the conflict closed");
  await clickNode(page, "START");
  assert.equal(await page.$eval('input[aria-label="timeout_ms"]', (e) => e.value), "4321");
  // Once more, and this time overwrite.
  theirs.timeout_ms = 1234;
  writeFileSync(path, JSON.stringify(theirs, null, 2) + "\n");
  await fill(page, 'input[aria-label="timeout_ms"]', "5000");
  await save();
  await page.waitForSelector('[role="alertdialog"][aria-label="conflict"]');
  const [mine] = await page.$$('xpath/.//button[normalize-space(.)="Overwrite with mine"]');
  await mine.click();
  await until(page, () => !document.querySelector('[role="alertdialog"]'), "overwritten");
  assert.equal(JSON.parse(readFileSync(path, "utf8")).timeout_ms, 5000);
});

test("markup in node ids, print output and API answers is shown as text", async () => {
  const evil = '<img src=x onerror="window.__xss=1">';
  writeFileSync(join(dir, "functions/shout.py"),
    "def handler(event, context):\n    print('<script>window.__xss=2</script>')\n" +
    "    return {'html': '\"><img src=x onerror=window.__xss=3>'}\n");
  writeFileSync(join(dir, "workflows/evil.json"), JSON.stringify({
    nodes: [{ id: "F", type: "function", function: "shout" }, { id: evil, type: "function", function: "shout" }],
    edges: [["START", "F"], ["F", "END"]],
  }, null, 2) + "\n");
  await page.goto(studio.url, { waitUntil: "networkidle0" });
  const [wf] = await page.$$('xpath/.//nav//button[normalize-space(.)="evil"]');
  await wf.click();
  await page.waitForSelector('[data-testid="node-F"]');
  const ids = await page.$$eval(".bnode-title", (es) => es.map((e) => e.textContent));
  assert.ok(ids.includes(evil), `the id is shown as its text: ${ids}`);
  // The saved directory does not validate (that id is not a name): the run says so.
  await fill(page, 'textarea[aria-label="test input"]', "{}");
  const [run] = await page.$$('xpath/.//section[@aria-label="Test console"]//button[normalize-space(.)="Run"]');
  await run.click();
  await page.waitForSelector('pre[aria-label="test output"]');
  // Remove the bad node from the file, run again: the print and the answer come back as text.
  writeFileSync(join(dir, "workflows/evil.json"), JSON.stringify({
    nodes: [{ id: "F", type: "function", function: "shout" }], edges: [["START", "F"], ["F", "END"]],
  }, null, 2) + "\n");
  await page.goto(studio.url, { waitUntil: "networkidle0" });
  const [wf2] = await page.$$('xpath/.//nav//button[normalize-space(.)="evil"]');
  await wf2.click();
  await page.waitForSelector('[data-testid="node-F"]');
  const [run2] = await page.$$('xpath/.//section[@aria-label="Test console"]//button[normalize-space(.)="Run"]');
  await run2.click();
  await until(page, () => document.querySelector('[data-testid="node-F"]')?.classList.contains("s-succeeded"), "F ran");
  const out = await page.$eval('pre[aria-label="test output"]', (e) => e.textContent ?? "");
  assert.ok(out.includes('\\"><img src=x onerror=window.__xss=3>'), out);
  await clickNode(page, "F");
  await page.waitForSelector(".trace-detail");
  const detail = await page.$eval(".trace-detail", (e) => e.textContent ?? "");
  assert.ok(detail.includes("<script>window.__xss=2</script>"), detail);
  await shot(page, "guard-escaping");
  assert.equal(await page.evaluate(() => window.__xss), undefined, "no script ran");
  assert.equal(await page.$("img[src=x]"), null, "no element was made from the text");
  assert.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), []);
});

function raw(method, path, headers) {
  return new Promise((ok, fail) => {
    const u = new URL(studio.origin);
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => ok({ status: res.statusCode, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

test("the API: 401 without the token, 403 for a foreign Host, 400 for a name with ../", async () => {
  const auth = { Authorization: `Bearer ${studio.token}` };
  assert.equal((await raw("GET", "/api/service", {})).status, 401);
  assert.equal((await raw("GET", "/api/service", { Authorization: "Bearer nope" })).status, 401);
  assert.equal((await raw("POST", "/api/check", {})).status, 401);
  assert.equal((await raw("GET", "/api/service", { ...auth, Host: "evil.example:80" })).status, 403);
  assert.equal((await raw("GET", "/api/service", auth)).status, 200);
  assert.equal((await raw("PUT", "/api/files/workflows/..%2F..%2Fetc", auth)).status, 400);
  assert.equal((await raw("PUT", "/api/files/tests/user_lookup/..", auth)).status, 400);
  // The page itself needs no token; the page's own calls carry it (the page loaded above worked).
  assert.equal((await raw("GET", "/", {})).status, 200);
});
