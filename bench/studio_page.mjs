// studio_page.mjs — `make bench-studio`: figures for Braid Studio's page, not
// a test.  In one run, on this machine, headless Debian chromium:
//   - start-up: from spawning `braid studio` to a usable page (the seed's
//     workflow drawn on the canvas), and the HTTP part alone (the address
//     printed, GET /);
//   - a generated 200-node workflow (20 layers of 10 API nodes, no layout
//     file): from clicking it to its nodes drawn (load + automatic layout
//     + first paint), and the time per mouse move while dragging one node;
//   - the embedded bundle: bytes and gzip bytes.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { ROOT, centre, cleanup, openBrowser, seedDir, startStudio } from "../studio/test-browser/harness.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ms = (t) => `${t.toFixed(0)} ms`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function bigWorkflow() {
  const nodes = [], edges = [];
  let prev = ["START"];
  for (let layer = 0; layer < 20; layer++) {
    const cur = [];
    for (let i = 0; i < 10; i++) {
      const id = `N${layer}_${i}`;
      nodes.push({ id, type: "api", api: "get_user", params: { id: 1 } });
      cur.push(id);
      edges.push([prev[i % prev.length], id]);
    }
    prev = cur;
  }
  for (const id of prev) edges.push([id, "END"]);
  return { nodes, edges };
}

const dir = seedDir({ workflows: true });
writeFileSync(join(dir, "workflows/zbig.json"), JSON.stringify(bigWorkflow(), null, 2) + "\n");
const { browser, page } = await openBrowser();
const start = [], http = [], open = [], moves = [];
try {
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const studio = await startStudio(dir);
    const t1 = performance.now();
    await page.goto(studio.url, { waitUntil: "domcontentloaded" });
    await page.waitForSelector('[data-testid="node-SWITCH2"]', { visible: true });
    const t2 = performance.now();
    http.push(t1 - t0);
    start.push(t2 - t0);
    // The 200-node workflow.
    const [btn] = await page.$$('xpath/.//nav//button[normalize-space(.)="zbig"]');
    const t3 = performance.now();
    await btn.click();
    await page.waitForFunction(() => document.querySelectorAll(".bnode").length >= 50 &&
      new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true)))));
    open.push(performance.now() - t3);
    // Drag one node 20 steps; the time per step (the page redraws each).
    const c = await centre(page, '[data-testid="node-N0_0"] .bnode-title');
    await page.mouse.move(c.x, c.y);
    await page.mouse.down();
    const t4 = performance.now();
    for (let i = 1; i <= 20; i++) {
      await page.mouse.move(c.x + i * 5, c.y + i * 3);
      await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => ok(true))));
    }
    moves.push((performance.now() - t4) / 20);
    await page.mouse.up();
    await studio.stop();
  }
} finally {
  await browser.close();
  cleanup(dir);
}
const js = readFileSync(join(ROOT, "studio/dist/app.js"));
const css = readFileSync(join(ROOT, "studio/dist/app.css"));
const chromium = spawnSync("/usr/bin/chromium", ["--version"], { encoding: "utf8" }).stdout.trim();
console.log(`Braid Studio page, ${RUNS} runs (median), ${chromium}, headless, 1280x800`);
console.log(`  start-up: braid studio to a usable page        ${ms(median(start))}   (to the address printed: ${ms(median(http))})`);
console.log(`  200-node workflow: click to drawn (load+layout) ${ms(median(open))}`);
console.log(`  dragging a node among 200: per mouse move       ${median(moves).toFixed(1)} ms`);
console.log(`  bundle: app.js ${(js.length / 1024).toFixed(0)} KiB (gzip ${(gzipSync(js).length / 1024).toFixed(0)} KiB), ` +
  `app.css ${(css.length / 1024).toFixed(0)} KiB (gzip ${(gzipSync(css).length / 1024).toFixed(0)} KiB)`);
