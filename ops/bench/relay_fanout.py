#!/usr/bin/env python3
"""Edge-relay fan-out (issue 17): one session served from every node of a local cluster.

    ops/bench/relay_fanout.py [--nodes 5] [--viewers 10000] [--bitrate 256k] [--seconds 20]
                              [--route relay]

A cluster of --nodes (replicas 3, --route relay by default) runs one live session; ffmpeg pushes
a pre-encoded stream of --bitrate (-re -c copy, no encoding cost) to the primary; --viewers
stream.ts viewers are spread evenly over ALL nodes by ops/bench/viewload.c (one C process, built
with cc on first use), so the nodes that hold no replica serve theirs from a relay copy. After
the viewers are open and warm, --seconds are measured:

- media delivered (all viewers) and the slowest viewer's rate against the stream's: a viewer
  below 95% of it is "behind"; skipped GOPs on every node;
- the origin replicas' egress: node-to-node media bytes relayed (qunbo_replication_media_bytes_
  relayed_total) per relay they feed, against the stream's rate (one copy per relay, whatever
  its viewers), and what the wire carried (qunbo_replication_bytes_sent_total{stage="wire"});
- each node's CPU seconds and viewers; each relay node's upstream subscriptions (must be 1).

Then the arithmetic for 100,000 viewers over 50 nodes from the measured per-node figures.
QUNBO_BIN=path uses that binary; otherwise `swift build -c release` runs first.
"""
import argparse, json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replication import Cluster, cpu_seconds, primary_of  # noqa: E402
from benchlib import c_tool, wait  # noqa: E402


