"""Issue 10, item 7: a worker that goes idle holds no zombie.  A function
with max_calls 3 retires its process after the third call; the worker then
gets no request, and within its idle loop's tick (≤ 1 s) the retired
process is reaped — no child of a worker stays in state Z."""
import os
import time

from conftest import FN_ECHO


def zombies_under(pid):
    """Zombie children of pid's children (the workers' sandboxed processes)."""
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                stats[int(d)] = (fields[0], int(fields[1]))
            except OSError:
                pass
    workers = {p for p, (_, ppid) in stats.items() if ppid == pid}
    return [p for p, (state, ppid) in stats.items() if ppid in workers and state == "Z"]


def test_retired_process_is_reaped_while_the_worker_is_idle(service, serve):
    d = service({
        "functions/thrice.py": FN_ECHO,
        "functions/thrice.json": {"max_calls": 3},
        "workflows/thrice.json": {
            "nodes": [{"id": "F", "type": "function", "function": "thrice"}],
            "edges": [["START", "F"], ["F", "END"]]},
    })
    s = serve(d, workers=1)
    for i in range(3):
        st, _, _ = s.get("/thrice?n=%d" % i)
        assert st == 200
    time.sleep(2.5)  # idle: no request comes
    assert zombies_under(s.proc.pid) == []
