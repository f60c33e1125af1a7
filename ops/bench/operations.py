#!/usr/bin/env python3
"""Operator timings on a real local cluster (release build, loopback):

    ops/bench/operations.py join  [--nodes 4] [--sessions 100]
    ops/bench/operations.py drain [--nodes 5] [--sessions 100]

join: a cluster of --nodes holds --sessions live sessions (replicas 3, each with a few
  comments); `cluster/add` starts one more node. Measured from its start: when every node
  lists it alive, and when it has taken its share of replicas: every session whose placement
  (the ring's first 3 nodes for its group) names the new node has it as a caught-up replica
  (lag 0), every session has 3 members, none lags.
drain: --sessions live sessions are placed so that one node (n2) holds a copy of every one of
  them (groups are picked by their placement); `POST /admin/v1/drain` on it (what `qunbo drain`
  and SIGTERM do). Measured: until it leads no session and is in no session's replica set, and
  every session again has 3 caught-up members.

Progress on stderr, results on stdout. QUNBO_BIN picks the binary (default: release build);
QUNBO_BENCH_KEEP=1 keeps the cluster's logs and data.
"""
import argparse, os, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "cluster"))
from chaoslib import Cluster, mint_token, request  # noqa: E402  (shared with the chaos harness)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import release_binary, wait  # noqa: E402

FLAGS = ["--log-level", "warning", "--ingest-grace", "1h", "--replicas", "3"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, nodes):
        self.dir = tempfile.mkdtemp(prefix="qunbo-ops-bench-")
        self.c = Cluster(nodes, self.dir, node_flags=FLAGS, binary=release_binary(), log=log)
        self.c.up()
        log(f"{nodes} nodes up in {self.dir}")

    def get(self, node, path):
        r = request(self.c.port(node), "GET", path, token=self.c.admin_token, timeout=5)
        return r.json() if r.status == 200 else None

    def placement(self, group):
        return self.get("n1", f"/admin/v1/ring?group={group}")["replicas"]

    def start_sessions(self, groups):
        token = mint_token(self.c.secret, "host", groups={g: "owner" for g in groups})
        nodes = self.c.nodes
        for i, g in enumerate(groups):
            node = nodes[i % len(nodes)]
            r = request(self.c.port(node), "POST", f"/v1/groups/{g}/live", {"title": g}, token=token)
            if r.status != 201:
                raise SystemExit(f"start {g} at {node}: {r}")
            for k in range(3):
                request(self.c.port(node), "POST", f"/v1/groups/{g}/live/comments", {"text": f"hello {k}"},
                        token=token)
            if (i + 1) % 25 == 0:
                log(f"started {i + 1}/{len(groups)} sessions")

    def primaries(self):
        """{group: summary} of every live session's primary, over every node."""
        out = {}
        for node in self.c.nodes:
            for s in self.get(node, "/admin/v1/sessions") or []:
                if not s["ended"] and s["role"] == "primary":
                    out[s["group"]] = dict(s, node=node)
        return out

    def settled(self, groups, want):
        """Every session has a primary, 3 members, no lag, and `want(group, members)` holds."""
        found = self.primaries()
        bad = [g for g in groups
               if g not in found or len(found[g]["members"]) != 3
               or any(found[g]["lagByReplica"].get(m, 1) != 0 for m in found[g]["members"] if m != found[g]["node"])
               or not want(g, found[g]["members"])]
        return not bad, bad

    def down(self):
        keep = os.environ.get("QUNBO_BENCH_KEEP") == "1"
        self.c.down(wipe=not keep)
        if keep:
            log(f"cluster kept in {self.dir}")


def join(args):
    b = Bench(args.nodes)
    try:
        groups = [f"j{i}" for i in range(args.sessions)]
        b.start_sessions(groups)
        wait(lambda: b.settled(groups, lambda g, m: True)[0], 120, "whole replica sets before the join", 0.2)
        new = f"n{args.nodes + 1}"
        log(f"{args.sessions} sessions settled; adding {new}")
        t0 = time.monotonic()
        code, err = b.c.script("add")
        if code != 0:
            raise SystemExit(f"cluster/add failed: {err}")
        b.c.n += 1
        t_ready = time.monotonic() - t0

        def all_see_it():
            for node in b.c.nodes:
                m = b.get(node, "/admin/v1/members")
                if not m or not any(x["id"] == new and x["state"] == "alive" for x in m["members"]):
                    return False
            return True

        wait(all_see_it, 60, f"every node to list {new} alive")
        t_alive = time.monotonic() - t0
        placed = [g for g in groups if new in b.placement(g)]
        log(f"{new} alive everywhere after {t_alive * 1000:.0f} ms; its placement share: {len(placed)} sessions")
        last = [None]

        def took_share():
            ok, bad = b.settled(groups, lambda g, m: (new in m) == (g in placed))
            if len(bad) != last[0]:
                last[0] = len(bad)
                log(f"  {len(groups) - len(bad)}/{len(groups)} sessions in place")
            return ok

        wait(took_share, 180, f"{new} to take its share of replicas", 0.1)
        t_share = time.monotonic() - t0
        print(f"join: {args.nodes} -> {args.nodes + 1} nodes, {args.sessions} sessions (replicas 3): "
              f"new node ready {t_ready * 1000:.0f} ms, alive on every node {t_alive * 1000:.0f} ms, "
              f"holding its share ({len(placed)} replicas, caught up) {t_share:.1f} s")
    finally:
        b.down()


def drain(args):
    b = Bench(args.nodes)
    target = "n2"
    try:
        groups, i = [], 0
        while len(groups) < args.sessions:
            g = f"d{i}"
            i += 1
            if target in b.placement(g):
                groups.append(g)
        b.start_sessions(groups)
        wait(lambda: b.settled(groups, lambda g, m: target in m)[0], 120, "whole replica sets before the drain", 0.2)
        led = sum(1 for s in b.primaries().values() if s["node"] == target)
        log(f"{target} holds a copy of all {len(groups)} sessions and leads {led}; draining it")
        t0 = time.monotonic()
        r = request(b.c.port(target), "POST", "/admin/v1/drain", token=b.c.admin_token)
        if r.status not in (200, 202):
            raise SystemExit(f"drain: {r}")
        last = [None]

        def no_primary_left():
            return not any(s["node"] == target for s in b.primaries().values())

        wait(no_primary_left, 120, f"{target} to hand over its primaries", 0.1)
        t_primaries = time.monotonic() - t0

        def drained():
            ok, bad = b.settled(groups, lambda g, m: target not in m)
            if len(bad) != last[0]:
                last[0] = len(bad)
                log(f"  {len(groups) - len(bad)}/{len(groups)} sessions moved off {target}")
            return ok

        wait(drained, 300, f"{target} to be out of every replica set", 0.1)
        t_all = time.monotonic() - t0
        print(f"drain: {target} holding {len(groups)} sessions ({led} as primary) on {args.nodes} nodes: "
              f"primaries handed over {t_primaries * 1000:.0f} ms, out of every replica set with the "
              f"others caught up {t_all:.1f} s")
    finally:
        b.down()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    j = sub.add_parser("join")
    j.add_argument("--nodes", type=int, default=4)
    j.add_argument("--sessions", type=int, default=100)
    d = sub.add_parser("drain")
    d.add_argument("--nodes", type=int, default=5)
    d.add_argument("--sessions", type=int, default=100)
    args = p.parse_args()
    {"join": join, "drain": drain}[args.cmd](args)


if __name__ == "__main__":
    main()
