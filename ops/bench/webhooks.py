#!/usr/bin/env python3
"""Webhook delivery on a real cluster (issue 16; release build, loopback): how soon a receiver
hears of a committed tip, and what a slow receiver costs the writes.

    ops/bench/webhooks.py latency [--nodes 3] [--replicas 3] [--rate 200] [--seconds 20] [--conns 16]
    ops/bench/webhooks.py slow    [--nodes 3] [--replicas 3] [--lives 20] [--rate 200] [--seconds 20]
                                  [--conns 8] [--delay 2] [--first without|with]
    ops/bench/webhooks.py receive --out FILE [--delay 0] [--secret S]   (the receiver; the two above start it)

latency: nodes with `--webhook-url` pointing at a fast receiver (a separate Python process,
  asyncio, answering 200 at once and closing: the node's client sends `Connection: close`), one
  live (`POST /v1/groups/g/live`), then tips at --rate/s for --seconds POSTed at the primary by
  many users (one user's writes are rate limited: 5 at once, 2/s), each with its own `id`.
  The receiver writes `arrival_unix_ns at_ms id type` per delivery; the latency is arrival - `at`,
  and `at` is the causing event's time at the primary: when it decided the tip, about one
  replication round (the majority fsync) BEFORE the commit, so these figures include the commit
  round; the tips' own write latency (send -> 201, i.e. to the commit) is printed beside them.
  Prints p50/p99/max, deliveries/s, duplicate ids, deliveries out of their log's order,
  signatures that do not verify, the nodes' own `qunbo_webhook_delivery_seconds` histogram
  (quantiles estimated from its buckets) and the backlog left. (`at` has whole milliseconds:
  the figures are up to 1 ms high.)
slow: a receiver that holds every request --delay s (served concurrently) and the same tip load
  spread over --lives lives (groups g0..g(N-1): a log's deliveries are sequential, so one live
  gets at most 1/delay deliveries/s), POSTed round-robin at every node, twice in one run: on a
  cluster WITHOUT webhooks, then on a fresh cluster WITH webhooks to the slow receiver (--first
  with: the other way round, to see the order's effect); same rate, same seconds, same plan. Prints the writes' p50/p99 of both, the deliveries/s the slow
  receiver got during the load, its most requests at once, and `qunbo_webhook_backlog` at the end.

The tips are sent by ops/bench/grabprobe.c (a plan line per request with its body; it times each
request from its write to its answer). Both modes scan the nodes' logs (level warning) before
tearing down and print what they hold.

QUNBO_BIN=path uses that binary; otherwise `swift build -c release` runs first. Each cluster
lives in a temporary QUNBO_CLUSTER_DIR and is torn down at the end, also on failure
(QUNBO_BENCH_KEEP=1 keeps it); the receiver is stopped too.
"""
import argparse, asyncio, datetime, hashlib, hmac, json, os, re, signal, subprocess, sys, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "cluster"))
from chaoslib import mint_token  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import wait  # noqa: E402
from redpacket_grabs import grabprobe, run_probe  # noqa: E402
from replication import Cluster, cpu_seconds, primary_of  # noqa: E402


# ---------------------------------------------------------------------------------------------
# The receiver (its own process, so its CPU and event loop are not the harness's).

def at_millis(at):
    """RFC 3339 with milliseconds ("2026-12-03T20:00:00.125Z") -> Unix ms."""
    return round(datetime.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)


def verified(header, body, secret):
    """Qunbo-Signature `t=..,v1=..[,v1=..]`: one v1 is HMAC-SHA256(secret, t + "." + body)."""
    if not secret:
        return True
    parts = [p.split("=", 1) for p in (header or "").split(",") if "=" in p]
    t = next((v for k, v in parts if k.strip() == "t"), None)
    if t is None:
        return False
    want = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(k.strip() == "v1" and hmac.compare_digest(v.strip(), want) for k, v in parts)


