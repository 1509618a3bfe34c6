# Counts the top-level loops of the multi-tensor kernels in a
# `--compile-to=kernels` dump, and those that pick a region by row
# (arith.divui of the row by a region's rows).
/func\.func @fusion_[0-9]+_[a-z0-9_]+_and_[0-9]+_more/ { inside = 1; kernels++; next }
inside && /^    scf\.for/ { loops++; inner = 1; next }
inside && inner && /arith\.divui/ { shared++; inner = 0 }
inside && /^  }$/ { inside = 0 }
END {
  print "multi_tensor kernels: " kernels
  print "loops: " loops
  print "loops over several regions: " shared
}
