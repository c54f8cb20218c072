// build.mjs — bundles Braid Studio's page with esbuild (npm run build), or
// its unit tests for node's test runner (npm test / --tests).  The page's
// bundle goes to dist/ as app.js + app.css; `make` embeds dist/ and
// index.html into the braid binary, so the Studio works offline.
import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";

const tests = process.argv.includes("--tests");

if (tests) {
  const entries = readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => "test/" + f);
  await esbuild.build({
    entryPoints: entries, bundle: true, platform: "node", format: "esm", target: "node18",
    outdir: "dist-test", outExtension: { ".js": ".mjs" }, logLevel: "warning",
  });
} else {
  await esbuild.build({
    entryPoints: ["src/main.tsx"], bundle: true, minify: true, format: "esm", target: "es2020",
    outfile: "dist/app.js", loader: { ".css": "css" }, legalComments: "linked",
    define: { "process.env.NODE_ENV": '"production"' }, logLevel: "warning",
  });
}
