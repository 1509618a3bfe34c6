//===- KilnParamPattern.h - which parameters an optimizer entry names -*- C++ -*-===//
//
// kiln.optimizer's `groups` and `freeze` entries pick parameters by a
// `match`: a rank test ("ndim<2", "ndim<=1", "ndim==1", "ndim>=2",
// "ndim>1") or a glob on the full parameter name ("*.bias",
// "student.head.*"). The importer refuses an entry that picks no trained
// parameter; kiln-lower-optimizer applies them.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_KILNPARAMPATTERN_H
#define KILN_IR_KILNPARAMPATTERN_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/GlobPattern.h"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <utility>

namespace kiln {

inline bool matchesParamPattern(llvm::StringRef pattern, llvm::StringRef name, int64_t rank) {
  if (pattern.consume_front("ndim")) {
    for (auto [op, test] : std::initializer_list<
             std::pair<llvm::StringRef, std::function<bool(int64_t, int64_t)>>>{
             {"<=", std::less_equal<int64_t>()},
             {">=", std::greater_equal<int64_t>()},
             {"==", std::equal_to<int64_t>()},
             {"<", std::less<int64_t>()},
             {">", std::greater<int64_t>()}}) {
      int64_t n;
      llvm::StringRef rest = pattern;
      if (rest.consume_front(op) && !rest.getAsInteger(10, n))
        return test(rank, n);
    }
    return false;
  }
  auto glob = llvm::GlobPattern::create(pattern);
  if (!glob) {
    llvm::consumeError(glob.takeError());
    return false;
  }
  return glob->match(name);
}

} // namespace kiln

#endif // KILN_IR_KILNPARAMPATTERN_H
