#!/usr/bin/env python3
"""Every subcommand with random command lines, as a careless or hostile
user would type them: options drawn from each one's declared form (its
--help says N, X, a|b choices, a path or a flag) and out of it (text for a
number, a number past any range, a negative, an empty value, an option
given twice, an unknown one, a missing value, garbage positionals).

For each run it checks the properties issue 28 asks for:
  - no signal (no abort, trap or segfault) and no timeout;
  - the status is 0, 1 (the work failed) or 2 (the command line is wrong),
    and a failure says why on stderr as "kiln SUBCOMMAND: ...";
  - no file outside the run's output folder is created, changed or
    removed, and no temporary file (*.tmp-PID) is left anywhere.

    check-random-options.py KILN TINY_GRAPH [--cases N] [--seed S]

The cases are seeded; a failure prints the command line to rerun it.
"""
import argparse
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

# The subcommands, their positionals (drawn from these) and which options
# name outputs (pointed into out/).
POSITIONALS = {
    "train": [["{graph}"], ["{artifact}"]],
    "run": [["{artifact}"]],
    "eval": [["{artifact}"]],
    "inspect": [["{artifact}"]],
    "bench": [["{artifact}"]],
    "export": [["{run}"]],
    "data convert": [["{idx}", "{out}/shards"]],
    "data stats": [["{idx}"]],
    "data bench": [["{graph}"]],
    "compile": [["{graph}"]],
}
OUTPUTS = {"--out", "-o", "--outputs", "--trace", "--graph", "--memory-plot",
           "--dump-phases-to", "--dump-kernels-to", "--dump-plan-to"}
# Valid values of options whose form says only "a path" or "a name".
PATH_VALUES = {
    "--data": ["synthetic:64", "{idx}"], "--eval-data": ["{idx}"],
    "--inputs": ["{batch}"], "--params": ["{run}/params.safetensors"],
    "--state": ["{run}/state.safetensors"], "--init-from": ["{run}/params.safetensors"],
    "--init-network": ["net"], "--network": ["net"], "--program": ["train_step", "eval"],
    "--node": ["net.head"], "--cpu": ["host", "x86-64-v3"], "--schedule": ["lr=0.1"],
}
HOSTILE = ["abc", "", "-1", "0", "1e30", "99999999999999999999", "nan", "--steps",
           "/proc/kiln", "/nonexistent/x", "{graph}", "{run}", "synthetic:0", "lr=abc",
           "\u00e9t\u00e9", "-"]


def options_of(kiln, sub):
    """(name, form) for each option of `kiln SUB --help`: form is 'flag',
    'N', 'X', a list of choices, or 'text'."""
    out = subprocess.run([kiln, *sub.split(), "--help"], capture_output=True, text=True).stdout
    found = []
    if sub == "compile": # LLVM's parser: --name=<value>
        for m in re.finditer(r"^\s+(--[a-z][a-z0-9-]*)(=<([^>]*)>)?", out, re.M):
            if m.group(1).startswith("--mlir") or m.group(1) in ("--help", "--version"):
                continue
            found.append((m.group(1), "text" if m.group(2) else "flag"))
        return found
    for m in re.finditer(r"^\s+(?:-h,)?(-{1,2}[a-z][a-z0-9-]*)(?: ([^\s]+))?", out, re.M):
        name, form = m.group(1), m.group(2)
        if name in ("-h", "--help"):
            continue
        if form is None or not re.match(r"^[A-Z]+$|^[a-z0-9]+(\|[a-z0-9]+)+$", form):
            found.append((name, "flag"))
        elif "|" in form:
            found.append((name, form.split("|")))
        else:
            found.append((name, form if form in ("N", "X") else "text"))
    return found


def value_for(name, form, rng, places):
    if rng.random() < 0.35:
        return rng.choice(HOSTILE).format(**places)
    if name in OUTPUTS:
        return os.path.join(places["out"], rng.choice(["a", "b.kiln", "c.json", "d.svg"]))
    if isinstance(form, list):
        return rng.choice(form)
    if form == "N":
        return str(rng.randint(1, 3))
    if form == "X":
        return rng.choice(["0", "0.5", "1e-5"])
    return rng.choice(PATH_VALUES.get(name, ["x"])).format(**places)


