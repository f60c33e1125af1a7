#!/usr/bin/env python3
"""Pre-vote, check-quorum and a frozen primary (issue 17), two binaries side by side in one run.

    ops/bench/prevote.py freeze --before BIN --after BIN [--runs 3] [--freeze 6]
    ops/bench/prevote.py cpu-hog --before BIN --after BIN [--hogs 20] [--seconds 180]

freeze: a 3-node cluster (replicas 3) with a live session; a writer at each of the two nodes
  that are not the primary POSTs comments back to back (each one waits for its answer; a non-2xx
  answer or a failed connection is retried at once). The primary is SIGSTOPped for --freeze s,
  then SIGCONTed. The figure is the longest time any writer went without an acknowledgement,
  around the freeze; also the epoch changes, and whether the old primary is primary after it.
cpu-hog: a 3-node cluster with a live session and a steady writer (a comment every 50 ms at a
  node that is not the primary) while --hogs busy processes (`sh -c 'while :; do :; done'`) hold
  the load average up, for --seconds: the epoch changes of the session, the members gossip
  declared dead (all false: nothing was killed), suspicions raised, and the writes that failed.

Runs alternate before/after, so both see the same machine. Each cluster lives in a temporary
QUNBO_CLUSTER_DIR and is torn down at the end, also on failure.
"""
import argparse, json, os, signal, statistics, subprocess, sys, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import wait  # noqa: E402
from replication import Cluster, Writer, primary_of  # noqa: E402


def epochs(c, nodes):
    """Node -> (role, epoch, primary) of the live session there."""
    out = {}
    for n in nodes:
        for s in c.sessions(n):
            if not s["ended"]:
                out[n] = (s["role"], s["epoch"], s.get("primary"))
    return out


def start(binary, nodes=3):
    os.environ["QUNBO_BIN"] = binary
    # No ingest here: without a long grace the live would end by itself 30 s after it started.
    c = Cluster(nodes, extra=("--ingest-grace", "1h"))
    ids = [f"n{i}" for i in range(1, nodes + 1)]

    def started():
        # A node answers 503 until it has joined the cluster for a moment (API.md); a start that
        # answered 503 may still have created the session, so a primary anywhere counts too.
        if primary_of(c, ids):
            return True
        try:
            return c.call("n1", "POST", "/v1/groups/g/live", {"title": "prevote"})
        except Exception:
            return None

    wait(started, 90, "the session to start", every=1)

    def whole():
        found = primary_of(c, ids)
        return found and len(found[1]["members"]) >= 3 and max(found[1]["lagByReplica"].values() or [0]) == 0 and found

    primary, s = wait(whole, 60, "a whole replica set")
    return c, ids, primary, s


class AckLog(threading.Thread):
    """Writes back to back at one node; remembers when each acknowledgement came."""

    def __init__(self, c, node, first_user, pause=0.0):
        super().__init__(daemon=True)
        self.writer = Writer(c, node, users=16, first_user=first_user)
        self.pause = pause
        self.acks = []
        self.failed = 0
        self.stop = False

    def run(self):
        while not self.stop:
            status = self.writer.post(f"t={time.monotonic_ns()}")
            if 200 <= status < 300:
                self.acks.append(time.monotonic())
            else:
                self.failed += 1
            if self.pause:
                time.sleep(self.pause)

    def longest_gap(self, since, until):
        """The longest span in [since, until] with no acknowledgement (its ends included)."""
        times = [since] + [t for t in self.acks if since < t < until] + [until]
        return max(b - a for a, b in zip(times, times[1:]))


def freeze_once(label, binary, freeze):
    c, ids, primary, s = start(binary)
    try:
        epoch0 = s["epoch"]
        others = [n for n in ids if n != primary]
        writers = [AckLog(c, n, 100 * i) for i, n in enumerate(others)]
        for w in writers:
            w.start()
        time.sleep(2)
        pid = c.pid(primary)
        stopped = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        time.sleep(freeze)
        os.kill(pid, signal.SIGCONT)
        resumed = time.monotonic()
        time.sleep(4)
        end = time.monotonic()
        for w in writers:
            w.stop = True
        for w in writers:
            w.join(15)
        # From the last acknowledgement before the freeze to the last of the run.
        stall = max(w.longest_gap(stopped - 1.0, end) for w in writers)
        first_after = [min((t for t in w.acks if t > stopped), default=end) - stopped for w in writers]
        state = wait(lambda: (lambda e: e if len(e) == len(ids) else None)(epochs(c, ids)), 10, "every copy listed")
        epoch1 = max(e for _, e, _ in state.values())
        old_role = state[primary][0]
        print(f"  {label}: longest write stall {stall * 1000:.0f} ms (first ack after the freeze "
              f"{max(first_after) * 1000:.0f} ms), epoch {epoch0} -> {epoch1}, old primary {primary} is "
              f"{old_role} {resumed - stopped:.1f} s frozen + 4 s; acks {sum(len(w.acks) for w in writers)}, "
              f"non-2xx {sum(w.failed for w in writers)}, answers {[w.writer.codes for w in writers]}", flush=True)
        return stall, epoch1 - epoch0, old_role
    finally:
        c.down()


