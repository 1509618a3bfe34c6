//===- Passes.td - kiln compiler passes -----------------------------------===//
//
// One pass a file, named after the pass (kiln-verify-step -> VerifyStep.cpp),
// with a lit test of the same name under tests/lit/Transforms/.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TRANSFORMS_PASSES_TD
#define KILN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnVerifyStep : Pass<"kiln-verify-step", "::mlir::func::FuncOp"> {
  let summary = "Check graph-wide rules that no single op can see";
  let description = [{
    Op verifiers check one op; this pass checks the graph as a whole before
    any training-step pass relies on it:

    - exactly one `kiln.loss` (none in an evaluation entry, which returns
      `kiln.output` tensors instead);
    - parameter, state, input, schedule and metric names are unique per kind;
    - `ema_of` and `init = {kind = "copy", from = ...}` name an existing
      parameter of the same type;
    - every `kiln.update_state` names an existing state of the same type, at
      most once;
    - every `kiln.random_uniform` has its own stream number.

    Each error points at the op (and so into the JSON graph it came from).

    ```mlir
    // error: 'kiln.update_state' op updates state "centre", which does not exist
    kiln.update_state "centre" %c : tensor<1x8xf32>
    ```
  }];
}

def KilnAutodiff : Pass<"kiln-autodiff", "::mlir::func::FuncOp"> {
  let summary = "Reverse-mode differentiation of the loss with respect to every trained parameter";
  let description = [{
    Walks the step backwards from `kiln.loss`, asking each op for its
    vector-Jacobian product (`GradientOpInterface`, rules in
    dialects/Kiln/IR/KilnGradients.cpp), and writes one `kiln.gradient` per
    trained parameter the loss depends on (and the same value as
    `kiln.output "gradient.NAME"`, which `kiln run --grads` reports).

    - Fan-out: the gradients of every use of a value are summed.
    - Shared weights: a parameter read by several call sites (the DINO
      student on crops of different sizes) gets the sum over all of them.
    - Broadcasting is undone by each rule (summed back to the operand shape).
    - Nothing flows through `kiln.stop_gradient` or into inputs, state,
      schedules, `ema_of` or `frozen` parameters; ops off the path from a
      trained parameter to the loss get no gradient work at all.

    ```mlir
    // before
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3xf32>
    %y = kiln.mul %w, %w : tensor<3xf32>, tensor<3xf32>
    %l = kiln.sum %y {axes = array<i64: 0>} : tensor<3xf32>
    kiln.loss %l : tensor<f32>
    // after (then simplified)
    %g = kiln.add %a, %b : ...     // w·1 + 1·w
    kiln.gradient "w" %g : tensor<3xf32>
    ```
  }];
}

def KilnInsertAllReduce : Pass<"kiln-insert-all-reduce", "::mlir::ModuleOp"> {
  let summary = "Average the gradients, the loss, metrics and data-dependent state over the ranks";
  let description = [{
    Data parallelism is in the compiled step, so every rank runs the same
    program and issues the same collectives in the same order (no run-time
    bucketing, no mismatched collectives). Runs after autodiff, before
    clipping and the optimizer, which then see the averaged gradients as
    DDP's do.

    - Gradients are grouped into buckets in the order backward produces
      them (block order of their producers): the first bucket closes at
      `first-bucket-size` bytes, the others at `bucket-size` (PyTorch DDP's
      1 MiB and 25 MiB by default); a bucket closes with the tensor that
      reaches its size. Each bucket's `kiln.all_reduce` stands right after
      its last gradient's producer, and only the sinks (`kiln.gradient`,
      so clipping and the optimizer, and `kiln.output "gradient.*"`) read
      its results; backward goes on with the rank's own values. So the
      runtime overlaps the bucket with the rest of backward and each
      parameter's update waits for its own bucket only.
    - One more bucket holds the loss, the metrics and every
      `kiln.update_state` value computed from the rank's batch (DINO's
      centre, C' = m·C + (1-m)·batch mean, whose mean over ranks is the
      update over the global batch), after the last of their producers.

    ```mlir
    %dw = kiln.matmul ...
    %g:2 = kiln.all_reduce %dw, %db {bucket = 1 : i64, bytes = 2600 : i64} : ...
    kiln.gradient "net.head.weight" %g#0 : tensor<10x64xf32>
    ```
  }];
  let options = [
    Option<"bucketSize", "bucket-size", "int64_t", /*default=*/"::kiln::kDefaultBucketBytes",
           "Bytes at which a gradient bucket closes">,
    Option<"firstBucketSize", "first-bucket-size", "int64_t",
           /*default=*/"::kiln::kDefaultFirstBucketBytes",
           "Bytes at which the first gradient bucket closes">
  ];
}

