//===- KernelLineInfo.cpp - kernels' line tables from op locations --------===//
#include "compiler/Codegen/KernelLineInfo.h"

#include "Kiln/IR/KilnLocations.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/BinaryFormat/Dwarf.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace kiln {

void addKernelLineInfo(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  module.walk([&](LLVM::LLVMFuncOp fn) {
    if (fn.isExternal())
      return;
    // The function's file is its region's node's (the JSON graph or the
    // module library it comes from); ops in other files get their own.
    auto at = dyn_cast<FileLineColLoc>(
        nodeName(fn.getLoc()) ? nodeName(fn.getLoc()).getChildLoc() : nodeLocation(fn.getLoc()));
    StringRef path = at ? at.getFilename().getValue() : "kernel";
    auto file = LLVM::DIFileAttr::get(ctx, llvm::sys::path::filename(path),
                                      llvm::sys::path::parent_path(path));
    // Directives only: .file/.loc lines without debug sections, as nvcc's
    // -lineinfo (a full compile unit makes PTX `.target ..., debug`).
    auto unit = LLVM::DICompileUnitAttr::get(
        DistinctAttr::create(UnitAttr::get(ctx)), llvm::dwarf::DW_LANG_C, file,
        StringAttr::get(ctx, "kiln"), /*isOptimized=*/true,
        LLVM::DIEmissionKind::DebugDirectivesOnly);
    unsigned line = at ? at.getLine() : 0;
    auto program = LLVM::DISubprogramAttr::get(
        DistinctAttr::create(UnitAttr::get(ctx)), unit, file, fn.getName(), fn.getName(), file,
        line, line, LLVM::DISubprogramFlags::Definition | LLVM::DISubprogramFlags::Optimized,
        LLVM::DISubroutineTypeAttr::get(ctx, {}));
    fn->setLoc(FusedLoc::get(ctx, {fn.getLoc()}, program));
  });
}

} // namespace kiln
