//===- StepGraph.h - kiln inspect --graph: the step drawn ---------*- C++ -*-===//
//
// A program's thunks as a graph: a node per region kernel, GEMM,
// convolution, copy, random draw and all-reduce start/wait, labelled by its
// region's name (or shape) and the node it came from, coloured by kind and
// drawn darker for the backward (grad(...)) and optimizer (update(...))
// parts; an edge wherever a thunk reads a buffer an earlier one wrote.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_STEPGRAPH_H
#define KILN_TOOLS_STEPGRAPH_H

#include "runtime/artifact/Manifest.h"

#include <string>

namespace kiln {

/// What a thunk works on, for reports: a GEMM's M x N x K, a convolution's
/// window and channels, bytes copied, a random stream, a bucket, a
/// kernel's rows.
std::string thunkShape(const Thunk &t);

/// The program as Graphviz DOT text.
std::string stepGraphDot(const CompiledModel &c, const Program &p);

/// Writes the program's graph to `path`: DOT for *.dot, else drawn by
/// Graphviz's `dot` in the format the extension names (svg, png, pdf).
/// False with `error` (no dot installed, a write failed).
bool writeStepGraph(const CompiledModel &c, const Program &p, const std::string &path,
                    std::string &error);

} // namespace kiln

#endif // KILN_TOOLS_STEPGRAPH_H
