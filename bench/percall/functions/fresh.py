# The function of the per-call benchmarks (bench/percall.py through nginx and
# braid serve, bench/bench_sandbox's "served path" through the engine).
import json


def handler(event, context):
    return {"ok": True, "node": context["node"]}
