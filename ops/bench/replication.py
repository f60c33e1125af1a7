#!/usr/bin/env python3
"""Replication benchmarks on a real local cluster (release build, loopback).

    ops/bench/replication.py failover    [--nodes 5] [--kills 20]
    ops/bench/replication.py latency     [--nodes 3] [--rate 1000] [--seconds 20]
    ops/bench/replication.py compression [--nodes 3] [--seconds 15]

failover: a writer POSTs a comment every 10 ms at a node that is not the primary, each
  stamped with its send time; an SSE viewer reads the session on a replica that is not the
  primary. `kill -9` the primary; the figure is the time from the kill to the first event
  delivered to the viewer that was sent after the kill. The killed node is restarted and the
  replica set given time to heal before the next kill.
latency: comments are POSTed at the primary at --rate/s (64 keep-alive connections, paced,
  --pattern reuse|spread); SSE viewers on another replica and on the primary timestamp each
  arrival; p50/p99 of arrival - send. Writer and viewers are ops/bench/latencyprobe.c (built
  with cc on first use), so the measuring takes almost none of the cores the nodes need.
compression: node-to-node bytes before/after LZ4 (qunbo_replication_bytes_sent_total{stage})
  for an event workload, then for a 2 Mb/s ffmpeg media stream, with the primary's CPU time.

QUNBO_BIN=path uses that binary; otherwise `swift build -c release` runs first. The cluster
lives in a temporary QUNBO_CLUSTER_DIR and is torn down at the end, also on failure.
"""
import argparse, http.client, json, os, random, statistics, subprocess, sys
import tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "cluster"))
from chaoslib import free_base, mint_token  # noqa: E402  (shared with the chaos harness)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import c_tool, release_binary, wait  # noqa: E402


class Cluster:
    def __init__(self, n, extra=()):
        self.n = n
        self.dir = tempfile.mkdtemp(prefix="qunbo-repl-bench-")
        self.base = free_base(n)
        self.env = dict(os.environ, QUNBO_CLUSTER_DIR=self.dir, QUNBO_BIN=release_binary())
        self.script("up", str(n), "--base-port", str(self.base), "--no-demo", "--rtmp-base-port", "0", "--", "--log-level", "warning", *extra)
        secrets = dict(l.strip().split("=", 1) for l in open(self.dir + "/env") if "=" in l)
        self.secret = secrets["QUNBO_AUTH_SECRET"]
        # Operator tokens (/admin/*) are signed with the cluster secret.
        self.cluster_secret = secrets["QUNBO_CLUSTER_SECRET"]

    def script(self, name, *args):
        subprocess.run([ROOT + "/cluster/" + name, *args], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def down(self):
        # QUNBO_BENCH_KEEP=1 keeps the cluster's logs and data for a look after a failure.
        keep = os.environ.get("QUNBO_BENCH_KEEP") == "1"
        subprocess.run([ROOT + "/cluster/down"] + ([] if keep else ["--wipe", "--logs"]), env=self.env, stdout=subprocess.DEVNULL)
        if keep:
            print("cluster kept in", self.dir)

    def port(self, node):
        return self.base + int(node[1:]) - 1

    def token(self, user, role="owner", admin=False):
        return mint_token(self.cluster_secret if admin else self.secret, user, groups={"g": role}, admin=admin,
                          ttl=7200)

    def call(self, node, method, path, body=None, admin=False, timeout=10):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port(node)}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + self.token("host", admin=admin)})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)

    def sessions(self, node):
        try:
            return self.call(node, "GET", "/admin/v1/sessions", admin=True, timeout=2)
        except Exception:
            return []

    def metric(self, node, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port(node)}/metrics", timeout=5).read().decode()
        return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name))

    def pid(self, node):
        return int(open(f"{self.dir}/{node}/pid").read())


class Viewer(threading.Thread):
    """Reads a session's SSE on one node; calls on_event(seq, data, arrival_ns) per event."""

    def __init__(self, cluster, node, on_event, after=0):
        super().__init__(daemon=True)
        self.cluster, self.node, self.on_event, self.after = cluster, node, on_event, after
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.cluster.port(self.node), timeout=30)
                conn.request("GET", f"/v1/groups/g/live/events?after={self.after}",
                             headers={"Authorization": "Bearer " + self.cluster.token("viewer", "member")})
                r = conn.getresponse()
                seq = None
                while not self.stop:
                    line = r.fp.readline()
                    if not line:
                        break
                    line = line.decode().rstrip("\n")
                    if line.startswith("id: "):
                        seq = int(line[4:])
                    elif line.startswith("data: ") and seq is not None:
                        self.after = seq
                        self.on_event(seq, line[6:], time.monotonic_ns())
                        seq = None
            except Exception:
                time.sleep(0.05)


