//===- PtxDumps.cpp - each GPU kernel's PTX and ptxas report alone --------===//
#include "compiler/Codegen/CudaKernels.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln {
namespace {

/// The entries of a PTX module, by name, each after the module's
/// declarations (header, .file lines, globals, helper functions) so that
/// it assembles alone. Debug sections are left out: they point at labels
/// in every entry.
std::map<std::string, std::string> splitEntries(llvm::StringRef ptx) {
  std::string declarations;
  std::map<std::string, std::string> entries;
  // The top-level construct being read: where its lines go (null: dropped),
  // its brace depth, whether its body has begun.
  std::string *into = nullptr;
  bool inConstruct = false, opened = false;
  int depth = 0;
  llvm::SmallVector<llvm::StringRef> lines;
  ptx.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    llvm::StringRef code = line.trim();
    if (!inConstruct) {
      size_t entry = code.find(".entry ");
      if (entry != llvm::StringRef::npos && !code.starts_with("//")) {
        llvm::StringRef name = code.drop_front(entry + 7).ltrim();
        into = &entries[name.take_until([](char c) { return c == '(' || c == ' '; }).str()];
      } else {
        into = code.starts_with(".section") ? nullptr : &declarations;
      }
      inConstruct = true;
    }
    if (into)
      *into += line.str() + "\n";
    depth += code.count('{') - code.count('}');
    opened |= code.contains('{');
    // A construct ends with its body, or with its line if it has none.
    bool continues = opened ? depth > 0 : (into != &declarations && !code.ends_with(";"));
    if (!continues)
      inConstruct = opened = false;
  }
  for (auto &[name, text] : entries)
    text = declarations + "\n" + text;
  return entries;
}

/// ptxas -v's report on `ptxFile` for `arch`, or "" (with a warning when
/// ptxas rejects the file) where no ptxas is on PATH or in /usr/local/cuda:
/// the report is an extra, the PTX dumps stand without it.
std::string ptxasReport(const std::string &ptxFile, const std::string &arch) {
  auto ptxas = llvm::sys::findProgramByName("ptxas");
  if (!ptxas)
    ptxas = llvm::sys::findProgramByName("ptxas", {"/usr/local/cuda/bin"});
  if (!ptxas)
    return "";
  llvm::SmallString<128> report;
  llvm::sys::fs::createTemporaryFile("kiln-ptxas", "txt", report);
  std::string archFlag = "-arch=" + arch;
  std::vector<llvm::StringRef> argv = {*ptxas, "-v", archFlag, ptxFile, "-o", "/dev/null"};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(report),
                                                llvm::StringRef(report)};
  int rc = llvm::sys::ExecuteAndWait(*ptxas, argv, std::nullopt, redirects);
  auto text = llvm::MemoryBuffer::getFile(report);
  llvm::sys::fs::remove(report);
  std::string out = text ? (*text)->getBuffer().str() : "";
  if (rc != 0) {
    llvm::errs() << "kiln compile: warning: no ptxas report: " << *ptxas << " failed on "
                 << ptxFile << (out.empty() ? "" : ":\n" + out) << "\n";
    return "";
  }
  return out;
}

/// ptxas -v's lines about each entry: from "Compiling entry function
/// 'NAME'" to the next.
std::map<std::string, std::string> reportPerEntry(llvm::StringRef report) {
  std::map<std::string, std::string> per;
  std::string *into = nullptr;
  llvm::SmallVector<llvm::StringRef> lines;
  report.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    size_t at = line.find("Compiling entry function '");
    if (at != llvm::StringRef::npos) {
      llvm::StringRef name = line.drop_front(at + 26).take_until([](char c) { return c == '\''; });
      into = &per[name.str()];
    }
    if (into)
      *into += line.str() + "\n";
  }
  return per;
}

} // namespace

bool dumpPtx(const std::map<std::string, std::string> &ptx, const KernelDumpRequest &dump,
             std::string &error) {
  if (dump.dir.empty())
    return true;
  if (std::error_code ec = llvm::sys::fs::create_directories(dump.dir)) {
    error = "cannot create " + dump.dir + ": " + ec.message();
    return false;
  }
  for (const auto &[arch, text] : ptx) {
    std::string whole = dump.dir + "/kernels." + arch + ".ptx";
    if (!writeTextFile(whole, text, error))
      return false;
    std::string report = ptxasReport(whole, arch);
    if (!report.empty() && !writeTextFile(dump.dir + "/ptxas." + arch + ".txt", report, error))
      return false;
    std::map<std::string, std::string> reports = reportPerEntry(report);
    for (const auto &[name, entry] : splitEntries(text)) {
      if (!dump.wanted(name))
        continue;
      std::string base = dump.dir + "/" + name + "." + arch;
      if (!writeTextFile(base + ".ptx", entry, error))
        return false;
      if (reports.count(name) && !writeTextFile(base + ".ptxas.txt", reports[name], error))
        return false;
    }
  }
  return true;
}

} // namespace kiln
