//===- BlockEmulator.cpp - GPU kernels run on the CPU, a block at a time --===//
#include "BlockEmulator.h"

#include "compiler/Codegen/KernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"


#include <random>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace mlir;

namespace kiln::test {
namespace {

constexpr int kWarp = 32;
constexpr int64_t kSharedBytes = 48 << 10; // a block's static shared memory
constexpr size_t kStackBytes = 256 << 10;

struct Fiber {
  enum State { Ready, AtBarrier, AtShuffle, Done };
  void *stack; // its saved stack pointer while another runs
  State state = Ready;
  int64_t barrier = -1; // which gpu.barrier it waits at
};

/// A warp's shuffle exchange: lanes write slots[generation & 1], wait for
/// the others, then read; the next shuffle uses the other half. A shuffle
/// of `width` lanes is one among lanes [0, width) (the NVVM lowering's
/// member mask): it completes when every member has arrived.
struct Warp {
  float slots[2][kWarp];
  uint32_t arrived = 0; // a bit per member lane waiting at the shuffle
  int width = kWarp;
  uint32_t generation = 0;
  std::string error; // what a lane did that a GPU leaves undefined
};

struct BlockRun {
  GpuKernelFn fn;
  void **buffers;
  int64_t rows;
  char *workspace;
  int64_t block, blocks;
  int threads;
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  std::vector<char> shared;
  void *scheduler; // the scheduler's saved stack pointer
  int current = -1;
  int live = 0, atBarrier = 0;
  std::vector<uint64_t> ready; // a bit per runnable thread

  void setReady(int t) { ready[t / 64] |= uint64_t(1) << (t % 64); }

  /// The runnable thread `schedule` picks, or -1.
  int pick(Schedule schedule, std::mt19937_64 &rng) const {
    int count = 0;
    for (uint64_t w : ready)
      count += __builtin_popcountll(w);
    if (count == 0)
      return -1;
    int k = schedule == Schedule::Ascending ? 0
            : schedule == Schedule::Descending ? count - 1
                                               : int(rng() % count);
    for (size_t i = 0; i < ready.size(); k -= __builtin_popcountll(ready[i++]))
      if (k < __builtin_popcountll(ready[i])) {
        uint64_t w = ready[i];
        for (; k > 0; --k)
          w &= w - 1; // drop the lowest set bit
        return int(i * 64 + __builtin_ctzll(w));
      }
    return -1;
  }

