#!/usr/bin/env python3
"""A node's fixed CPU cost and its wake-ups, one or more binaries side by side (issue 17).

    ops/bench/fixed_cost.py [--viewers 20] [--seconds 10] [BIN ...]

For each binary (default: $QUNBO_BIN or the release build), one node is started and measured in
three steps, --seconds each: idle (no session); one live session and no media; a 2 Mb/s ingest
(`ffmpeg -re -c copy`, HTTP) with --viewers `ffmpeg -c copy` viewers of `stream.ts`. Each step
prints the node's CPU (utime + stime) in ms per second and its threads' voluntary context
switches per second, grouped by thread name (NIO's event loops are `NIO-SGLTN-*`, Swift's
concurrency pool is libdispatch's `...default-qos` and `...qos.overcommit` workers): each
voluntary switch is a thread going to sleep, i.e. one wake-up. The media step also prints the
Mb/s delivered and the CPU seconds per GB. Binaries run one after the other, twice, alternating,
so both see the same machine.
"""
import argparse, collections, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import release_binary  # noqa: E402
from live_fanout import Node  # noqa: E402
from media_vs_nginx import acked, cpu_seconds, encode_source, qunbo_stream, streaming  # noqa: E402


def switches(pid):
    """Voluntary context switches so far, by thread name."""
    out = collections.Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            status = open(f"/proc/{pid}/task/{tid}/status").read()
            out[name] += int(status.split("voluntary_ctxt_switches:")[1].split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            pass  # a thread that ended between listing and reading
    return out


def measure(pid, seconds, port=None):
    s0, c0, b0, t0 = switches(pid), cpu_seconds([pid]), acked(port) if port else 0, time.monotonic()
    time.sleep(seconds)
    s1, c1, b1, t1 = switches(pid), cpu_seconds([pid]), acked(port) if port else 0, time.monotonic()
    wakeups = {k: (s1[k] - s0.get(k, 0)) / (t1 - t0) for k in s1}
    return {"cpu_ms": (c1 - c0) / (t1 - t0) * 1000, "wakeups": wakeups, "bytes": b1 - b0, "secs": t1 - t0,
            "cpu": c1 - c0}


def pool(wakeups):
    return sum(v for k, v in wakeups.items() if "qos" in k)


def loops(wakeups):
    return sum(v for k, v in wakeups.items() if k.startswith("NIO-"))


def one(binary, source, viewers, seconds):
    node = Node(binary)
    rows = {}
    try:
        time.sleep(2)
        rows["idle"] = measure(node.proc.pid, seconds)
        node.start_session()
        time.sleep(2)
        rows["session"] = measure(node.proc.pid, seconds)
        with streaming(*qunbo_stream(node, source), viewers):
            rows["media"] = measure(node.proc.pid, seconds, node.port)
    finally:
        node.stop()
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--viewers", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("binaries", nargs="*")
    args = p.parse_args()
    binaries = args.binaries or [release_binary()]
    source = encode_source("2M")
    print(f"{'binary':>28} {'round':>5} {'step':>8} {'CPU ms/s':>9} {'loop wake/s':>12} {'pool wake/s':>12}"
          f" {'Mb/s':>6} {'CPU s/GB':>9}", flush=True)
    try:
        for round_ in (1, 2):
            for binary in binaries:
                for step, r in one(binary, source, args.viewers, args.seconds).items():
                    media = step == "media"
                    mbps = r["bytes"] * 8 / r["secs"] / 1e6 if media else 0
                    per_gb = r["cpu"] / max(1e-9, r["bytes"] / 1e9) if media else 0
                    tail = f" {mbps:>6.0f} {per_gb:>9.2f}" if media else ""
                    print(f"{binary[-28:]:>28} {round_:>5} {step:>8} {r['cpu_ms']:>9.1f} {loops(r['wakeups']):>12.0f}"
                          f" {pool(r['wakeups']):>12.0f}{tail}", flush=True)
    finally:
        os.unlink(source)


if __name__ == "__main__":
    main()
