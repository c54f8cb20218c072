"""Issue 10, item 7: a worker that goes idle holds no zombie.  A function
with max_calls 3 retires its process after the third call; the worker then
gets no request, and within its idle loop's tick (≤ 1 s) the retired
process is reaped — no child of a worker stays in state Z."""
import time

from conftest import FN_ECHO
from procinfo import children


def zombies_under(pid):
    """Zombie children of pid's children (the workers' sandboxed processes)."""
    return [z.pid for w in children(pid) for z in children(w.pid, zombies=True) if z.state == "Z"]




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