def command(sub, options, rng, places):
    args = [a.format(**places) for a in rng.choice(POSITIONALS[sub])]
    if rng.random() < 0.1:
        args = rng.choice([[], args + ["extra"], ["{graph}".format(**places)] * 2])
    chosen = rng.sample(options, min(len(options), rng.randint(0, 4)))
    for name, form in chosen:
        if form == "flag":
            args.append(name)
            continue
        args += [name, value_for(name, form, rng, places)]
        if rng.random() < 0.05:
            args += [name, value_for(name, form, rng, places)] # given twice
    if rng.random() < 0.05:
        args.append(rng.choice(["--frobnicate", "-x", "--stpes", "--out"]))
    # Keep a valid run short: a few steps of synthetic data unless drawn.
    if sub in ("train", "bench", "eval") and "--data" not in args:
        args += ["--data", "synthetic:64"]
    if sub == "train" and "--steps" not in args:
        args += ["--steps", "2"]
    if sub in ("train", "bench"):
        args += ["--threads", "1"]
    return args


def snapshot(root, skip):
    files = {}
    for d, _, names in os.walk(root):
        if os.path.commonpath([d, skip]) == skip:
            continue
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                files[p] = hashlib.sha256(f.read()).hexdigest()
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kiln")
    ap.add_argument("graph")
    ap.add_argument("--cases", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    a.kiln = os.path.abspath(a.kiln)
    rng = random.Random(a.seed)
    root = tempfile.mkdtemp(prefix="kiln-options-")
    try:
        places = {"root": root, "out": os.path.join(root, "out"),
                  "graph": os.path.join(root, "tiny.json"),
                  "artifact": os.path.join(root, "tiny.kiln"),
                  "run": os.path.join(root, "run"), "idx": os.path.join(root, "idx"),
                  "batch": os.path.join(root, "batch.safetensors")}
        shutil.copy(a.graph, places["graph"])
        here = os.path.dirname(os.path.abspath(__file__))
        inputs = os.path.join(here, "..", "lit", "Tools", "Inputs")
        # The graph imports the model library relative to its own folder.
        text = open(a.graph).read().replace("../../../../models/",
                                            os.path.join(here, "..", "..", "models") + "/")
        open(places["graph"], "w").write(text)
        setup = [[a.kiln, "compile", places["graph"], "-o", places["artifact"], "--quiet"],
                 [a.kiln, "train", places["artifact"], "--steps", "1", "--data", "synthetic:64",
                  "--threads", "1", "--quiet", "--out", places["run"]],
                 [sys.executable, os.path.join(inputs, "idx.py"), places["idx"], "--size", "8", "8"],
                 [sys.executable, os.path.join(inputs, "safetensors.py"), "batch", places["batch"]]]
        for cmd in setup:
            subprocess.run(cmd, check=True, capture_output=True)
        options = {sub: options_of(a.kiln, sub) for sub in POSITIONALS}
        failures, statuses = [], {}
        for case in range(a.cases):
            sub = rng.choice(sorted(POSITIONALS))
            args = command(sub, options[sub], rng, places)
            shutil.rmtree(places["out"], ignore_errors=True)
            os.makedirs(places["out"])
            before = snapshot(root, places["out"])
            try:
                r = subprocess.run([a.kiln, *sub.split(), *args], capture_output=True, text=True,
                                   timeout=120, cwd=places["out"])
                status, err = r.returncode, r.stderr
            except subprocess.TimeoutExpired:
                status, err = "timeout", ""
            statuses[status] = statuses.get(status, 0) + 1
            after = snapshot(root, places["out"])
            problems = []
            if status not in (0, 1, 2):
                problems.append(f"status {status}")
            elif status != 0 and not re.search(r"^kiln( [a-z]+)*: ", err, re.M):
                problems.append("no 'kiln ...:' message on stderr")
            if after != before:
                changed = sorted(set(after) ^ set(before) |
                                 {p for p in after if p in before and after[p] != before[p]})
                problems.append("files changed outside out/: " + ", ".join(changed))
            left = [os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns
                    if re.search(r"\.tmp-[0-9]+", n)]
            if left:
                problems.append("temporary files left: " + ", ".join(left))
            if problems:
                failures.append(f"case {case}: kiln {sub} {' '.join(map(repr, args))}\n  " +
                                "; ".join(problems) + "\n  stderr: " + err.strip()[-400:])
        print(f"{a.cases} random command lines, statuses {statuses}")
        for f in failures:
            print(f)
        return 1 if failures else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
