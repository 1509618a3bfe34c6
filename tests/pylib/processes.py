"""The kiln processes of a data-parallel job, found through /proc: which
descend from a launcher, and the rank each was launched as."""
import os


def rank_of(pid):
    """The rank a kiln process was launched as, from its environment."""
    try:
        env = open('/proc/%d/environ' % pid, 'rb').read().split(b'\0')
    except OSError:
        return None
    for var in env:
        for key in (b'OMPI_COMM_WORLD_RANK=', b'RANK='):
            if var.startswith(key):
                return int(var[len(key):])
    return None


def parent_of(pid):
    try:
        return int(open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def kiln_pids(kiln, root):
    """The kiln processes that descend from `root` (ctest may run other
    jobs' ranks beside this one)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            if os.readlink('/proc/%s/exe' % entry) != os.path.realpath(kiln):
                continue
        except OSError:
            continue
        pid = int(entry)
        ancestor = pid
        while ancestor > 1 and ancestor != root:
            ancestor = parent_of(ancestor)
        if ancestor == root:
            pids.append(pid)
    return pids