class Writer:
    """Keep-alive HTTP/1.1 POSTs of comments stamped with their send time."""

    def __init__(self, cluster, node, users=64, first_user=0):
        self.cluster, self.node = cluster, node
        self.conn = None
        # Many users: one user's writes are rate limited (API: 429), and this measures the cluster.
        self.tokens = [cluster.token(f"writer{first_user + i}", "member") for i in range(users)]
        self.n = 0
        self.codes = {}

    def post(self, text):
        self.n += 1
        body = json.dumps({"text": text, "id": f"w{id(self)}-{self.n}"})
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.cluster.port(self.node), timeout=10)
                self.conn.request("POST", "/v1/groups/g/live/comments", body=body,
                                  headers={"Authorization": "Bearer " + self.tokens[self.n % len(self.tokens)],
                                           "Content-Type": "application/json"})
                r = self.conn.getresponse()
                r.read()
                self.codes[r.status] = self.codes.get(r.status, 0) + 1
                return r.status
            except Exception:
                self.conn = None
        return 0


def primary_of(cluster, nodes):
    for n in nodes:
        for s in cluster.sessions(n):
            if not s["ended"] and s["role"] == "primary":
                return n, s
    return None


def failover(args):
    c = Cluster(args.nodes)
    try:
        nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
        c.call("n1", "POST", "/v1/groups/g/live", {"title": "failover"})
        results = []
        for k in range(args.kills):
            primary, s = wait(lambda: primary_of(c, nodes), 10, "a primary")
            def whole():
                found = primary_of(c, nodes)
                return found and len(found[1]["members"]) >= 3 and max(found[1]["lagByReplica"].values() or [0]) == 0

            try:
                wait(whole, 20, "a whole replica set")
            except SystemExit:
                for n in nodes:
                    print(n, json.dumps(c.sessions(n)))
                raise
            primary, s = primary_of(c, nodes)
            others = [m for m in s["members"] if m != primary]
            watch_node = others[0]
            write_node = next(n for n in nodes if n != primary)
            kill_at = [None]
            first = [None]

            def on_event(seq, data, arrival):
                if kill_at[0] is None or first[0] is not None:
                    return
                try:
                    sent = int(json.loads(data).get("text", "0").split("=")[1])
                except Exception:
                    return
                if sent >= kill_at[0]:
                    first[0] = arrival

            viewer = Viewer(c, watch_node, on_event, after=s["lastSeq"])
            viewer.start()
            writer = Writer(c, write_node)
            stop = [False]

            def write_loop():
                while not stop[0]:
                    writer.post(f"t={time.monotonic_ns()}")
                    time.sleep(0.01)

            wt = threading.Thread(target=write_loop, daemon=True)
            wt.start()
            time.sleep(1.0)
            os.kill(c.pid(primary), 9)
            kill_at[0] = time.monotonic_ns()
            try:
                wait(lambda: first[0], 15, "the first event after the kill")
            except SystemExit:
                print(f"no event after the kill: writer at {write_node} got {writer.codes}, viewer at {watch_node}")
                for n in nodes:
                    print(n, json.dumps(c.sessions(n)))
                raise
            ms = (first[0] - kill_at[0]) / 1e6
            results.append(ms)
            stop[0] = True
            wt.join()
            viewer.stop = True
            print(f"kill {k + 1}/{args.kills}: primary {primary} -> first new event at {watch_node} after {ms:.0f} ms",
                  flush=True)
            c.script("restart", primary)
        print(f"failover over {len(results)} kills: median {statistics.median(results):.0f} ms, "
              f"max {max(results):.0f} ms, min {min(results):.0f} ms")
    finally:
        c.down()


def latencyprobe():
    """ops/bench/latencyprobe.c, built on first use."""
    return c_tool("latencyprobe")


