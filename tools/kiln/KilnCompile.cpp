//===- KilnCompile.cpp - kiln-compile: the compiler's own executable -------===//
//
// `kiln compile ARGS` runs `kiln-compile ARGS`; this is the only binary that
// links MLIR and LLVM besides kiln-opt.
//
//===----------------------------------------------------------------------===//
#include "Build.h"

int main(int argc, char **argv) { return kiln::compilerMain(argc, argv); }
