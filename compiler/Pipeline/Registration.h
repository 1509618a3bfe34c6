//===- Registration.h - what kiln's tools register ---------------*- C++ -*-===//
//
// Only the dialects and passes kiln uses: InitAllDialects/InitAllPasses cost
// ~45 s of compile time per translation unit on a 2-core machine.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PIPELINE_REGISTRATION_H
#define KILN_PIPELINE_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace kiln {

void registerKilnDialects(mlir::DialectRegistry &registry);
/// kiln's passes, the upstream ones its pipeline uses, and the pipeline
/// itself as `kiln-pipeline` (any range of its phases).
void registerKilnPassesAndPipelines();

} // namespace kiln

#endif // KILN_PIPELINE_REGISTRATION_H
