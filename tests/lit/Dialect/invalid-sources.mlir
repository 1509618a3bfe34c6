// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// Verifier errors of graph sources: init and schedule dictionaries.

func.func @no_kind() {
  // expected-error @+1 {{'init' needs a string 'kind'}}
  %w = kiln.param "w" {init = {std = 1.0 : f64}} : tensor<4xf32>
  return
}

// -----

func.func @unknown_kind() {
  // expected-error @+1 {{unknown init kind 'xavier' (known: zeros, ones, constant, normal, trunc_normal, uniform, fan_in_uniform, copy, file, network_file)}}
  %w = kiln.param "w" {init = {kind = "xavier"}} : tensor<4xf32>
  return
}

// -----

func.func @unknown_key() {
  // expected-error @+1 {{init kind 'normal' takes no key 'sd'}}
  %w = kiln.param "w" {init = {kind = "normal", sd = 1.0 : f64}} : tensor<4xf32>
  return
}

// -----

func.func @missing_key() {
  // expected-error @+1 {{init kind 'uniform' needs key 'high'}}
  %w = kiln.param "w" {init = {kind = "uniform", low = 0.0 : f64}} : tensor<4xf32>
  return
}

// -----

func.func @wrong_value_type() {
  // expected-error @+1 {{init key 'std' must be a number}}
  %w = kiln.param "w" {init = {kind = "normal", std = "big"}} : tensor<4xf32>
  return
}

// -----

func.func @ema_not_copy() {
  // expected-error @+1 {{an 'ema_of' parameter must start as a copy of its source, got init kind 'zeros'}}
  %w = kiln.param "t.w" {ema_of = "s.w", init = {kind = "zeros"}} : tensor<4xf32>
  return
}

// -----

func.func @ema_and_frozen() {
  // expected-error @+1 {{a parameter cannot be both 'frozen' and 'ema_of'}}
  %w = kiln.param "t.w" {ema_of = "s.w", frozen, init = {kind = "copy", from = "s.w"}} : tensor<4xf32>
  return
}

// -----

func.func @state_copy() {
  // expected-error @+1 {{state cannot be initialised as a copy}}
  %c = kiln.state "c" {init = {kind = "copy", from = "w"}} : tensor<4xf32>
  return
}

// -----

func.func @schedule_kind() {
  // expected-error @+1 {{unknown schedule kind 'cosine' (known: constant, warmup_cosine, epoch_linear_warmup, from_epoch)}}
  %s = kiln.schedule "lr" {spec = {kind = "cosine"}} : tensor<f32>
  return
}

// -----

func.func @schedule_warmup_twice() {
  // expected-error @+1 {{give 'warmup_epochs' or 'warmup_fraction', not both}}
  %s = kiln.schedule "lr" {spec = {kind = "warmup_cosine", base = 1.0 : f64, final = 0.0 : f64, warmup_epochs = 1.0 : f64, warmup_fraction = 0.1 : f64}} : tensor<f32>
  return
}

// -----

func.func @schedule_warmup_missing() {
  // expected-error @+1 {{schedule kind 'epoch_linear_warmup' needs 'warmup_epochs' or 'warmup_fraction'}}
  %s = kiln.schedule "t" {spec = {kind = "epoch_linear_warmup", start = 0.04 : f64, end = 0.07 : f64}} : tensor<f32>
  return
}

// -----

func.func @schedule_not_scalar() {
  // expected-error @+1 {{result #0 must be 0D tensor of 32-bit float values}}
  %s = kiln.schedule "lr" {spec = {kind = "constant", value = 1.0 : f64}} : tensor<1xf32>
  return
}

// -----

func.func @loss_not_scalar(%x: tensor<4xf32>) {
  // expected-error @+1 {{operand #0 must be 0D tensor of 32-bit float values}}
  kiln.loss %x : tensor<4xf32>
  return
}

// -----

func.func @input_bool() {
  // expected-error @+1 {{result #0 must be statically shaped tensor of 32-bit float or 32-bit signless integer values}}
  %x = kiln.input "mask" : tensor<4xi1>
  return
}

// -----

func.func @low_precision_update(%w: tensor<4xbf16>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 32-bit float values}}
  kiln.update_param "w" %w : tensor<4xbf16>
  return
}
