//===- CompilerProcess.cpp - the compiler as a separate process ------------===//
#include "CompilerProcess.h"
#include "Subcommands.h"

#include <cerrno>
#include <csignal>
#include <climits>
#include <cstdio>
#include <cstring>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace kiln {

std::string compilerPath() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, n) : std::string();
  dir = dir.substr(0, dir.find_last_of('/') + 1);
  return dir + "kiln-compile";
}

int runProcess(const std::string &program, const std::vector<std::string> &args,
               std::string &error) {
  std::vector<char *> argv{const_cast<char *>(program.c_str())};
  for (const std::string &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  // The child starts with no signal blocked (kiln train blocks its stop
  // signals in every thread, and a mask is inherited).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  // No shell: arguments reach the program as they are.
  int rc = posix_spawnp(&pid, program.c_str(), nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc) {
    error = "cannot run " + program + ": " + std::strerror(rc);
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int runCompiler(const std::vector<std::string> &args) {
  std::string error;
  int rc = runProcess(compilerPath(), args, error);
  if (rc < 0) {
    std::fprintf(stderr, "kiln: %s (this kiln was built without the compiler: build with "
                         "MLIR, or compile elsewhere and give OUT.kiln)\n",
                 error.c_str());
    return 127;
  }
  return rc;
}

/// `kiln compile ...` is kiln-compile's command line.
int compileMain(int argc, char **argv) {
  std::string path = compilerPath();
  argv[0] = const_cast<char *>(path.c_str());
  (void)argc;
  execv(path.c_str(), argv);
  std::fprintf(stderr, "kiln: cannot run the compiler %s: %s\n", path.c_str(),
               std::strerror(errno));
  return 127;
}

} // namespace kiln
