#!/usr/bin/env python3
"""Failure detection time: kill -9 a node, measure until every survivor lists it dead.

Runs Qunbo (release build, cluster/ scripts) and HashiCorp Serf agents (default LAN profile)
side by side on this machine, at each cluster size, with the same number of kills, and prints
one table. Loopback only; everything started here is stopped at the end.

    ops/bench/detection.py [--sizes 5 10] [--kills 10] [--systems qunbo serf]

Polling: every survivor is asked in parallel every 50 ms (Qunbo: GET /admin/v1/members;
Serf: `serf members -format=json`), so figures carry up to ~50 ms (Qunbo) or ~100 ms (Serf,
whose CLI is slower to answer) of polling granularity.
"""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "cluster"))
from chaoslib import free_base, mint_token  # noqa: E402  (shared with the chaos harness)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import wait  # noqa: E402
POOL = ThreadPoolExecutor(max_workers=16)


class QunboCluster:
    name = "qunbo"

    def __init__(self, n, binary):
        self.n, self.dir = n, tempfile.mkdtemp(prefix="qunbo-bench-")
        self.base = free_base(n)
        self.env = dict(os.environ, QUNBO_BIN=binary, QUNBO_CLUSTER_DIR=self.dir)
        subprocess.run([f"{ROOT}/cluster/up", str(n), "--base-port", str(self.base), "--no-demo", "--rtmp-base-port", "0", "--", "--log-level", "warning"],
                       env=self.env, check=True, stderr=subprocess.DEVNULL)
        secret = [l.split("=", 1)[1] for l in open(f"{self.dir}/env").read().split() if l.startswith("QUNBO_CLUSTER_SECRET=")][0]
        self.token = subprocess.run([binary, "token", "--secret", secret, "--user", "bench", "--admin", "--ttl", "4h"],
                                    capture_output=True, text=True, check=True).stdout.strip()

    def ids(self):
        return [f"n{i}" for i in range(1, self.n + 1)]

    def states(self, node):
        port = self.base + int(node[1:]) - 1
        req = urllib.request.Request(f"http://127.0.0.1:{port}/admin/v1/members",
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=1) as r:
                return {m["id"]: m["state"] for m in json.load(r)["members"]}
        except Exception:
            return {}

    def kill(self, node):
        subprocess.run([f"{ROOT}/cluster/kill", node], env=self.env, check=True)

    def restart(self, node):
        subprocess.run([f"{ROOT}/cluster/restart", node], env=self.env, check=True, stderr=subprocess.DEVNULL)

    def stop(self):
        subprocess.run([f"{ROOT}/cluster/down", "--wipe", "--logs"], env=self.env, stderr=subprocess.DEVNULL)


class SerfCluster:
    name = "serf"

    def __init__(self, n, _binary):
        self.n, self.dir = n, tempfile.mkdtemp(prefix="serf-bench-")
        self.base = free_base(2 * n)
        self.procs = {}
        # A restarted agent joins under a fresh name (s2.1, s2.2, ...): Serf keeps a failed
        # member's name reserved until it is reaped, so reusing it can stall the rejoin.
        self.names, self.generations, self.port_of = {}, {}, {}
        for node in self.ids():
            self.start(node)

    def ids(self):
        return [f"s{i}" for i in range(1, self.n + 1)]

    def ports(self, node):
        return self.port_of[node]

    def start(self, node):
        # Fresh ports for every (re)start: a killed agent's ports can linger (TIME_WAIT).
        first = free_base(2)
        self.port_of[node] = (first, first + 1)
        bind, rpc = self.port_of[node]
        seed = self.port_of.get("s1", (bind,))[0]
        join = [] if node == "s1" and self.generations.get(node) is None else [f"-join=127.0.0.1:{seed}"]
        if node == "s1" and self.generations.get(node) is not None:
            join = [f"-join=127.0.0.1:{self.port_of['s2'][0]}"]
        generation = self.generations.get(node, -1) + 1
        self.generations[node] = generation
        self.names[node] = node if generation == 0 else f"{node}.{generation}"
        log = open(f"{self.dir}/{node}.log", "a")
        self.procs[node] = subprocess.Popen(
            ["serf", "agent", f"-node={self.names[node]}", f"-bind=127.0.0.1:{bind}", f"-rpc-addr=127.0.0.1:{rpc}"]
            + join, stdout=log, stderr=log)
        wait(lambda: self.states(node).get(node) == "alive", 30, f"serf {node}")

    def states(self, node):
        _, rpc = self.ports(node)
        try:
            out = subprocess.run(["serf", "members", f"-rpc-addr=127.0.0.1:{rpc}", "-format=json"],
                                 capture_output=True, text=True, timeout=2).stdout
            # Serf says "failed" for a node its failure detector declared dead. Names map back
            # to slots (s2.1 -> s2); the current incarnation's entry wins.
            current = set(self.names.values())
            states = {}
            for m in json.loads(out)["members"]:
                if m["name"] in current:
                    states[m["name"].split(".")[0]] = "dead" if m["status"] == "failed" else m["status"]
            return states
        except Exception:
            return {}

    def kill(self, node):
        self.procs[node].send_signal(signal.SIGKILL)
        self.procs[node].wait()

    def restart(self, node):
        self.start(node)

    def stop(self):
        for p in self.procs.values():
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def all_see(cluster, nodes, victim, state):
    results = list(POOL.map(lambda s: cluster.states(s).get(victim), nodes))
    return all(r == state for r in results)


def measure(cls, n, kills, binary):
    cluster = cls(n, binary)
    try:
        ids = cluster.ids()
        wait(lambda: all(len(cluster.states(i)) == n and set(cluster.states(i).values()) == {"alive"} for i in ids),
             60, f"{cluster.name} x{n} to converge")
        times = []
        for k in range(kills):
            victim = ids[1 + k % (n - 1)]  # never the first seed
            survivors = [i for i in ids if i != victim]
            t0 = time.monotonic()
            cluster.kill(victim)
            wait(lambda: all_see(cluster, survivors, victim, "dead"), 120, f"{victim} dead")
            t1 = time.monotonic()
            times.append(t1 - t0)
            print(f"  {cluster.name} n={n} kill {k + 1}/{kills}: {victim} dead everywhere after {t1 - t0:.2f} s",
                  file=sys.stderr)
            cluster.restart(victim)
            wait(lambda: all_see(cluster, ids, victim, "alive"), 60, f"{victim} back")
            time.sleep(1)  # let suspicion state settle before the next kill
        return times
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--systems", nargs="+", default=["qunbo", "serf"])
    ap.add_argument("--binary", default=os.environ.get("QUNBO_BIN"))
    args = ap.parse_args()
    binary = args.binary
    if not binary and "qunbo" in args.systems:
        subprocess.run(["swift", "build", "-c", "release", "--product", "qunbo"], cwd=ROOT, check=True)
        binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip() + "/qunbo"
    systems = {"qunbo": QunboCluster, "serf": SerfCluster}
    rows = []
    for n in args.sizes:
        for name in args.systems:
            t = measure(systems[name], n, args.kills, binary)
            rows.append((name, n, statistics.median(t), min(t), max(t), len(t)))
    print(f"\nkill -9 -> every survivor lists the node dead ({os.cpu_count()} cores, loopback)")
    print(f"{'system':<8}{'nodes':>6}{'median s':>10}{'min s':>8}{'max s':>8}{'kills':>7}")
    for name, n, med, lo, hi, k in rows:
        print(f"{name:<8}{n:>6}{med:>10.2f}{lo:>8.2f}{hi:>8.2f}{k:>7}")


if __name__ == "__main__":
    main()
