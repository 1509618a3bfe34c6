//===- Subcommands.h - kiln's subcommands ------------------------*- C++ -*-===//
//
// Each subcommand is a main() of its own: it gets argv from the subcommand
// name on and parses its options itself.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_SUBCOMMANDS_H
#define KILN_TOOLS_SUBCOMMANDS_H

namespace kiln {

/// kiln compile MODEL.json [options]
int compileMain(int argc, char **argv);
/// kiln train MODEL.json | OUT.kiln [options]
int trainMain(int argc, char **argv);
/// kiln run OUT.kiln --inputs I --outputs O [options]
int runMain(int argc, char **argv);
/// kiln inspect OUT.kiln
int inspectMain(int argc, char **argv);
/// kiln eval OUT.kiln [--params FILE]
int evalMain(int argc, char **argv);
/// kiln bench OUT.kiln [--steps N]
int benchMain(int argc, char **argv);
/// kiln export RUNDIR -o weights.safetensors [--network NAME]
int exportMain(int argc, char **argv);
/// kiln data convert SRC DST | kiln data stats SRC
int dataMain(int argc, char **argv);

} // namespace kiln

#endif // KILN_TOOLS_SUBCOMMANDS_H
