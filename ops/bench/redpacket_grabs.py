#!/usr/bin/env python3
"""Red-packet grabs per second on one live session of a real cluster (release build, loopback),
and the grab latency (issue 15's target: 5,000 grabs/s, p99 < 50 ms).

    ops/bench/redpacket_grabs.py [--nodes 5] [--replicas 3] [--packets 300] [--users 2000]
                                 [--oversubscribe 1.1] [--conns 16] [--rate 0] [--seconds 30]

A grab takes a share only once per user and packet, and a packet has at most 200 shares, so the
load is many packets and many users: --packets packets of 200 shares are sent first (one sender
each: a user's writes are rate limited), then every packet is grabbed by 200 x --oversubscribe
distinct users drawn from --users (the extra ones get 410 empty, as the late ones of a real
storm do), packet after packet, so the grabs in flight at any moment are on one or two packets.
Requests go round-robin to every node (the non-primary ones forward to the primary) over
--conns keep-alive HTTP/1.1 connections per node.

The load generator is ops/bench/grabprobe.c (built with cc on first use; a Python client tops
out far below the target on these 2 cores). It runs twice:
  1. `GET /healthz` with the same connections: what the client and the HTTP layer can do at all
     (and the probe's own CPU per request: its ceiling if it had a core to itself);
  2. the grabs: closed loop (--rate 0, as fast as answers come back: the throughput) or paced at
     --rate/s (the latency at that rate).
Prints grabs/s (201s: shares taken; all answered), p50/p90/p99/max, each node's CPU over the
run, and checks that the session's lastSeq grew by the number of 201s (plus at most the 503s,
whose outcome the client does not know).

QUNBO_BIN=path uses that binary; otherwise `swift build -c release` runs first. The cluster
lives in a temporary QUNBO_CLUSTER_DIR and is torn down at the end, also on failure.
"""
import argparse, json, os, random, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import c_tool, wait  # noqa: E402
from replication import Cluster, cpu_seconds, primary_of  # noqa: E402


def grabprobe():
    """ops/bench/grabprobe.c, built on first use."""
    return c_tool("grabprobe")


