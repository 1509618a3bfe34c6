//===- EmaTeacher.cpp - EMA teacher update (kiln-ema-teacher) -------------===//
//
// T' = m·T + (1 - m)·S', with S' the source parameter after this step's
// optimizer update (DINO updates the teacher after optimizer.step()), in
// the reference's operation order: T·m + (1 - m)·S'.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

namespace kiln {
#define GEN_PASS_DEF_KILNEMATEACHER
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct EmaTeacher : kiln::impl::KilnEmaTeacherBase<EmaTeacher> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp step = stepFunction(module);
    if (!step)
      return signalPassFailure();
    SmallVector<ParamOp> teachers;
    step.walk([&](ParamOp p) {
      if (p.getEmaOf())
        teachers.push_back(p);
    });
    if (teachers.empty())
      return;
    auto networks = module->getAttrOfType<DictionaryAttr>("kiln.networks");
    OpBuilder b(step.getBody().front().getTerminator());
    for (ParamOp teacher : teachers) {
      StringRef source = *teacher.getEmaOf();
      StringRef network = teacher.getName().split('.').first;
      auto net = networks ? networks.getAs<DictionaryAttr>(network) : nullptr;
      Attribute momentum = net ? net.get("momentum") : nullptr;
      if (!momentum) {
        teacher.emitError() << "EMA parameter of network '" << network
                            << "' needs the network's 'momentum' (a number or "
                               "a schedule name)";
        return signalPassFailure();
      }
      // The source's next value: its optimizer update, else unchanged.
      Value next;
      step.walk([&](UpdateParamOp u) {
        if (u.getName() == source)
          next = u.getValue();
      });
      if (!next) {
        ParamOp p = findSource<ParamOp>(step, source);
        if (!p) {
          teacher.emitError() << "EMA source parameter \"" << source
                              << "\" is not in the step";
          return signalPassFailure();
        }
        next = p.getResult();
      }
      Location loc = forNode(teacher.getLoc(), "update");
      KilnBuilder k(b, loc);
      Value m = numberOrSchedule(k, step, momentum,
                                 ("network '" + network + "' momentum").str(),
                                 teacher);
      if (!m)
        return signalPassFailure();
      Value updated = k.add(k.mul(teacher.getResult(), m),
                            k.mul(k.sub(k.scalar(1.0), m), next));
      b.create<UpdateParamOp>(loc, teacher.getNameAttr(), updated);
    }
  }
};

} // namespace