  /// After thread `t` waited or ended: makes runnable what every thread it
  /// waits for has reached, a barrier all live threads wait at or a
  /// shuffle every live lane of the warp takes part in. False with `error`
  /// when the live threads wait at different barriers.
  bool release(int t, std::string &error) {
    Fiber &f = fibers[t];
    live -= f.state == Fiber::Done;
    atBarrier += f.state == Fiber::AtBarrier;
    if (atBarrier > 0 && atBarrier == live) {
      int64_t id = f.state == Fiber::AtBarrier ? f.barrier : -1;
      for (int u = 0; u < threads; ++u)
        if (fibers[u].state == Fiber::AtBarrier) {
          if (id >= 0 && fibers[u].barrier != id) {
            error = "the block's threads wait at different barriers (" + std::to_string(id) +
                    " and " + std::to_string(fibers[u].barrier) + ")";
            return false;
          }
          id = fibers[u].barrier;
          fibers[u].state = Fiber::Ready;
          setReady(u);
        }
      atBarrier = 0;
    }
    Warp &warp = warps[t / kWarp];
    int first = t / kWarp * kWarp;
    if (!warp.error.empty()) {
      error = "warp " + std::to_string(t / kWarp) + ": " + warp.error;
      return false;
    }
    if (warp.arrived == 0)
      return true;
    uint32_t members = warp.width == kWarp ? ~0u : (1u << warp.width) - 1;
    for (int lane = 0; lane < warp.width; ++lane)
      if (fibers[first + lane].state == Fiber::Done) {
        error = "lane " + std::to_string(lane) + " of warp " + std::to_string(t / kWarp) +
                " ended while its warp shuffles with it";
        return false;
      }
    if (warp.arrived == members) {
      for (int lane = 0; lane < warp.width; ++lane) {
        fibers[first + lane].state = Fiber::Ready;
        setReady(first + lane);
      }
      warp.arrived = 0;
      ++warp.generation;
    }
    return true;
  }
};

BlockRun *active = nullptr; // the block whose thread is running

/// Fiber stacks, kept across blocks (pages are touched only as used),
/// each above a page no thread may touch: an overflow faults instead of
/// writing into another thread's stack.
std::vector<char *> &stacks() {
  static std::vector<char *> kept;
  return kept;
}

char *newStack() {
  long page = sysconf(_SC_PAGESIZE);
  void *at = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (at == MAP_FAILED)
    return nullptr;
  mprotect(at, page, PROT_NONE);
  return static_cast<char *>(at) + page;
}

// Switching threads: swapcontext saves the signal mask (a system call)
// and the FP environment, most of the emulator's time; a thread switch
// needs only the callee-saved registers and the stack pointer.
// kiln_emu_switch(from, to) pushes them, stores the stack pointer in
// *from, takes `to` as the stack pointer and pops what was pushed there.
#if !defined(__x86_64__)
#error "the block emulator switches threads with x86-64 code"
#endif
extern "C" void kiln_emu_switch(void **from, void *to);
asm(R"(
  .text
  .p2align 4
  .type kiln_emu_switch, @function
kiln_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kiln_emu_switch, .-kiln_emu_switch
)");

Fiber &self() { return active->fibers[active->current]; }
void wait() { kiln_emu_switch(&self().stack, active->scheduler); }

/// A thread's first frame: the kernel, then back to the scheduler for good.
void threadMain() {
  active->fn(active->buffers, active->rows, active->workspace);
  self().state = Fiber::Done;
  wait();
}

/// A fresh thread's stack below `top`: six zero registers for
/// kiln_emu_switch to pop, then threadMain for its `ret`, which leaves the
/// stack pointer 8 below a 16-byte boundary, as at any function's entry.
void *freshStack(char *top) {
  auto *sp = reinterpret_cast<uintptr_t *>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t(15));
  *--sp = 0; // threadMain's return address: it never returns
  *--sp = reinterpret_cast<uintptr_t>(&threadMain);
  for (int r = 0; r < 6; ++r)
    *--sp = 0;
  return sp;
}

extern "C" {
int64_t kiln_emu_thread_id() { return active->current; }
int64_t kiln_emu_block_id() { return active->block; }
int64_t kiln_emu_block_dim() { return active->threads; }
int64_t kiln_emu_grid_dim() { return active->blocks; }
void *kiln_emu_shared(int64_t offset) { return active->shared.data() + offset; }

void kiln_emu_barrier(int64_t id) {
  self().state = Fiber::AtBarrier;
  self().barrier = id;
  wait();
}

/// gpu.shuffle xor: lane i reads lane i ^ offset's value, valid when that
/// is a member (below `width`).
float kiln_emu_shuffle_xor(float value, int32_t offset, int32_t width) {
  int lane = active->current % kWarp;
  Warp &w = active->warps[active->current / kWarp];
  if (lane >= width || width < 1 || width > kWarp)
    w.error = "lane " + std::to_string(lane) + " shuffles among " + std::to_string(width) +
              " lanes, of which it is none";
  else if (w.arrived != 0 && width != w.width)
    w.error = "lanes shuffle among " + std::to_string(w.width) + " and " +
              std::to_string(width) + " lanes at once";
  int half = w.generation & 1;
  w.slots[half][lane] = value;
  w.width = width;
  w.arrived |= 1u << lane;
  self().state = Fiber::AtShuffle;
  wait();
  int32_t from = lane ^ offset;
  return from < width ? w.slots[half][from] : value;
}

int32_t kiln_emu_shuffle_xor_valid(int32_t offset, int32_t width) {
  return ((active->current % kWarp) ^ offset) < width;
}
}

} // namespace

