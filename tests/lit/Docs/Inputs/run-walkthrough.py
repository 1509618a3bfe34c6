"""Runs the indented commands that follow MARKER in a Markdown file, in
DIR, with models/ resolved in the source tree; prints each command's
output, and stops at the first that fails.

    run-walkthrough.py DOC MARKER KILN_SRC DIR
"""
import subprocess
import sys

doc, marker, src, where = sys.argv[1:5]
text = open(doc).read().split(marker, 1)[1].lstrip("\n")
commands = []
for line in text.splitlines():
    if not line.startswith("    "):
        break
    commands.append(line.strip().replace("models/", src + "/models/"))
print("commands:", len(commands))
for command in commands:
    print("$", command)
    sys.stdout.flush()
    subprocess.run(command, shell=True, cwd=where, check=True)