def run_probe(probe, lines, ports, conns, rate, seconds):
    """Runs grabprobe on `lines` (METHOD PATH TOKEN); returns its summary as a dict."""
    with tempfile.NamedTemporaryFile("w", suffix=".plan", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        out = subprocess.run([probe, f.name, ",".join(map(str, ports)), str(conns), str(rate), str(seconds)],
                             capture_output=True, text=True, check=True).stdout.split()
    finally:
        os.unlink(f.name)
    r, i = {"codes": {}}, 0
    while i < len(out):
        if out[i] == "codes":
            i += 1
            while i < len(out) and "=" in out[i]:
                code, n = out[i].split("=")
                r["codes"][int(code)] = int(n)
                i += 1
        else:
            r[out[i]] = float(out[i + 1])
            i += 2
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--packets", type=int, default=300, help="packets of 200 shares (at most 1,000 a live)")
    p.add_argument("--users", type=int, default=2000, help="distinct grabbing users")
    p.add_argument("--oversubscribe", type=float, default=1.1, help="grabbers per share of each packet")
    p.add_argument("--conns", type=int, default=16, help="keep-alive connections per node")
    p.add_argument("--rate", type=float, default=0, help="grabs/s paced; 0: closed loop (throughput)")
    p.add_argument("--seconds", type=float, default=30, help="longest grab phase")
    p.add_argument("--at", choices=["all", "primary"], default="all",
                   help="all: every node (4 of 5 grabs forwarded); primary: only the primary (no forwarding)")
    args = p.parse_args()
    probe = grabprobe()
    shares = 200
    c = Cluster(args.nodes, extra=("--replicas", str(args.replicas)))
    try:
        nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
        c.call("n1", "POST", "/v1/groups/g/live", {"title": "grabs"})
        primary, s = wait(lambda: primary_of(c, nodes), 10, "a primary")
        ports = [c.port(n) for n in nodes] if args.at == "all" else [c.port(primary)]
        wait(lambda: all(any(x["committedSeq"] >= 1 for x in c.sessions(m)) for m in s["members"]), 10,
             "every replica serving")

        # The packets, sent first at the primary by one sender each.
        t0 = time.monotonic()
        for k in range(args.packets):
            body = json.dumps({"id": f"p{k}", "total": 20000, "currency": "CNY", "shares": shares}).encode()
            import urllib.request
            req = urllib.request.Request(f"http://127.0.0.1:{c.port(primary)}/v1/groups/g/live/redpackets",
                                         method="POST", data=body,
                                         headers={"Authorization": "Bearer " + c.token(f"s{k}", "member")})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 201, r.status
        print(f"sent {args.packets} packets of {shares} shares in {time.monotonic() - t0:.1f} s", flush=True)

        tokens = [c.token(f"u{i}", "member") for i in range(args.users)]
        per_packet = min(args.users, int(shares * args.oversubscribe))
        rng = random.Random(15)
        grabs = []
        for k in range(args.packets):
            for u in rng.sample(range(args.users), per_packet):
                grabs.append(f"POST /v1/groups/g/live/redpackets/p{k}/grab {tokens[u]}")

        # 1. The ceiling of client + HTTP: the same connections on /healthz.
        health = run_probe(probe, ["GET /healthz -"] * 100_000, ports, args.conns, 0, 10)
        hz = health["answered"] / health["seconds"]
        print(f"healthz (client+HTTP ceiling): {hz:.0f} req/s over {len(ports) * args.conns} connections, "
              f"p50 {health['p50_ms']:.2f} ms p99 {health['p99_ms']:.2f} ms, codes {health['codes']}; probe CPU "
              f"{health['cpu_s']:.2f} s = {health['answered'] / max(health['cpu_s'], 1e-9):.0f} req per probe "
              f"core-second", flush=True)

        # 2. The grabs.
        seq0 = int(c.call(primary, "GET", "/v1/groups/g/live")["lastSeq"])
        cpu0 = {n: cpu_seconds(c.pid(n)) for n in nodes}
        g = run_probe(probe, grabs, ports, args.conns, args.rate, args.seconds)
        cpu1 = {n: cpu_seconds(c.pid(n)) for n in nodes}
        seq1 = wait(lambda: int(c.call(primary, "GET", "/v1/groups/g/live")["lastSeq"]), 10, "lastSeq")
        took = g["codes"].get(201, 0)
        mode = "closed loop" if args.rate <= 0 else f"paced at {args.rate:.0f}/s"
        cpus = ", ".join(f"{n}{'*' if n == primary else ''} {(cpu1[n] - cpu0[n]) / g['seconds']:.2f}" for n in nodes)
        print(f"grabs ({mode}, {len(ports) * args.conns} connections to {args.at}, {args.nodes} nodes, "
              f"{args.replicas} replicas): "
              f"{took / g['seconds']:.0f} shares taken/s (201), {g['answered'] / g['seconds']:.0f} answered/s; "
              f"{int(g['answered'])} answered in {g['seconds']:.1f} s, codes {g['codes']}, skipped {int(g['skipped'])}; "
              f"latency p50 {g['p50_ms']:.1f} ms, p90 {g['p90_ms']:.1f} ms, p99 {g['p99_ms']:.1f} ms, "
              f"max {g['max_ms']:.1f} ms", flush=True)
        total_cpu = sum(cpu1[n] - cpu0[n] for n in nodes)
        print(f"node CPU (cores, * primary): {cpus}; total {total_cpu / g['seconds']:.2f}; "
              f"{1000 * total_cpu / max(g['answered'], 1):.2f} ms of node CPU per answered grab "
              f"({1000 * (cpu1[primary] - cpu0[primary]) / max(g['answered'], 1):.2f} at the primary); "
              f"probe CPU {g['cpu_s']:.2f} s ({g['cpu_s'] / g['seconds']:.2f} cores); "
              f"load average {os.getloadavg()[0]:.1f}")
        # Every 201 is one logged grab; a 503 (outcome unknown, no quorum in time) may have been
        # logged too (its retry would answer 200 with the amount), so the log grows by the 201s
        # plus at most the 503s.
        grew, unknown = seq1 - seq0, g["codes"].get(503, 0)
        ok = took <= grew <= took + unknown
        print(f"lastSeq grew by {grew}: {took} grabs answered 201 + {grew - took} of {unknown} answered 503"
              + ("" if ok else "  <-- MISMATCH"))
    finally:
        c.down()


if __name__ == "__main__":
    main()
