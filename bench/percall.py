#!/usr/bin/python3
"""bench/percall.py — what one request through `braid serve` costs when its
workflow is a single function node: req/s, p50/p99 (wrk --latency, through
nginx) and CPU µs per request of braid's whole process tree (master,
workers, zygotes, sandboxed processes: /proc/PID/stat utime+stime of every
live descendant plus cutime+cstime, which holds the reaped ones), and that
CPU and the page faults split into workers, zygotes and sandboxed processes,
at each concurrency, plus sequential single requests timed with curl.

    bench/percall.py [call|warm] ...    (BENCH_SECONDS, BENCH_CONCURRENCY "1 16 64",
                                         BENCH_WORKERS, default 4 per CPU)
Figures, not a test.  Uses free ports only."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BRAID = os.environ.get("BRAID_BIN", os.path.join(ROOT, "braid"))
SECS = int(os.environ.get("BENCH_SECONDS", "5"))
CONC = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1 16 64").split()]
WORKERS = int(os.environ.get("BENCH_WORKERS", str(4 * os.cpu_count())))
TICK = os.sysconf("SC_CLK_TCK")

# The service: bench/percall (one function node), which bench_sandbox's
# "served path" runs through the engine too; copied with the isolation asked.
SVC = os.path.join(ROOT, "bench", "percall")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stat_all():
    """pid -> (ppid, own CPU ticks, reaped children's CPU ticks, own minor
    faults, reaped children's minor faults, argv[0])."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d, "rb") as f:
                    s = f.read()
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    argv0 = f.read().split(b"\0")[0]
            except OSError:
                continue
            fl = s[s.rindex(b")") + 2:].split()
            out[int(d)] = (int(fl[1]), int(fl[11]) + int(fl[12]), int(fl[13]) + int(fl[14]),
                           int(fl[7]), int(fl[8]), argv0)
    return out


def tree_cost(root):
    """CPU seconds and minor faults of root's tree, by part: the master
    (with the workers it reaped), the workers themselves, the zygotes, the
    sandboxed processes (live ones, and those the workers reaped: they are
    the workers' children, CLONE_PARENT)."""
    st = stat_all()
    cost = {k: [0, 0] for k in ("master", "workers", "zygotes", "sandboxed")}

    def add(k, ticks, faults):
        cost[k][0] += ticks / TICK
        cost[k][1] += faults
    if root in st:
        add("master", st[root][1] + st[root][2], st[root][3] + st[root][4])
    for w, (pp, cpu, kcpu, flt, kflt, _) in st.items():
        if pp != root:
            continue
        add("workers", cpu, flt)
        add("sandboxed", kcpu, kflt)
        for c, (pp2, cpu2, kcpu2, flt2, kflt2, argv0) in st.items():
            if pp2 == w:
                add("zygotes" if argv0 == b"braid-sandbox-zygote" else "sandboxed", cpu2 + kcpu2, flt2 + kflt2)
    return cost


def tree_cpu_s(root):
    """CPU seconds of root and its descendants (with those they reaped)."""
    return sum(v[0] for v in tree_cost(root).values())


def parts(a, b, n):
    """'workers 300 us 0 pf, ...' per request between two tree_cost()s."""
    return ", ".join("%s %.0f us %.0f pf" % (k, (b[k][0] - a[k][0]) * 1e6 / n, (b[k][1] - a[k][1]) / n)
                     for k in ("workers", "zygotes", "sandboxed"))


def to_ms(v):
    n = float(re.match(r"[0-9.]+", v).group(0))
    u = v[len(re.match(r"[0-9.]+", v).group(0)):]
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n


def main(isos):
    tmp = tempfile.mkdtemp(prefix="braid-percall-")
    try:
        for iso in isos:
            run(tmp, iso)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, iso):
    d = os.path.join(tmp, "svc-" + iso)
    shutil.copytree(SVC, d)
    json.dump({"isolation": iso}, open(d + "/functions/fresh.json", "w"))
    sock = os.path.join(tmp, iso + ".sock")
    port = free_port()
    ng = os.path.join(tmp, "nginx-" + iso)
    os.makedirs(ng + "/tmp")
    open(ng + "/nginx.conf", "w").write("""%s
worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/error.log warn;
events { worker_connections 2048; }
http { access_log off; client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;
  fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;
  server { listen 127.0.0.1:%d backlog=1024;
    location / { include %s/docker/nginx/braid_fastcgi.conf; fastcgi_pass unix:%s; } } }
""" % ("user root;" if os.getuid() == 0 else "", ng, ng, ng, ng, ng, ng, ng, port, ROOT, sock))
    braid = subprocess.Popen([BRAID, "serve", d, "--listen", "unix:" + sock, "--workers", str(WORKERS),
                              "--log-file", os.path.join(tmp, iso + ".log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx = subprocess.Popen(["nginx", "-p", ng, "-c", ng + "/nginx.conf"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/fresh" % port
    try:
        for _ in range(300):
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
                               capture_output=True, text=True)
            if r.stdout == "200":
                break
            time.sleep(0.05)
        else:
            sys.exit("no 200 from braid serve")
        print("== percall: a one-function workflow, isolation %s, %d workers, %d CPUs, load %s"
              % (iso, WORKERS, os.cpu_count(), open("/proc/loadavg").read().split()[0]))
        # sequential: curl one at a time (a fresh connection each), 200 requests
        n = 200
        c0, t0 = tree_cpu_s(braid.pid), time.monotonic()
        lat = []
        for _ in range(n):
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", url],
                               capture_output=True, text=True)
            lat.append(float(r.stdout) * 1000)
        c1 = tree_cpu_s(braid.pid)
        lat.sort()
        print("  curl sequential n=%d  p50 %.2f ms  p99 %.2f ms  CPU %.0f us/request (braid's tree)"
              % (n, lat[n // 2], lat[int(n * 0.99)], (c1 - c0) * 1e6 / n))
        subprocess.run(["wrk", "-t2", "-c16", "-d2s", url], capture_output=True)
        for c in CONC:
            k0 = tree_cost(braid.pid)
            out = subprocess.run(["wrk", "-t%d" % min(2, c), "-c%d" % c, "-d%ds" % SECS, "--latency", url],
                                 capture_output=True, text=True).stdout
            k1 = tree_cost(braid.pid)
            c0, c1 = (sum(v[0] for v in k.values()) for k in (k0, k1))
            reqs = int(re.search(r"(\d+) requests in", out).group(1))
            rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
            p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
            p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
            bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            print("  wrk c=%-3d %8.0f req/s  p50 %8.2f ms  p99 %8.2f ms  CPU %6.0f us/request  non-2xx %s"
                  % (c, rps, p50, p99, (c1 - c0) * 1e6 / max(reqs, 1), bad.group(1) if bad else 0))
            print("          per request: " + parts(k0, k1, max(reqs, 1)) + " (pf: page faults)")
    finally:
        nginx.send_signal(signal.SIGQUIT)
        braid.send_signal(signal.SIGTERM)
        for p in (nginx, braid):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main(sys.argv[1:] or ["call"])