std::vector<JitSymbol> emulatorSymbols() {
  return {
    {"kiln_emu_thread_id", reinterpret_cast<void *>(&kiln_emu_thread_id)},
    {"kiln_emu_block_id", reinterpret_cast<void *>(&kiln_emu_block_id)},
    {"kiln_emu_block_dim", reinterpret_cast<void *>(&kiln_emu_block_dim)},
    {"kiln_emu_grid_dim", reinterpret_cast<void *>(&kiln_emu_grid_dim)},
    {"kiln_emu_shared", reinterpret_cast<void *>(&kiln_emu_shared)},
    {"kiln_emu_barrier", reinterpret_cast<void *>(&kiln_emu_barrier)},
    {"kiln_emu_shuffle_xor", reinterpret_cast<void *>(&kiln_emu_shuffle_xor)},
    {"kiln_emu_shuffle_xor_valid", reinterpret_cast<void *>(&kiln_emu_shuffle_xor_valid)},
  };
}

OwningOpRef<ModuleOp> emulatedKernels(ModuleOp container, std::string &error) {
  MLIRContext *ctx = container.getContext();
  auto gpuModules = container.getOps<gpu::GPUModuleOp>();
  if (gpuModules.empty()) {
    error = "no gpu.module";
    return nullptr;
  }
  Location loc = container.getLoc();
  OwningOpRef<ModuleOp> out = ModuleOp::create(loc);
  OpBuilder b = OpBuilder::atBlockEnd(out->getBody());
  Type index = b.getIndexType(), i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  auto declare = [&](StringRef name, TypeRange args, TypeRange results) {
    b.create<func::FuncOp>(loc, name, b.getFunctionType(args, results)).setPrivate();
  };
  for (const char *id : {"kiln_emu_thread_id", "kiln_emu_block_id", "kiln_emu_block_dim",
                         "kiln_emu_grid_dim"})
    declare(id, {}, {index});
  declare("kiln_emu_shared", {i64}, {ptr});
  declare("kiln_emu_barrier", {i64}, {});
  declare("kiln_emu_shuffle_xor", {f32, i32, i32}, {f32});
  declare("kiln_emu_shuffle_xor_valid", {i32, i32}, {i32});
  int64_t barriers = 0;
  for (gpu::GPUFuncOp kernel : (*gpuModules.begin()).getOps<gpu::GPUFuncOp>()) {
    if (kernel.getNumPrivateAttributions() > 0) {
      error = kernel.getName().str() + ": private attributions are not emulated";
      return nullptr;
    }
    unsigned inputs = kernel.getFunctionType().getNumInputs();
    auto fn = b.create<func::FuncOp>(kernel.getLoc(), kernel.getName(), kernel.getFunctionType());
    fn.getBody().takeBody(kernel.getBody());
    // Workgroup memory: the entry block's arguments after the inputs.
    Block &entry = fn.getBody().front();
    OpBuilder eb = OpBuilder::atBlockBegin(&entry);
    int64_t sharedOffset = 0;
    while (entry.getNumArguments() > inputs) {
      BlockArgument memory = entry.getArgument(inputs);
      auto type = cast<MemRefType>(memory.getType());
      if (type.getRank() != 1) {
        error = kernel.getName().str() + ": workgroup memory of rank " +
                std::to_string(type.getRank()) + " is not emulated";
        return nullptr;
      }
      Value offset = eb.create<LLVM::ConstantOp>(loc, i64, eb.getI64IntegerAttr(sharedOffset));
      Value p = eb.create<func::CallOp>(loc, "kiln_emu_shared", TypeRange{ptr}, ValueRange{offset})
                    .getResult(0);
      memory.replaceAllUsesWith(
          memrefOverPointer(eb, loc, p, type.getElementType(), type.getNumElements()));
      entry.eraseArgument(inputs);
      sharedOffset += (type.getNumElements() * type.getElementTypeBitWidth() / 8 + 15) / 16 * 16;
    }
    if (sharedOffset > kSharedBytes) {
      error = kernel.getName().str() + ": more shared memory than a block has";
      return nullptr;
    }
    SmallVector<Operation *> gpuOps;
    fn.walk([&](Operation *op) {
      if (isa<gpu::GPUDialect>(op->getDialect()))
        gpuOps.push_back(op);
    });
    for (Operation *op : gpuOps) {
      OpBuilder ob(op);
      Location l = op->getLoc();
      auto call = [&](StringRef name, TypeRange results, ValueRange args) {
        return ob.create<func::CallOp>(l, name, results, args);
      };
      auto i32Of = [&](int64_t v) { return ob.create<arith::ConstantIntOp>(l, v, 32); };
      // x from the emulator; y and z are 0 (ids) or 1 (sizes): 1-D launches.
      auto dimension = [&](gpu::Dimension d, StringRef name, int64_t otherwise) {
        Value v = d == gpu::Dimension::x
                      ? call(name, {index}, {}).getResult(0)
                      : ob.create<arith::ConstantIndexOp>(l, otherwise).getResult();
        op->getResult(0).replaceAllUsesWith(v);
      };
      if (auto t = dyn_cast<gpu::ThreadIdOp>(op))
        dimension(t.getDimension(), "kiln_emu_thread_id", 0);
      else if (auto t = dyn_cast<gpu::BlockIdOp>(op))
        dimension(t.getDimension(), "kiln_emu_block_id", 0);
      else if (auto t = dyn_cast<gpu::BlockDimOp>(op))
        dimension(t.getDimension(), "kiln_emu_block_dim", 1);
      else if (auto t = dyn_cast<gpu::GridDimOp>(op))
        dimension(t.getDimension(), "kiln_emu_grid_dim", 1);
      else if (isa<gpu::BarrierOp>(op))
        call("kiln_emu_barrier", {},
             {ob.create<arith::ConstantIntOp>(l, barriers++, 64).getResult()});
      else if (isa<gpu::ReturnOp>(op))
        ob.create<func::ReturnOp>(l);
      else if (auto s = dyn_cast<gpu::ShuffleOp>(op);
               s && s.getMode() == gpu::ShuffleMode::XOR && s.getValue().getType() == f32) {
        // The all-reduce lowering's only kind; others are reported below.
        SmallVector<Value> lanes{s.getOffset(), s.getWidth()};
        s.getShuffleResult().replaceAllUsesWith(
            call("kiln_emu_shuffle_xor", {f32}, {s.getValue(), s.getOffset(), s.getWidth()})
                .getResult(0));
        Value valid = call("kiln_emu_shuffle_xor_valid", {i32}, lanes).getResult(0);
        s.getValid().replaceAllUsesWith(
            ob.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, valid, i32Of(0)).getResult());
      } else {
        error = kernel.getName().str() + ": '" + op->getName().getStringRef().str() +
                "' is not emulated";
        return nullptr;
      }
      op->erase();
    }
  }
  return out;
}

