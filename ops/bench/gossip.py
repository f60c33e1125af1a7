#!/usr/bin/env python3
"""Gossip cost and false positives on a real local cluster (release build, cluster/ scripts).

    ops/bench/gossip.py cost [--nodes 10] [--seconds 60]
        messages and bytes each node sends per second, from the nodes' own /metrics.
    ops/bench/gossip.py false-positives [--nodes 10] [--minutes 10]
        runs with busy loops on every core and counts members declared dead (must be 0),
        suspicions raised and refuted.

Loopback only; stops everything it started.
"""
import argparse, os, re, subprocess, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import release_binary  # noqa: E402
from detection import QunboCluster, ROOT, wait  # noqa: E402


def metrics(cluster, node):
    port = cluster.base + int(node[1:]) - 1
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(qunbo_gossip_\w+?)(\{[^}]*\})? ([0-9.e+-]+)$", line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def totals(cluster, key):
    return sum(metrics(cluster, n).get(key, 0) for n in cluster.ids())


def converge(cluster):
    ids = cluster.ids()
    wait(lambda: all(len(cluster.states(i)) == cluster.n and set(cluster.states(i).values()) == {"alive"} for i in ids),
         60, "convergence")


def cost(args):
    cluster = QunboCluster(args.nodes, release_binary())
    try:
        converge(cluster)
        time.sleep(5)  # past the join burst
        keys = ["qunbo_gossip_messages_sent_total", "qunbo_gossip_bytes_sent_total", "qunbo_gossip_probes_total"]
        before = {k: totals(cluster, k) for k in keys}
        t0 = time.monotonic()
        time.sleep(args.seconds)
        dt = time.monotonic() - t0
        after = {k: totals(cluster, k) for k in keys}
        per = {k: (after[k] - before[k]) / dt / args.nodes for k in keys}
        print(f"gossip cost at {args.nodes} nodes over {dt:.0f} s, per node per second: "
              f"{per[keys[0]]:.1f} messages, {per[keys[1]] / 1024:.2f} KiB sent, {per[keys[2]]:.2f} probes")
    finally:
        cluster.stop()


def false_positives(args):
    cluster = QunboCluster(args.nodes, release_binary())
    hogs = []
    try:
        converge(cluster)
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
        print(f"{len(hogs)} CPU hogs running; {args.nodes} nodes for {args.minutes} min", file=sys.stderr)
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(30, max(0, end - time.monotonic())))
            dead = totals(cluster, "qunbo_gossip_members_declared_dead_total")
            raised = totals(cluster, "qunbo_gossip_suspicions_raised_total")
            left = (end - time.monotonic()) / 60
            print(f"  declared dead so far: {dead:.0f}, suspicions raised: {raised:.0f} ({left:.1f} min left)",
                  file=sys.stderr)
        dead = totals(cluster, "qunbo_gossip_members_declared_dead_total")
        raised = totals(cluster, "qunbo_gossip_suspicions_raised_total")
        refuted = totals(cluster, "qunbo_gossip_suspicions_refuted_total")
        health = max(metrics(cluster, n).get("qunbo_gossip_local_health", 0) for n in cluster.ids())
        states = {n: cluster.states(n) for n in cluster.ids()}
        not_alive = sum(1 for s in states.values() for v in s.values() if v != "alive")
        print(f"false positives: {args.nodes} nodes, {args.minutes} min, {len(hogs)} CPU hogs: "
              f"{dead:.0f} declared dead, {raised:.0f} suspicions raised, {refuted:.0f} refuted, "
              f"max local health at end {health:.0f}, non-alive entries at end {not_alive}")
        if dead:
            sys.exit(1)
    finally:
        for h in hogs:
            h.kill()
        cluster.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--nodes", type=int, default=10)
    c.add_argument("--seconds", type=int, default=60)
    f = sub.add_parser("false-positives")
    f.add_argument("--nodes", type=int, default=10)
    f.add_argument("--minutes", type=float, default=10)
    args = ap.parse_args()
    cost(args) if args.cmd == "cost" else false_positives(args)


if __name__ == "__main__":
    main()