def KilnScaleLoss : Pass<"kiln-scale-loss", "::mlir::ModuleOp"> {
  let summary = "With precision fp16, start backward from a loss scale kept as state";
  let description = [{
    torch.cuda.amp.GradScaler's scale as compiler-inserted state: with
    precision `fp16` (the option, else the graph's `train.precision`) it
    adds `kiln.state "fp16_scaler.scale"` (the graph's
    `train.loss_scale.init_scale`, default 65536), makes it the loss's
    `scaled_by` operand, so that kiln-autodiff's gradients are that many
    times the loss's, and reports it as the metric `loss_scale`.
    kiln-unscale-gradients divides it out. Other precisions: a no-op.

    ```mlir
    // after, precision=fp16
    %s = kiln.state "fp16_scaler.scale" {init = {kind = "constant", value = 6.553600e+04 : f64}} : tensor<f32>
    kiln.metric "loss_scale" %s : tensor<f32>
    kiln.loss %l scaled_by %s : tensor<f32>
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"\"",
           "f32, bf16 or fp16; empty: the module's kiln.train precision, else f32">
  ];
}

def KilnUnscaleGradients : Pass<"kiln-unscale-gradients", "::mlir::ModuleOp"> {
  let summary = "Divide the loss scale out of the gradients, skip non-finite steps, adapt the scale";
  let description = [{
    A no-op without the state `fp16_scaler.scale` (kiln-scale-loss). With
    it, as GradScaler's unscale_, step and update do:

    - every `kiln.gradient` (and autodiff's `gradient.NAME` output) becomes
      the gradient times `1/scale`, before kiln-clip-gradients;
    - `finite` = no gradient element is inf or NaN (after the all-reduce,
      so the same on every rank); every gradient gets `if %finite`, so a
      step without it leaves parameters and optimizer state as they were;
    - `fp16_scaler.scale` is multiplied by `backoff_factor` (0.5) after a
      non-finite step, by `growth_factor` (2) when `fp16_scaler.growth_tracker`
      reaches `growth_interval` (2000) clean steps and the result is
      finite; the tracker restarts at 0 after either.
  }];
}

def KilnClipGradients : Pass<"kiln-clip-gradients", "::mlir::ModuleOp"> {
  let summary = "Clip the gradients as the optimizer section's `clip` says";
  let description = [{
    Reads `kiln.optimizer.clip` and rewrites the operand of every
    `kiln.gradient`; a no-op without it.

    - `per_param` (DINO's `utils.clip_gradients`): each tensor on its own,
      `c = max_norm / (‖g‖ + 1e-6)`, `g ← g·c` where `c < 1`.
    - `global_norm` (PyTorch's `clip_grad_norm_`): `n = √Σ‖g_p‖²` over all
      parameters, every gradient times `min(1, max_norm / (n + 1e-6))`.

    It runs before freezing, as DINO clips before cancelling the last
    layer's gradient.
  }];
}

def KilnLowerOptimizer : Pass<"kiln-lower-optimizer", "::mlir::ModuleOp"> {
  let summary = "Replace each `kiln.gradient` with the optimizer's update";
  let description = [{
    Reads `kiln.optimizer` and, for each parameter with a gradient, builds
    the update as kiln ops: `kiln.update_param` for the parameter and
    `kiln.state` / `kiln.update_state` pairs for the optimizer state
    (`optimizer.exp_avg.NAME`, `optimizer.exp_avg_sq.NAME`,
    `optimizer.momentum_buffer.NAME`, `optimizer.step`).

    - `sgd`: PyTorch SGD with coupled weight decay, `momentum`, `nesterov`.
    - `adamw`: PyTorch AdamW (decoupled decay `p·(1 - lr·wd)`, bias
      correction from the parameter's own step count).
    - `lars`: DINO's `utils.LARS` (decay and trust ratio only for tensors
      that are not 1-D).

    `lr` and `weight_decay` are numbers or schedule names. Parameter groups
    (`groups`, first match wins) override `weight_decay` and scale the lr
    (`lr_scale`); `match` is a glob on the parameter name (`*.bias`) or a
    rank test (`ndim<2`, `ndim==1`, `ndim>=2`). `freeze` entries keep the
    matching parameters and their optimizer state unchanged during the first
    `epochs` epochs (DINO's last layer: no update, no decay, no step count),
    through a `from_epoch` schedule. A gradient's `if %apply` does the same
    for the steps where `%apply` is false.
  }];
}

def KilnShardOptimizer : Pass<"kiln-shard-optimizer", "::mlir::ModuleOp"> {
  let summary = "Shard gradients and optimizer state over the ranks (ZeRO stages 1 and 2)";
  let description = [{
    With `kiln compile --shard-optimizer`, over the module's `kiln.ranks`
    = N ranks: each gradient bucket's `kiln.all_reduce` becomes a
    `kiln.reduce_scatter`, so each rank receives the mean of its chunk of
    every gradient (⌈elements / N⌉ of the flattened tensor) and the whole
    gradients die there. The optimizer's update, elementwise, is rebuilt
    on chunks: the parameter is cut by `kiln.shard`, and each optimizer
    state becomes a sharded `kiln.state` holding 1/N of the tensor. One
    `kiln.all_gather` per bucket then gives every rank the whole updated
    parameters, which `kiln.update_param` (and the EMA teacher after it)
    reads. `gradient.*` outputs (`kiln run --grads`) go with the whole
    gradients.

    The chunks compute what the whole tensors did, element for element.
    A whole-tensor sum in the update (clipping's and LARS's norms, fp16
    loss scaling's finiteness check) becomes this rank's partial sum,
    averaged over the ranks by a `kiln.all_reduce` of its own and
    multiplied by N. Any other op that is not elementwise is refused,
    naming it.

    ```mlir
    // before, N = 4
    %g = kiln.all_reduce %dw {bucket = 0 : i64, bytes = 2560 : i64, gradients} : tensor<10x64xf32>
    %u = kiln.mul %lr, %g : tensor<f32>, tensor<10x64xf32>
    %n = kiln.sub %w, %u : tensor<10x64xf32>, tensor<10x64xf32>
    kiln.update_param "w" %n : tensor<10x64xf32>
    // after
    %c = kiln.reduce_scatter %dw {bucket = 0 : i64, bytes = 2560 : i64, gradients, ranks = 4 : i64} : tensor<10x64xf32>
    %u = kiln.mul %lr, %c : tensor<f32>, tensor<160xf32>
    %wc = kiln.shard %w {ranks = 4 : i64} : tensor<10x64xf32>
    %n = kiln.sub %wc, %u : tensor<160xf32>, tensor<160xf32>
    %w1 = kiln.all_gather %n {bucket = 1 : i64, bytes = 2560 : i64, ranks = 4 : i64} : tensor<160xf32> -> tensor<10x64xf32>
    kiln.update_param "w" %w1 : tensor<10x64xf32>
    ```
  }];
}

def KilnEmaTeacher : Pass<"kiln-ema-teacher", "::mlir::ModuleOp"> {
  let summary = "Update every `ema_of` parameter as an EMA of its source after the optimizer step";
  let description = [{
    For each parameter with `ema_of`, writes
    `kiln.update_param T (m·T + (1 - m)·S')`, where `S'` is the source
    parameter's value after this step's optimizer update and `m` the
    network's `momentum` (a number or a schedule name), as DINO does after
    `optimizer.step()`.
  }];
}

def KilnAssignPrecision : Pass<"kiln-assign-precision", "::mlir::ModuleOp"> {
  let summary = "Give GEMMs and what follows them a low precision, as autocast does";
  let description = [{
    Runs on the whole step (forward, backward, optimizer) after it is
    complete. With precision `bf16` or `fp16` (the option, else the graph's
    `train.precision`; `f32` changes nothing):

    - `kiln.matmul` and the convolutions (`kiln.conv2d` and its two
      gradients) take low-precision operands and give a low-precision
      result (accumulating in f32);
    - views, pools and elementwise arithmetic (add, mul, select, GELU, ...)
      stay low when all their float operands are low (a constant adapts to
      the others, as a Python scalar does under autocast), else run in f32;
    - exp, log, expm1, sqrt, rsqrt, pow and erf, softmax and the other row
      ops, reductions (so losses, norms and the DINO centre), collectives
      and every sink (gradients, updates, state, outputs) take f32.

    `kiln.cast` converts where the two meet. Parameters, optimizer state
    and the updates stay f32 (master weights); a parameter's low copy is
    one cast per step, shared by the forward and backward GEMMs after CSE.
    A view's cast (a GEMM operand reshaped to rows) is the view of its
    input's cast: the same values, but the cast fuses into the region that
    makes the input, which then writes only the low precision.

    ```mlir
    // before
    %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<8x16xf32>, tensor<4x16xf32>
    %s = kiln.softmax %y {axis = 1 : i64} : tensor<8x4xf32>
    // after, precision=bf16
    %x_low = kiln.cast %x : tensor<8x16xf32> to tensor<8x16xbf16>
    %w_low = kiln.cast %w : tensor<4x16xf32> to tensor<4x16xbf16>
    %y = kiln.matmul %x_low, %w_low {transpose_rhs = true} : tensor<8x16xbf16>, tensor<4x16xbf16>
    %y_f32 = kiln.cast %y : tensor<8x4xbf16> to tensor<8x4xf32>
    %s = kiln.softmax %y_f32 {axis = 1 : i64} : tensor<8x4xf32>
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"\"",
           "f32, bf16 or fp16; empty: the module's kiln.train precision, else f32">
  ];
}

def KilnCompressAllReduce : Pass<"kiln-compress-all-reduce", "::mlir::ModuleOp"> {
  let summary = "Average the gradients over the ranks in bf16";
  let description = [{
    With precision `bf16` (the option, else the graph's
    `train.all_reduce_precision`; `f32`, the default, changes nothing),
    each gradient bucket's `kiln.all_reduce` (those marked `gradients`;
    with --shard-optimizer its `kiln.reduce_scatter`) sends its operands
    as bf16, as DDP's bf16_compress_hook does: half
    the bytes on the wire, each gradient rounded to 8 significant bits
    (and, as the runtime divides by the world size while packing, once
    more where that size is not a power of two). The loss, metrics and
    batch statistics stay f32. A gradient already made in bf16 (a GEMM's
    under `precision: bf16`) is sent as it is, without a round trip.

    ```mlir
    // before
    %g:2 = kiln.all_reduce %dw, %db {bucket = 0 : i64, bytes = 2600 : i64, gradients}
        : tensor<10x64xf32>, tensor<10xf32>
    // after, precision=bf16
    %dw16 = kiln.cast %dw : tensor<10x64xf32> to tensor<10x64xbf16>
    %db16 = kiln.cast %db : tensor<10xf32> to tensor<10xbf16>
    %r:2 = kiln.all_reduce %dw16, %db16 {bucket = 0 : i64, bytes = 1300 : i64, gradients}
        : tensor<10x64xbf16>, tensor<10xbf16>
    %gw = kiln.cast %r#0 : tensor<10x64xbf16> to tensor<10x64xf32>
    %gb = kiln.cast %r#1 : tensor<10xbf16> to tensor<10xf32>
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"\"",
           "f32 or bf16; empty: the module's kiln.train all_reduce_precision, else f32">
  ];
}

def KilnRecompute : Pass<"kiln-recompute", "::mlir::func::FuncOp"> {
  let summary = "Recompute activations in backward instead of keeping them";
  let description = [{
    A forward value that backward reads lives until its last backward
    reader: the saved activations, which make the step's peak. This pass
    lets backward read a clone, named `recompute(NODE)`, made just before
    its first backward reader, so the forward value dies at its last
    forward reader:

    - ops of a module instance called with `"checkpoint": true` whose
      results only the instance reads in forward (activation
      checkpointing: only the instance's inputs and outputs stay saved);
    - with mode `auto` (the option, else the graph's `train.recompute`,
      else `auto`): elementwise, view and row ops (activations, norms,
      casts, dropout masks) of at least `min-bytes`, with the cheap ops they read when that costs
      less than keeping those alive, most bytes freed per FLOP first, when
      the bytes × time freed exceed the bytes × time their kept operands
      must live longer, at most 16 FLOPs per byte freed.

    The block's op order is the clock; backward starts at its first
    `grad(...)` op. A random draw recomputes the same numbers.

    ```mlir
    // before: %a lives from forward to the weight gradient in backward
    %a = kiln.gelu %h : tensor<512x256xf32>
    %y = kiln.matmul %a, %w2 ...
    ...
    %dw2 = kiln.matmul %a, %dy {transpose_lhs = true} ...
    // after, mode=auto (%h is kept anyway, for GELU's derivative)
    %a = kiln.gelu %h : tensor<512x256xf32>
    %y = kiln.matmul %a, %w2 ...
    ...
    %a_1 = kiln.gelu %h : tensor<512x256xf32>  // recompute(...)
    %dw2 = kiln.matmul %a_1, %dy {transpose_lhs = true} ...
    ```
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"\"",
           "none or auto; empty: the module's kiln.train recompute, else auto">,
    Option<"minBytes", "min-bytes", "int64_t", /*default=*/"64 << 10",
           "auto leaves values smaller than this kept (a kernel launch costs "
           "more than they hold); the differential checker gives 0">
  ];
}

def KilnFuse : Pass<"kiln-fuse", "::mlir::func::FuncOp"> {
  let summary = "Group ops into kiln.fusion regions that each run as one kernel";
  let description = [{
    A region runs as one kernel whose outer loop walks one axis of every
    value in it, the *parallel axis* (`rows`, split across threads;
    recorded per op as `kiln.parallel_dim`); for one row, its ops run on
    local tensors kept in cache. Elementwise ops, reductions and
    softmax / log_softmax / l2_normalize / layer_norm along any other axis,
    argmax, one_hot, and views and copies (reshape, transpose, slice, pad,
    concat, split, broadcast) may be members. This covers softmax,
    log-softmax, centring and sharpening, soft-target cross-entropy, KL,
    layer norm, l2-normalise, bias + GELU, the whole multi-crop DINO loss
    (rows = the batch, views and classes local) and their backward, and the
    elementwise chains of the optimizer updates.

    The cost rule, greedy in block order: an op joins the region of an
    operand's producer when it keeps the region's parallel axis and
    nothing it reads from elsewhere depends on the region (a cycle);
    regions meeting at an op merge. A reduction over the parallel axis and
    others is split so that its local part joins. Otherwise a compute op
    starts a region on its largest axis other than the last; small ops
    (up to 4,096 elements, 256 KiB of scratch per region) share one
    single-iteration region. Single-use
    views of a member's operands are pulled in (inside a region they are
    only strides). Nothing is recomputed and GEMMs stay library calls.
    With `explain`, every refusal gets a remark saying why
    (`kiln compile --kiln-fusion-explain`).
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Emit a remark for every fusion decision that was refused">
  ];
}

def KilnSingleOpRegions : Pass<"kiln-single-op-regions", "::mlir::func::FuncOp"> {
  let summary = "Every loop-kernel op outside a region becomes a kiln.fusion of its own";
  let description = [{
    After `kiln-fuse` (or instead of it, with fusion off), each op that
    codegen turns into a loop kernel and that no region took (an
    elementwise op, a reduction, a row op, one_hot, a broadcast, or a
    transpose, slice, pad, concat or split) is wrapped alone in a
    kiln.fusion. Codegen then has one path for every such op, the fused
    body shared by the CPU and CUDA kernels, so an op's kernel exists once.
    The region runs in parallel along the op's largest axis that every
    operand either carries or is broadcast along (`rows`), else as a
    single iteration. Reshapes and stop_gradients stay outside: they are
    views of their operand's buffer.
  }];
}

def KilnNameRegions : Pass<"kiln-name-regions", "::mlir::ModuleOp"> {
  let summary = "Names each kiln.fusion after its place, ops and shape";
  let description = [{
    The last pass of the `fuse` phase. Each region gets
    `name = "fusion_N_OPS_SHAPE"`: N counts the regions of the module in
    order, OPS are up to three of its ops (row ops, reductions and shape
    ops before elementwise ones), SHAPE its largest tensor, e.g.
    `fusion_12_reduce_max_exp_sub_512x1024` (letters, digits and '_': the
    name is also the kernel's symbol, in PTX too). Codegen names the region's
    kernel, thunk and output buffers after it (`kiln inspect`, kernel
    dumps, `kiln bench --profile`, run-time errors), so one name leads from
    the IR to everything made of the region. A region whose body equals an
    earlier one's runs that region's kernel.
  }];
}

def KilnLowerBatchNorm : Pass<"kiln-lower-batch-norm", "::mlir::func::FuncOp"> {
  let summary = "batch_norm as per-channel reductions and elementwise ops; sync all-reduces the statistics";
  let description = [{
    Runs before autodiff. In training each `kiln.batch_norm` becomes the
    per-channel batch mean and biased variance (`kiln.mean` over every axis
    but 1, keepdim), `(x - mean) · rsqrt(var + eps) · scale + bias`, and the
    running statistics `(1 - momentum) · running + momentum · batch` (the
    variance times n/(n-1)); in evaluation, the same normalisation by the
    running statistics. With `sync` the mean and then the variance (about
    the global mean) are each averaged over the ranks by a `kiln.all_reduce`,
    so every rank normalises by the global batch's statistics, n counts the
    global batch (the module's `kiln.ranks`), and autodiff's rule for the
    all-reduce averages the matching per-channel sums in backward: what
    PyTorch's SyncBatchNorm computes, with no module swap.
  }];
}

def KilnDecomposeResize : Pass<"kiln-decompose-resize", "::mlir::func::FuncOp"> {
  let summary = "resize_bilinear as two GEMMs with constant interpolation matrices";
  let description = [{
    y = R_h · x · R_wᵀ, where R_h and R_w hold each output row's (column's)
    two interpolation weights (`align_corners = false`, PyTorch's
    `F.interpolate(mode='bilinear')` without antialiasing): the resize
    runs in the GEMM library and needs no kernel of its own.
  }];
}

#endif // KILN_TRANSFORMS_PASSES_TD