def freeze(args):
    results = {"before": [], "after": []}
    for run in range(args.runs):
        for label, binary in (("before", args.before), ("after", args.after)):
            print(f"run {run + 1}/{args.runs}, {label} ({binary})", flush=True)
            results[label].append(freeze_once(label, binary, args.freeze))
    print(f"\nSIGSTOP of the primary for {args.freeze:g} s, 3 nodes, 2 writers back to back, {args.runs} runs each:")
    for label, rs in results.items():
        stalls = sorted(r[0] * 1000 for r in rs)
        print(f"  {label}: longest write stall median {statistics.median(stalls):.0f} ms, max {stalls[-1]:.0f} ms "
              f"(all {', '.join(f'{x:.0f}' for x in stalls)}); epoch changes {[r[1] for r in rs]}; "
              f"old primary afterwards {[r[2] for r in rs]}")


def metric_total(c, ids, name):
    total = 0.0
    for n in ids:
        try:
            total += c.metric(n, name)
        except Exception:
            pass
    return total


def hog_once(label, binary, args):
    c, ids, primary, s = start(binary)
    hogs = []
    try:
        epoch0 = s["epoch"]
        dead0 = metric_total(c, ids, "qunbo_gossip_members_declared_dead_total")
        raised0 = metric_total(c, ids, "qunbo_gossip_suspicions_raised_total")
        writer = AckLog(c, next(n for n in ids if n != primary), 0, pause=0.05)
        writer.start()
        hogs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(args.hogs)]
        began = time.monotonic()
        end = began + args.seconds
        highest, primaries, loads = epoch0, [primary], []
        while time.monotonic() < end:
            time.sleep(1)
            loads.append(os.getloadavg()[0])
            for n, (role, e, p) in epochs(c, ids).items():
                highest = max(highest, e)
                if role == "primary" and e == highest and primaries[-1] != n:
                    primaries.append(n)
        for h in hogs:
            h.kill()
        hogs = []
        writer.stop = True
        writer.join(15)
        dead = metric_total(c, ids, "qunbo_gossip_members_declared_dead_total") - dead0
        raised = metric_total(c, ids, "qunbo_gossip_suspicions_raised_total") - raised0
        stall = writer.longest_gap(began, end)
        print(f"  {label}: {args.hogs} hogs {args.seconds:g} s (load avg median {statistics.median(loads):.1f}): "
              f"epoch {epoch0} -> {highest} ({highest - epoch0} changes), primaries {' -> '.join(primaries)}, "
              f"false deaths {dead:.0f}, suspicions {raised:.0f}, writes acked {len(writer.acks)}, "
              f"failed {writer.failed} {writer.writer.codes}, longest write stall {stall * 1000:.0f} ms", flush=True)
        return highest - epoch0, dead
    finally:
        for h in hogs:
            h.kill()
        c.down()


def cpu_hog(args):
    results = {"before": [], "after": []}
    for run in range(args.runs):
        for label, binary in (("before", args.before), ("after", args.after)):
            print(f"run {run + 1}/{args.runs}, {label} ({binary})", flush=True)
            results[label].append(hog_once(label, binary, args))
    print(f"\n{args.hogs} CPU hogs for {args.seconds:g} s, 3 nodes, a comment every 50 ms:")
    for label, rs in results.items():
        print(f"  {label}: epoch changes {[r[0] for r in rs]}, false deaths {[int(r[1]) for r in rs]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("freeze", "cpu-hog"):
        s = sub.add_parser(name)
        s.add_argument("--before", required=True, help="qunbo binary before the change")
        s.add_argument("--after", required=True, help="qunbo binary after the change")
    f = sub.choices["freeze"]
    f.add_argument("--runs", type=int, default=3)
    f.add_argument("--freeze", type=float, default=6.0)
    h = sub.choices["cpu-hog"]
    h.add_argument("--runs", type=int, default=1)
    h.add_argument("--hogs", type=int, default=20)
    h.add_argument("--seconds", type=float, default=180)
    args = p.parse_args()
    {"freeze": freeze, "cpu-hog": cpu_hog}[args.cmd](args)


if __name__ == "__main__":
    main()
