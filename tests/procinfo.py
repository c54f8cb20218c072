"""Reading processes from outside, through /proc, for the tests that check
what a sandboxed process, a zygote or a worker really is (its parent, its
state, its capabilities) — a function cannot look at itself."""
import os
from collections import namedtuple

ZYGOTE_ARGV0 = b"braid-sandbox-zygote"

Proc = namedtuple("Proc", "pid state ppid start argv0")


def processes():
    """Every process now: [Proc], in no particular order."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(b")") + 2:].split()
        out.append(Proc(int(d), fields[0].decode(), int(fields[1]), int(fields[19]), argv0))
    return out


def children(ppid, argv0=None, zombies=False):
    """ppid's children, oldest first; only those running argv0 when given;
    zombies (state Z) only when asked for."""
    kids = [p for p in processes() if p.ppid == ppid and (argv0 is None or p.argv0 == argv0)
            and (zombies or p.state != "Z")]
    return sorted(kids, key=lambda p: (p.start, p.pid))


def status(pid):
    """/proc/PID/status as a dict (pid may be "self")."""
    with open("/proc/%s/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