bool runBlock(GpuKernelFn fn, void **buffers, int64_t rows, char *workspace, int64_t block,
              int64_t blocks, int threads, Schedule schedule, uint64_t seed, std::string &error) {
  if (threads <= 0 || threads % kWarp != 0) {
    error = std::to_string(threads) + " threads: a block is whole warps";
    return false;
  }
  BlockRun run{fn, buffers, rows, workspace, block, blocks, threads};
  run.fibers.resize(threads);
  run.warps.resize(threads / kWarp);
  // Shared memory starts as garbage on a GPU: NaN here, so that a slot
  // read before any thread wrote it shows.
  run.shared.assign(kSharedBytes, char(0xff));
  while (stacks().size() < (size_t)threads) {
    char *stack = newStack();
    if (!stack) {
      error = "no memory for a thread's stack";
      return false;
    }
    stacks().push_back(stack);
  }
  for (int t = 0; t < threads; ++t) {
    run.fibers[t].stack = freshStack(stacks()[t] + kStackBytes);
  }
  run.live = threads;
  run.ready.assign((threads + 63) / 64, 0);
  for (int t = 0; t < threads; ++t)
    run.setReady(t);
  active = &run;
  std::mt19937_64 rng(seed);
  bool ok = true;
  for (int t; ok && (t = run.pick(schedule, rng)) >= 0;) {
    run.ready[t / 64] &= ~(uint64_t(1) << (t % 64));
    run.current = t;
    kiln_emu_switch(&run.scheduler, run.fibers[t].stack);
    ok = run.release(t, error);
  }
  for (int t = 0; t < threads && ok; ++t)
    if (run.fibers[t].state != Fiber::Done) {
      error = "thread " + std::to_string(t) + " waits " +
              (run.fibers[t].state == Fiber::AtShuffle ? "at a shuffle" : "at a barrier") +
              " no other thread can complete";
      ok = false;
    }
  active = nullptr;
  return ok;
}

} // namespace kiln::test