def bits(text):
    text = text.lower()
    scale = {"k": 1e3, "m": 1e6}.get(text[-1], 1)
    return float(text.rstrip("km")) * scale


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--viewers", type=int, default=10000)
    p.add_argument("--bitrate", default="256k")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--route", default="relay")
    args = p.parse_args()

    rate_bits = bits(args.bitrate)
    src = tempfile.mktemp(suffix=".ts")
    length = args.seconds + args.warmup + 60
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi",
                    "-i", "sine", "-t", str(length), "-c:v", "libx264", "-preset", "ultrafast",
                    "-b:v", str(int(rate_bits * 0.85)), "-maxrate", str(int(rate_bits)), "-bufsize", str(int(rate_bits / 2)),
                    "-g", "25", "-c:a", "aac", "-b:a", "32k", "-f", "mpegts", src], check=True)
    stream_rate = os.path.getsize(src) / length  # bytes/s, container overhead included

    c = Cluster(args.nodes, extra=["--replicas", "3", "--route", args.route, "--max-connections-per-ip", "1000000",
                                   "--max-connections", "1000000", "--max-viewers-per-user", "10000",
                                   "--idle-timeout", "10m"])
    push = None
    try:
        nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
        c.call("n1", "POST", "/v1/groups/g/live", {"title": "relay fan-out"})
        primary, s = wait(lambda: primary_of(c, nodes), 10, "a primary")
        replicas = s["members"]
        relays = [n for n in nodes if n not in replicas]
        token = c.token("host")
        push = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy", "-f", "mpegts", "-method", "POST",
                                 f"http://127.0.0.1:{c.port(primary)}/v1/groups/g/live/ingest?access_token={token}"])
        time.sleep(2)
        targets = tempfile.mktemp()
        with open(targets, "w") as f:
            for n in nodes:
                f.write(f"{c.port(n)} /v1/groups/g/live/stream.ts\n")

        def snapshot():
            return {n: {"cpu": cpu_seconds(c.pid(n)),
                        "relayed": c.metric(n, "qunbo_replication_media_bytes_relayed_total"),
                        "wire": c.metric(n, 'qunbo_replication_bytes_sent_total{stage="wire"}'),
                        "skipped": c.metric(n, "qunbo_live_gops_skipped_total")} for n in nodes}

        load = subprocess.Popen([c_tool("viewload"), targets, c.token("viewer", role="member"), str(args.viewers),
                                 str(args.warmup), str(args.seconds)], stdout=subprocess.PIPE, text=True)
        # The counters are read around the measured window: viewload measures from the moment
        # every connection is open plus --warmup (the open rate is 2,000/s).
        time.sleep(args.viewers / 2000 + args.warmup)
        before = snapshot()
        t0 = time.monotonic()
        # The copies and subscriptions while the viewers are still open (viewload closes them
        # as it ends), then the counters at the end of the window.
        time.sleep(max(0, args.seconds - 2))
        held = {n: c.sessions(n) for n in nodes}
        subs = {n: c.metric(n, "qunbo_relay_upstream_subscriptions") for n in relays}
        epochs = {x.get("epoch") for n in nodes for x in held[n] if x.get("role") in ("primary", "replica")}
        after = snapshot()
        elapsed = time.monotonic() - t0
        out, _ = load.communicate()
        result = json.loads(out)
    finally:
        if push:
            push.kill()
        c.down()

    behind = result["rate_min"] < 0.95 * stream_rate
    print(f"\nrelay fan-out: {args.nodes} nodes (replicas {', '.join(replicas)}; relays {', '.join(relays) or '-'}), "
          f"--route {args.route}, one {stream_rate * 8 / 1e3:.0f} kb/s stream, {args.viewers} stream.ts viewers "
          f"spread over every node, {args.seconds:.0f} s measured, {os.cpu_count()} cores shared with the load")
    print(f"viewers open {result['open']}/{result['conns']}, failed {result['failed']} (connect {result['failed_connect']}, before the answer {result['failed_head']}, while streaming {result['failed_stream']}), statuses {result['status']}")
    print(f"media delivered {result['bytes'] * 8 / result['seconds'] / 1e6:.0f} Mb/s; per viewer min "
          f"{result['rate_min'] * 8 / 1e3:.0f} / p1 {result['rate_p1'] * 8 / 1e3:.0f} / p50 "
          f"{result['rate_p50'] * 8 / 1e3:.0f} kb/s against {stream_rate * 8 / 1e3:.0f}: "
          f"{'SOME VIEWER BEHIND' if behind else 'no viewer behind'}")
    print(f"{'node':>5}{'role':>9}{'viewers':>9}{'CPU s':>8}{'relayed Mb/s':>14}{'wire Mb/s':>11}{'feeds':>7}"
          f"{'per feed':>10}{'skipped':>9}")
    for n in nodes:
        d = {k: after[n][k] - before[n][k] for k in after[n]}
        copy = next((x for x in held[n] if not x.get("ended")), {})
        feeds = len(copy.get("relays") or [])
        role = copy.get("role", "-")
        relayed = d["relayed"] * 8 / elapsed / 1e6
        per_feed = f"{relayed / feeds:.2f}" if feeds else "-"
        print(f"{n:>5}{role:>9}{copy.get('viewers', 0):>9}{d['cpu']:>8.1f}{relayed:>14.2f}"
              f"{d['wire'] * 8 / elapsed / 1e6:>11.2f}{feeds:>7}{per_feed:>10}{int(d['skipped']):>9}")
    print(f"upstream subscriptions per relay node: {subs}; epochs seen at the end: {sorted(e for e in epochs if e)}")
    # 100,000 viewers over 50 nodes: 3 replicas, 47 relays (one tree level: 3 x 16 = 48 >= 47).
    per_node = 100000 / 50
    print(f"\n100,000 viewers over 50 nodes at {stream_rate * 8 / 1e3:.0f} kb/s: {per_node:.0f} viewers per node, "
          f"{per_node * stream_rate * 8 / 1e6:.0f} Mb/s egress to viewers per node; each replica feeds about "
          f"{47 / 3:.0f} relays = {47 / 3 * stream_rate * 8 / 1e6:.1f} Mb/s node-to-node (plus 2 replica copies "
          f"from the primary), against {100000 / 3 * stream_rate * 8 / 1e6:.0f} Mb/s per replica without relays")


if __name__ == "__main__":
    main()
