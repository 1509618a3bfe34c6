"""Runs one kiln command as a data-parallel job: under mpirun, or as
`ranks` processes with torchrun-style variables (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT) for kiln's TCP rendezvous. One rank runs alone."""
import os
import subprocess
import sys

from ports import free_port


def run_ranks(cmd, ranks, launcher, mpirun):
    """Runs `cmd` on `ranks` ranks; exits with every rank's output on failure."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    if ranks > 1 and launcher == 'tcp':
        port = str(free_port())
        procs = [subprocess.Popen(cmd, env=dict(env, RANK=str(r), WORLD_SIZE=str(ranks),
                                                LOCAL_RANK=str(r), LOCAL_WORLD_SIZE=str(ranks),
                                                MASTER_ADDR='127.0.0.1', MASTER_PORT=port),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for r in range(ranks)]
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        if any(p.returncode for p in procs):
            sys.exit('%d ranks (tcp) failed:\n%s' % (ranks, ''.join(outputs)))
        return
    if ranks > 1:
        cmd = [mpirun, '--oversubscribe', '-n', str(ranks)] + cmd
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit('%d rank(s) failed (%d): %s\n%s%s' % (ranks, r.returncode, ' '.join(cmd),
                                                      r.stdout, r.stderr))
