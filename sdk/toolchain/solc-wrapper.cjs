#!/usr/bin/env node
// Makes the npm `solc` (solc-js) answer like the native binary, for py-solc-x:
//   --version        -> "solc, the solidity compiler ...\nVersion: <long version>"
//   --standard-json  -> reads the JSON input on stdin, prints only the JSON output.
// `solcjs --standard-json` prints a warning line before its JSON, so we call
// solc.compile() ourselves. Imports resolve against the project root,
// then its node_modules; nothing is fetched over the network.
"use strict";
const fs = require("fs");
const path = require("path");
const projectRoot = path.resolve(__dirname, "..", "..");

function loadSolc() {
  const roots = [path.join(projectRoot, "node_modules"), path.join(process.cwd(), "node_modules")];
  for (const root of roots) {
    if (!root) continue;
    try {
      return require(path.join(root, "solc"));
    } catch (err) {
      if (err.code !== "MODULE_NOT_FOUND") throw err;
    }
  }
  process.stderr.write("npm package 'solc' not found: run `npm ci` in the project root\n");
  process.exit(2);
}

function findImports(importPath) {
  const roots = [projectRoot, path.join(projectRoot, "node_modules"), process.cwd()];
  for (const root of roots) {
    if (!root) continue;
    const candidate = path.resolve(root, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `File not found: ${importPath}` };
}

const args = process.argv.slice(2);
const solc = loadSolc();
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes("--standard-json")) {
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImports }));
  // Setting exitCode (not calling exit) lets a large answer drain fully into a pipe.
  process.stdout.write("\n");
} else {
  process.stderr.write(`unsupported arguments: ${args.join(" ")} (only --version and --standard-json)\n`);
  process.exitCode = 2;
}
