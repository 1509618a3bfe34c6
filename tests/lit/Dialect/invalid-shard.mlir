// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// Verifier errors of the sharded optimizer's ops and sharded state.

func.func @gather_a_wrong_chunk(%c: tensor<150xf32>) {
  // expected-error @+1 {{chunk 0 is 'tensor<150xf32>', not 'tensor<10x64xf32>''s chunk over 4 ranks, 'tensor<160xf32>'}}
  %g = kiln.all_gather %c {bucket = 0 : i64, bytes = 2560 : i64, ranks = 4 : i64} : tensor<150xf32> -> tensor<10x64xf32>
  return
}

// -----

func.func @state_chunk_of_another_size() {
  // expected-error @+1 {{a shard of 640 elements over 4 ranks is tensor<160xf32>, not 'tensor<150xf32>'}}
  %m = kiln.state "optimizer.m.w" {init = {kind = "zeros"}, shard_of = array<i64: 10, 64>, shards = 4 : i64} : tensor<150xf32>
  return
}

// -----

func.func @state_half_sharded() {
  // expected-error @+1 {{a sharded state gives both 'shard_of' and 'shards'}}
  %m = kiln.state "optimizer.m.w" {init = {kind = "zeros"}, shards = 4 : i64} : tensor<160xf32>
  return
}

// -----

func.func @no_ranks(%w: tensor<10xf32>) {
  // expected-error @+1 {{kiln.shard needs at least one rank}}
  %c = kiln.shard %w {ranks = 0 : i64} : tensor<10xf32>
  return
}
