//===- KilnCompile.cpp - kiln-compile: the compiler's own executable -------===//
//
// `kiln compile ARGS` runs `kiln-compile ARGS`; this is the only binary that
// links MLIR and LLVM besides kiln-opt.
//
//===----------------------------------------------------------------------===//
#include "Build.h"

#include <csignal>

int main(int argc, char **argv) {
  std::signal(SIGXFSZ, SIG_IGN); // a file-size limit fails the write (kiln.cpp)
  return kiln::compilerMain(argc, argv);
}