def receive(args):
    out = open(args.out, "a", buffering=1)

    async def read_body(reader, headers):
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                body += await reader.readexactly(size + 2)
                if size == 0:
                    return body[:-2]
                body = body[:-2]
        return await reader.readexactly(int(headers.get("content-length", "0")))

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k:
                        headers[k.strip().lower()] = v.strip()
                body = await read_body(reader, headers)
                arrival = time.time_ns()
                try:
                    doc = json.loads(body)
                    line = f"{arrival} {at_millis(doc['at'])} {doc['id']} {doc['type']}"
                except Exception:
                    line = f"{arrival} 0 unparsable -"
                if not verified(headers.get("qunbo-signature"), body, args.secret):
                    line += " BADSIG"
                out.write(line + "\n")
                if args.delay > 0:
                    await asyncio.sleep(args.delay)
                close = headers.get("connection", "").lower() == "close"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                             + (b"Connection: close\r\n" if close else b"") + b"\r\n")
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # cancelled: the receiver is stopping with requests held
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print("listening", server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(serve())
    out.close()


class Receiver:
    """Starts `webhooks.py receive` and reads what it logged."""

    def __init__(self, delay, secret, tag):
        self.file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"qunbo-webhooks-{tag}-{os.getpid()}.log")
        open(self.file, "w").close()
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "receive", "--out", self.file,
                                      "--delay", str(delay), "--secret", secret], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()  # Python may take a while to start on a busy machine
        if len(line) != 2 or line[0] != "listening":
            self.stop()
            raise SystemExit(f"the receiver did not start: {line}")
        self.url = f"http://127.0.0.1:{line[1]}/hook"

    def lines(self):
        """[(arrival_ns, at_ms, id, type, signature ok)] in arrival order."""
        rows = []
        for l in open(self.file):
            f = l.split()
            if len(f) >= 4:
                rows.append((int(f[0]), int(f[1]), f[2], f[3], len(f) == 4))
        return rows

    def count(self, kind):
        return sum(1 for r in self.lines() if r[3] == kind)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        try:
            os.unlink(self.file)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Cluster helpers.

def start_cluster(n, extra):
    """Cluster(n, extra), torn down if it does not come up (a node refusing a flag, say)."""
    c = Cluster.__new__(Cluster)
    try:
        Cluster.__init__(c, n, extra=extra)
    except BaseException:
        if hasattr(c, "env"):
            c.down()
        raise
    return c


def metrics_text(c, node):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{c.port(node)}/metrics", timeout=5).read().decode()
    except Exception:
        return ""


def metric_sum(c, nodes, name):
    return sum(float(l.split()[-1]) for n in nodes for l in metrics_text(c, n).splitlines() if l.startswith(name))


def histogram(c, nodes, name="qunbo_webhook_delivery_seconds"):
    """Cumulative buckets {le: count} summed over nodes, and the count."""
    buckets, count = {}, 0.0
    for n in nodes:
        for l in metrics_text(c, n).splitlines():
            if l.startswith(name + "_bucket"):
                m = re.search(r'le="([^"]+)"', l)
                if m:
                    le = float(m.group(1))
                    buckets[le] = buckets.get(le, 0.0) + float(l.split()[-1])
            elif l.startswith(name + "_count"):
                count += float(l.split()[-1])
    return buckets, count


def histogram_quantile(before, after, q):
    """Prometheus's histogram_quantile over the delta of two scrapes (linear within a bucket)."""
    b = sorted((le, after[0].get(le, 0) - before[0].get(le, 0)) for le in after[0])
    total = after[1] - before[1]
    if total <= 0 or not b:
        return None
    rank, lo, below = q * total, 0.0, 0.0
    for le, cum in b:
        if cum >= rank:
            if le == float("inf"):
                return lo
            return lo + (le - lo) * (rank - below) / max(cum - below, 1e-9)
        lo, below = le, cum
    return lo


def out_of_order(rows):
    """Deliveries whose seq is below an earlier delivery's of the same log (ids `<session>-<seq>`)."""
    last, n = {}, 0
    for r in rows:
        log, _, seq = r[2].removesuffix("-replay").rpartition("-")
        if not seq.isdigit():
            continue
        if int(seq) < last.get(log, 0):
            n += 1
        last[log] = max(last.get(log, 0), int(seq))
    return n


def pct(xs, p):
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def owner_token(c, user, groups, role):
    return mint_token(c.secret, user, groups={g: role for g in groups}, ttl=7200)