def latency(args):
    """POST at the primary; SSE viewers at a replica (cross-node, the issue's figure) and at the
    primary itself (local: what the majority ack costs without the commit's extra hop). The
    writer and each viewer are separate processes of `latencyprobe` (C): the Python harness took
    a quarter of a core at 1,000 events/s, and its CPU was the nodes' latency."""
    probe = latencyprobe()
    c = Cluster(args.nodes)
    try:
        nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
        c.call("n1", "POST", "/v1/groups/g/live", {"title": "latency"})
        primary, s = wait(lambda: primary_of(c, nodes), 10, "a primary")
        watch = next(m for m in s["members"] if m != primary)
        # A replica serves viewers once it knows `started` committed (the next heartbeat tells
        # it); before that it redirects, which the probe does not follow.
        wait(lambda: any(x["committedSeq"] >= 1 for x in c.sessions(watch)), 10, f"{watch} serving")
        path = "/v1/groups/g/live"
        viewers = {n: subprocess.Popen([probe, "view", str(c.port(n)), path + "/events?after=0",
                                        c.token("viewer", "member"), str(args.seconds + 4)],
                                       stdout=subprocess.PIPE, text=True)
                   for n in (watch, primary)}
        # Many users: one user's writes are rate limited (API: 429), and this measures the cluster.
        with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
            f.write("\n".join(c.token(f"writer{i}", "member") for i in range(max(64, int(args.rate)))))
        time.sleep(1)
        writer = subprocess.run([probe, "write", str(c.port(primary)), path + "/comments", f.name,
                                 str(args.rate), str(args.seconds), str(args.conns), args.pattern], capture_output=True, text=True, check=True)
        os.unlink(f.name)
        codes = dict(kv.split("=") for kv in writer.stdout.split()[1:])
        sent = sum(int(n) for code, n in codes.items() if code != "skipped")
        for node, label in ((watch, f"-> SSE viewer at replica {watch}"), (primary, "-> SSE viewer at the primary")):
            out, _ = viewers[node].communicate(timeout=60)
            xs = sorted(int(x) / 1000 for x in out.split())
            if not xs:
                print(f"{label}: nothing delivered")
                continue
            print(f"latency, POST at primary {primary} {label}: {sent / args.seconds:.0f} writes/s sent "
                  f"({codes}), {len(xs)} delivered, p50 {xs[len(xs) // 2]:.1f} ms, "
                  f"p99 {xs[int(len(xs) * 0.99)]:.1f} ms, max {xs[-1]:.1f} ms")
    finally:
        c.down()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def compression(args):
    c = Cluster(args.nodes)
    try:
        nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
        c.call("n1", "POST", "/v1/groups/g/live", {"title": "compression"})
        primary, s = wait(lambda: primary_of(c, nodes), 10, "a primary")

        def bytes_sent():
            return (c.metric(primary, 'qunbo_replication_bytes_sent_total{stage="raw"}'),
                    c.metric(primary, 'qunbo_replication_bytes_sent_total{stage="wire"}'))

        raw0, wire0 = bytes_sent()
        cpu0 = cpu_seconds(c.pid(primary))
        words = "hello great stream nice play love this song again wow cool lol thanks".split()
        end = time.monotonic() + args.seconds
        w = Writer(c, primary)
        n = 0
        while time.monotonic() < end:
            w.post(" ".join(random.choice(words) for _ in range(8)))
            n += 1
        raw1, wire1 = bytes_sent()
        cpu1 = cpu_seconds(c.pid(primary))
        print(f"events: {n} comments, raw {raw1 - raw0:.0f} B -> wire {wire1 - wire0:.0f} B "
              f"({(wire1 - wire0) / (raw1 - raw0):.2f}), primary CPU {cpu1 - cpu0:.2f} s")
        token = c.token("host")
        ff = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                               "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine", "-t", str(args.seconds),
                               "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-g", "25", "-c:a", "aac",
                               "-f", "mpegts", f"http://127.0.0.1:{c.port(primary)}/v1/groups/g/live/ingest?access_token={token}"])
        time.sleep(1)
        raw0, wire0 = bytes_sent()
        cpu0 = cpu_seconds(c.pid(primary))
        ff.wait()
        time.sleep(0.5)
        raw1, wire1 = bytes_sent()
        cpu1 = cpu_seconds(c.pid(primary))
        print(f"media: raw {raw1 - raw0:.0f} B -> wire {wire1 - wire0:.0f} B "
              f"({(wire1 - wire0) / max(1, raw1 - raw0):.3f}), primary CPU {cpu1 - cpu0:.2f} s (ingest, relay, HLS)")
    finally:
        c.down()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("failover")
    f.add_argument("--nodes", type=int, default=5)
    f.add_argument("--kills", type=int, default=20)
    l = sub.add_parser("latency")
    l.add_argument("--nodes", type=int, default=3)
    l.add_argument("--rate", type=float, default=1000)
    l.add_argument("--seconds", type=float, default=20)
    l.add_argument("--conns", type=int, default=64, help="writer connections")
    l.add_argument("--pattern", choices=["reuse", "spread"], default="reuse",
                   help="reuse: the first idle connection (a few warm ones carry the load); "
                        "spread: each in turn (every write on a connection idle for a while)")
    m = sub.add_parser("compression")
    m.add_argument("--nodes", type=int, default=3)
    m.add_argument("--seconds", type=float, default=15)
    args = p.parse_args()
    {"failover": failover, "latency": latency, "compression": compression}[args.cmd](args)


if __name__ == "__main__":
    main()
