//===- KernelLineInfo.cpp - kernels' line tables from op locations --------===//
#include "compiler/Codegen/KernelLineInfo.h"

#include "Kiln/IR/KilnLocations.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/BinaryFormat/Dwarf.h"
#include "llvm/Support/Path.h"

#include <map>

using namespace mlir;

namespace kiln {
namespace {

/// Where the JSON node behind `loc` is (inside its call sites and role).
FileLineColLoc nodeFileLoc(Location loc) {
  Location node = nodeLocation(loc);
  if (auto name = dyn_cast<NameLoc>(node))
    node = nodeLocation(name.getChildLoc());
  return dyn_cast<FileLineColLoc>(node);
}

} // namespace

void addKernelLineInfo(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  std::map<std::string, LLVM::DIFileAttr> files;
  auto fileOf = [&](StringRef path) {
    auto [it, fresh] = files.try_emplace(path.str());
    if (fresh)
      it->second = LLVM::DIFileAttr::get(ctx, llvm::sys::path::filename(path),
                                         llvm::sys::path::parent_path(path));
    return it->second;
  };
  module.walk([&](LLVM::LLVMFuncOp fn) {
    if (fn.isExternal())
      return;
    FileLineColLoc at = nodeFileLoc(fn.getLoc());
    LLVM::DIFileAttr file = fileOf(at ? at.getFilename().getValue() : "kernel");
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
    // Each op at its node's file:line:col, in a lexical block of that file
    // (translation credits a plain location to the function's file, and
    // drops a call site's callee for its caller).
    fn.walk([&](Operation *op) {
      if (op == fn.getOperation())
        return;
      if (FileLineColLoc node = nodeFileLoc(op->getLoc()))
        op->setLoc(FusedLoc::get(
            ctx, {node},
            LLVM::DILexicalBlockFileAttr::get(ctx, program, fileOf(node.getFilename()), 0)));
    });
  });
}

} // namespace kiln