def post(c, node, path, body, token):
    req = urllib.request.Request(f"http://127.0.0.1:{c.port(node)}{path}", method="POST",
                                 data=json.dumps(body).encode(), headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.load(r)


def lives_serving(c, nodes, groups):
    """{group: primary} once every group's live has a primary and every replica serves it."""
    held = {n: c.sessions(n) for n in nodes}
    primaries = {}
    for n, ss in held.items():
        for s in ss:
            if s["group"] in groups and not s["ended"] and s["role"] == "primary":
                primaries[s["group"]] = (n, s)
    if len(primaries) < len(groups):
        return None
    for g, (n, s) in primaries.items():
        for m in s["members"]:
            if not any(x["group"] == g and not x["ended"] and x["committedSeq"] >= 1 for x in held.get(m, [])):
                return None
    return {g: n for g, (n, s) in primaries.items()}


def scan_logs(c, nodes):
    """The nodes' logs (level warning and up): how many lines each, and the first few."""
    report = []
    for n in nodes:
        try:
            lines = [l.rstrip() for l in open(f"{c.dir}/{n}/node.log", errors="replace") if l.strip()]
        except OSError:
            lines = []
        report.append(f"{n} {len(lines)}")
        for l in lines[:3]:
            print(f"  {n} log: {l[:300]}")
    print("node log lines (warning and up): " + ", ".join(report), flush=True)


def tip_plan(tokens, groups, n):
    """n tips, each by the next user in turn on the next group in turn, each with its own id."""
    return [f"POST /v1/groups/{groups[i % len(groups)]}/live/tips {tokens[i % len(tokens)]} "
            f'{{"amount":100,"currency":"CNY","id":"t{i}"}}' for i in range(n)]


def users_for(rate):
    # A user's tips on one live: 5 at once, refilled at 2/s (API.md); 2 x rate users in turn
    # send each 0.5 tips/s, whichever lives they land on.
    return max(100, int(2 * rate))


# ---------------------------------------------------------------------------------------------
# The measurements.

def latency(args):
    probe = grabprobe()
    secret = os.urandom(16).hex()
    rx = Receiver(0, secret, "fast")
    c = None
    try:
        c = start_cluster(args.nodes, extra=("--replicas", str(args.replicas), "--webhook-url", rx.url,
                                       "--webhook-secret", secret))
        nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
        c.call("n1", "POST", "/v1/groups/g/live", {"title": "webhooks"})
        primary = wait(lambda: lives_serving(c, nodes, ["g"]), 15, "the live served by every replica")["g"]
        wait(lambda: rx.count("live.started"), 15, "live.started at the receiver")
        users = users_for(args.rate)
        tokens = [c.token(f"u{i}", "member") for i in range(users)]
        plan = tip_plan(tokens, ["g"], int(args.rate * args.seconds))
        h0 = histogram(c, nodes)
        cpu0 = {n: cpu_seconds(c.pid(n)) for n in nodes}
        rx_cpu0 = cpu_seconds(rx.proc.pid)
        load0 = os.getloadavg()[0]
        g = run_probe(probe, plan, [c.port(primary)], args.conns, args.rate, args.seconds)
        cpu1 = {n: cpu_seconds(c.pid(n)) for n in nodes}
        rx_cpu1 = cpu_seconds(rx.proc.pid)
        took = g["codes"].get(201, 0)
        end = time.monotonic() + 60
        while time.monotonic() < end and rx.count("tip") < took:
            time.sleep(0.2)
        time.sleep(2)  # a late duplicate would come now
        backlog = metric_sum(c, nodes, "qunbo_webhook_backlog")
        h1 = histogram(c, nodes)
        attempts = {r: metric_sum(c, nodes, f'qunbo_webhook_attempts_total{{result="{r}"}}')
                    for r in ("ok", "failed", "timeout")}
        rows = rx.lines()
        tips = [r for r in rows if r[3] == "tip"]
        seen, first, dups = set(), [], 0
        for r in tips:
            if r[2] in seen:
                dups += 1
            else:
                seen.add(r[2])
                first.append(r)
        lat = sorted(r[0] / 1e6 - r[1] for r in first)
        span = (first[-1][0] - first[0][0]) / 1e9 if len(first) > 1 else float("nan")
        bad = sum(1 for r in rows if not r[4])
        all_ids = [r[2] for r in rows]
        dups_all = len(all_ids) - len(set(all_ids))
        print(f"tips: {int(g['answered'])} answered in {g['seconds']:.1f} s at the primary {primary} "
              f"({args.nodes} nodes, {args.replicas} replicas, {users} users, paced at {args.rate:.0f}/s), "
              f"codes {g['codes']}, skipped {int(g['skipped'])}; write latency (send -> 201, the commit) "
              f"p50 {g['p50_ms']:.1f} ms, p99 {g['p99_ms']:.1f} ms, max {g['max_ms']:.1f} ms", flush=True)
        print(f"webhook latency (`at` at the primary -> receiver): {len(first)} tips delivered of {took} committed, "
              f"p50 {pct(lat, 0.5):.1f} ms, p90 {pct(lat, 0.9):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, "
              f"max {lat[-1] if lat else float('nan'):.1f} ms; {len(first) / span:.0f} deliveries/s "
              f"(first to last tip delivery, {span:.1f} s); duplicate ids {dups} (all types {dups_all}); "
              f"bad signatures {bad}; out of order {out_of_order(rows)}; "
              f"backlog after {backlog:.0f}", flush=True)
        q = [histogram_quantile(h0, h1, x) for x in (0.5, 0.99)]
        fmt = lambda v: "n/a" if v is None else f"{v * 1000:.1f} ms"
        print(f"node histogram qunbo_webhook_delivery_seconds (`at` -> 2xx, bucket estimate): "
              f"{h1[1] - h0[1]:.0f} deliveries, p50 ~{fmt(q[0])}, p99 ~{fmt(q[1])}; attempts {attempts}", flush=True)
        cpus = ", ".join(f"{n}{'*' if n == primary else ''} {(cpu1[n] - cpu0[n]) / g['seconds']:.2f}" for n in nodes)
        print(f"node CPU (cores, * primary): {cpus}; receiver {(rx_cpu1 - rx_cpu0) / g['seconds']:.2f}; "
              f"probe {g['cpu_s'] / g['seconds']:.2f}; load average {load0:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after", flush=True)
        scan_logs(c, nodes)
    finally:
        if c:
            c.down()
        rx.stop()


def slow(args):
    probe = grabprobe()
    secret = os.urandom(16).hex()
    groups = [f"g{k}" for k in range(args.lives)]
    rx = Receiver(args.delay, secret, "slow")
    results = []
    try:
        for hooks in ((False, True) if args.first == "without" else (True, False)):
            label = f"WITH webhooks to a {args.delay:g} s receiver" if hooks else "WITHOUT webhooks"
            extra = ("--replicas", str(args.replicas))
            if hooks:
                extra += ("--webhook-url", rx.url, "--webhook-secret", secret)
            c = start_cluster(args.nodes, extra)
            try:
                nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
                host = owner_token(c, "host", groups, "owner")
                for grp in groups:
                    post(c, "n1", f"/v1/groups/{grp}/live", {"title": "webhooks " + grp}, host)
                primaries = wait(lambda: lives_serving(c, nodes, groups), 30, "every live served by its replicas")
                users = users_for(args.rate)
                tokens = [owner_token(c, f"u{i}", groups, "member") for i in range(users)]
                plan = tip_plan(tokens, groups, int(args.rate * args.seconds))
                time.sleep(3 if hooks else 0)  # the live.started deliveries out of the way
                n0 = len(rx.lines())
                cpu0 = {n: cpu_seconds(c.pid(n)) for n in nodes}
                load0 = os.getloadavg()[0]
                t0 = time.time_ns()
                g = run_probe(probe, plan, [c.port(n) for n in nodes], args.conns, args.rate, args.seconds)
                t1 = time.time_ns()
                cpu1 = {n: cpu_seconds(c.pid(n)) for n in nodes}
                line = (f"{label}: {int(g['answered'])} tips answered in {g['seconds']:.1f} s over {args.lives} lives "
                        f"(primaries: {', '.join(f'{n} {list(primaries.values()).count(n)}' for n in nodes)}), "
                        f"round-robin at {args.nodes} nodes, "
                        f"paced at {args.rate:.0f}/s, codes {g['codes']}, skipped {int(g['skipped'])}; write latency "
                        f"p50 {g['p50_ms']:.1f} ms, p90 {g['p90_ms']:.1f} ms, p99 {g['p99_ms']:.1f} ms, "
                        f"max {g['max_ms']:.1f} ms; node CPU {sum(cpu1[n] - cpu0[n] for n in nodes) / g['seconds']:.2f} "
                        f"cores; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
                print(line, flush=True)
                r = {"label": label, "p50": g["p50_ms"], "p99": g["p99_ms"]}
                if hooks:
                    backlog = metric_sum(c, nodes, "qunbo_webhook_backlog")
                    attempts = {k: metric_sum(c, nodes, f'qunbo_webhook_attempts_total{{result="{k}"}}')
                                for k in ("ok", "failed", "timeout")}
                    rows = rx.lines()[n0:]
                    during = [x for x in rows if t0 <= x[0] <= t1 and x[3] == "tip"]
                    arrivals = sorted(x[0] for x in rows)
                    most, j = 0, 0
                    for i, a in enumerate(arrivals):  # requests held at once: arrived within --delay
                        while j < i and arrivals[j] < a - args.delay * 1e9:
                            j += 1
                        most = max(most, i - j + 1)
                    ids = [x[2] for x in rows]
                    per_live = args.lives / args.delay if args.delay > 0 else 0
                    print(f"  slow receiver: {len(during)} tip deliveries during the load = "
                          f"{len(during) / ((t1 - t0) / 1e9):.1f}/s"
                          + (f" (ceiling {per_live:.1f}/s: {args.lives} lives x 1/{args.delay:g} s)" if args.delay > 0 else "")
                          + f"; at most {most} requests held at once; duplicates "
                          f"{len(ids) - len(set(ids))}; out of order {out_of_order(rows)}; bad signatures {sum(1 for x in rows if not x[4])}; "
                          f"qunbo_webhook_backlog at the end {backlog:.0f} (committed tips not yet acknowledged); "
                          f"attempts {attempts}", flush=True)
                    r.update(rate=len(during) / ((t1 - t0) / 1e9), backlog=backlog)
                results.append(r)
                scan_logs(c, nodes)
            finally:
                c.down()
        a, b = sorted(results, key=lambda r: "rate" in r)  # without, with
        print(f"write p99 with webhooks to the slow receiver {b['p99']:.1f} ms vs without {a['p99']:.1f} ms "
              f"({b['p99'] - a['p99']:+.1f} ms); p50 {b['p50']:.1f} vs {a['p50']:.1f} ms; "
              f"slow receiver got {b['rate']:.1f} deliveries/s, backlog {b['backlog']:.0f} at the end", flush=True)
    finally:
        rx.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("latency")
    l.add_argument("--nodes", type=int, default=3)
    l.add_argument("--replicas", type=int, default=3)
    l.add_argument("--rate", type=float, default=200, help="tips/s, paced")
    l.add_argument("--seconds", type=float, default=20)
    l.add_argument("--conns", type=int, default=16, help="keep-alive connections to the primary")
    s = sub.add_parser("slow")
    s.add_argument("--nodes", type=int, default=3)
    s.add_argument("--replicas", type=int, default=3)
    s.add_argument("--lives", type=int, default=20, help="lives g0..g(N-1), the tips spread over them")
    s.add_argument("--rate", type=float, default=200, help="tips/s, paced")
    s.add_argument("--seconds", type=float, default=20)
    s.add_argument("--conns", type=int, default=8, help="keep-alive connections per node")
    s.add_argument("--delay", type=float, default=2, help="seconds the slow receiver holds each request")
    s.add_argument("--first", choices=["without", "with"], default="without",
                   help="which cluster runs first (the other one right after it)")
    r = sub.add_parser("receive")
    r.add_argument("--out", required=True)
    r.add_argument("--delay", type=float, default=0)
    r.add_argument("--secret", default="")
    args = p.parse_args()
    {"latency": latency, "slow": slow, "receive": receive}[args.cmd](args)


if __name__ == "__main__":
    main()
