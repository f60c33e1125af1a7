#!/usr/bin/env python3
"""Fan-out on one node (release build): event deliveries to SSE viewers, media viewers of a
2 Mb/s stream, memory per idle viewer.

    ops/bench/live_fanout.py events [--viewers 1000 5000] [--rate 100] [--seconds 20]
    ops/bench/live_fanout.py events-c [--viewers 5000] [--rate 100 200 400] [--seconds 15]
    ops/bench/live_fanout.py media  [--viewers 500 1000 2000] [--seconds 20]
    ops/bench/live_fanout.py idle   [--viewers 5000]

The viewers are one Python process reading every socket with epoll (the same 2 cores as the
node, so figures are for node and load together). Loopback only; stops what it starts.
events: comments are POSTed at --rate/s by a writer thread; every viewer counts the events it
  receives; deliveries/s = events delivered to all viewers / time; a sample of 50 viewers
  timestamps each event's arrival for POST-to-delivery latency.
media: ffmpeg pushes a pre-encoded 2 Mb/s TS file (-re -c copy, no encoding cost); each viewer
  must receive >= 95% of the pushed bytes' rate and the node must report no skipped GOP for
  the count to pass; CPU seconds per GB = node CPU time / bytes delivered.
idle: RSS growth of the node per open, idle connection: SSE and stream.ts viewers (default), or
  --kinds tcp keepalive sse media to split the cost.
"""
import argparse, json, os, random, resource, selectors, socket, subprocess, sys, tempfile, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pacedwriter import paced_posts  # noqa: E402
from benchlib import release_binary  # noqa: E402
SECRET = "bench-secret-0123456789-abcdefghijklmnop"


class Node:
    def __init__(self, binary, extra=()):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.binary = binary
        s = socket.socket(); s.bind(("127.0.0.1", 0)); self.port = s.getsockname()[1]; s.close()
        self.dir = tempfile.mkdtemp(prefix="qunbo-fanout-")
        self.proc = subprocess.Popen([binary, "node", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir,
                                      "--auth-secret", SECRET, "--log-level", "warning", "--idle-timeout", "10m",
                                      # Every viewer comes from 127.0.0.1 as one user: the per-IP
                                      # and per-user limits would refuse all but the first few.
                                      "--max-connections-per-ip", "1000000", "--max-connections", "1000000",
                                      "--max-viewers-per-user", "10000", *extra],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir + "/log", "w"))
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        self.tokens = {}

    def token(self, user, role="member"):
        """An HS256 token minted here (the same format `qunbo token` prints; tested there)."""
        if user not in self.tokens:
            import base64, hashlib, hmac
            b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
            head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
            body = b64(json.dumps({"sub": user, "groups": {"g": role}, "exp": int(time.time()) + 7200}).encode())
            sig = b64(hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
            self.tokens[user] = f"{head}.{body}.{sig}"
        return self.tokens[user]

    def request(self, method, path, user, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/groups/g{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {self.token(user)}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def start_session(self):
        self.token("host", "owner")
        return self.request("POST", "/live", "host", {"title": "bench"})

    def metric(self, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics").read().decode()
        return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name))

    def cpu_seconds(self):
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def open_viewers(node, n, path, token):
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", node.port))
        s.sendall(f"GET /v1/groups/g{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    return sel, socks


def paced_writer(port, tokens, rate, end, out):
    """The comment writer's process: sends {seq: send time} of every 201 to `out` at the end."""
    codes, sent = paced_posts(port, "/v1/groups/g/live/comments", tokens, rate, end,
                              lambda n: json.dumps({"text": f"m{n}", "id": f"k{n}"}).encode())
    out.put(sent)


def events(args, binary):
    rows = []
    for n in args.viewers:
        node = Node(binary)
        try:
            node.start_session()
            sel, socks = open_viewers(node, n, "/live/events", node.token("viewer"))
            counts = [0] * n
            sample = set(random.sample(range(n), min(50, n)))
            arrivals = {}
            sent = {}
            tail = {i: b"" for i in sample}
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline or node.metric("qunbo_live_viewers") < n:
                for key, _ in sel.select(0.1):
                    key.fileobj.recv(1 << 16)
                if time.monotonic() > deadline + 20:
                    break
            # The writer is its own process: in this one it would share the GIL with the loop
            # reading every viewer, and the load it could offer would depend on that loop.
            import multiprocessing as mp
            ctx = mp.get_context("fork")
            results = ctx.Queue()
            tokens = [node.token(f"w{i}") for i in range(1024)]  # per-user rate limits
            t0 = time.monotonic()
            writer = ctx.Process(target=paced_writer,
                                 args=(node.port, tokens, args.rate, t0 + args.seconds, results), daemon=True)
            writer.start()
            while time.monotonic() - t0 < args.seconds:
                for key, _ in sel.select(0.05):
                    i = key.data
                    try:
                        data = key.fileobj.recv(1 << 18)
                    except BlockingIOError:
                        continue
                    counts[i] += data.count(b"\nevent: comment")
                    if i in sample:
                        now = time.monotonic()
                        buf = tail[i] + data
                        for part in buf.split(b"\nid: ")[1:]:
                            line = part.split(b"\n", 1)[0]
                            if line.isdigit():
                                arrivals.setdefault(int(line), []).append(now)
                        tail[i] = buf[-64:]
            elapsed = time.monotonic() - t0
            sent = results.get(timeout=30)
            writer.join(5)
            total = sum(counts)
            lat = sorted(a - sent[s] for s, lst in arrivals.items() if s in sent for a in lst)
            p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
            rows.append((n, len(sent), total, total / elapsed, p(0.5), p(0.99)))
            for s in socks:
                s.close()
        finally:
            node.stop()
    print(f"\nevent fan-out, one node, {os.cpu_count()} cores shared with the load generator")
    print(f"{'viewers':>8}{'events':>8}{'deliveries':>12}{'per s':>12}{'p50 ms':>9}{'p99 ms':>9}")
    for r in rows:
        print(f"{r[0]:>8}{r[1]:>8}{r[2]:>12}{r[3]:>12.0f}{r[4]:>9.1f}{r[5]:>9.1f}")


def events_c(args, binary):
    """`events` with the load side in C: ops/bench/sseload.c holds every viewer in one epoll
    loop and measures every delivery (not a sample), ops/bench/latencyprobe.c posts the
    comments (`{"text": "t=<ns>"}`, paced, 1,024 users for the per-user limit). Several rates
    per viewer count show where deliveries per second saturate."""
    from benchlib import c_tool
    sseload, probe = c_tool("sseload"), c_tool("latencyprobe")
    rows = []
    for n in args.viewers:
        for rate in args.rate:
            node = Node(binary)
            try:
                node.start_session()
                tokens = tempfile.NamedTemporaryFile("w", delete=False, suffix=".tokens")
                tokens.write("\n".join(node.token(f"w{i}") for i in range(1024)) + "\n")
                tokens.close()
                viewers = subprocess.Popen([sseload, str(node.port), "/v1/groups/g/live/events",
                                            node.token("viewer"), str(n), str(args.seconds)],
                                           stdout=subprocess.PIPE, text=True)
                ready = viewers.stdout.readline().split()
                if not ready or ready[0] != "ready":
                    raise SystemExit(f"sseload did not get ready: {ready}")
                cpu0, t0 = node.cpu_seconds(), time.monotonic()
                # The writer stops a second early: what it posted last still arrives in the window.
                writer = subprocess.run([probe, "write", str(node.port), "/v1/groups/g/live/comments", tokens.name,
                                         str(rate), str(max(1, args.seconds - 1)), "64", "spread"],
                                        capture_output=True, text=True)
                out = viewers.communicate(timeout=args.seconds + 60)[0].split()
                cpu = node.cpu_seconds() - cpu0
                wall = time.monotonic() - t0
                os.unlink(tokens.name)
                fields = dict(zip(out[0::2], out[1::2]))
                rows.append((n, int(ready[1]), rate, writer.stdout.strip(), int(fields["deliveries"]),
                             float(fields["per_s"]), float(fields["p50_ms"]), float(fields["p99_ms"]),
                             float(fields["max_ms"]), int(fields["min_per_viewer"]), cpu / wall))
            finally:
                node.stop()
    print(f"\nevent fan-out, one node, load side in C, {os.cpu_count()} cores shared with it; "
          f"latency = POST sent -> event read, every delivery")
    print(f"{'viewers':>8}{'open':>7}{'rate':>6}{'deliveries':>12}{'per s':>10}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'max ms':>8}{'min/viewer':>11}{'node CPU':>9}  writer")
    for r in rows:
        print(f"{r[0]:>8}{r[1]:>7}{r[2]:>6}{r[4]:>12}{r[5]:>10.0f}{r[6]:>8.1f}{r[7]:>8.1f}{r[8]:>8.1f}"
              f"{r[9]:>11}{r[10]:>9.2f}  {r[3]}")


def media(args, binary):
    src = tempfile.mktemp(suffix=".ts")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi",
                    "-i", "sine", "-t", str(args.seconds + 15), "-c:v", "libx264", "-preset", "ultrafast", "-b:v",
                    "1900k", "-maxrate", "2M", "-bufsize", "1M", "-g", "25", "-c:a", "aac", "-b:a", "96k", "-f",
                    "mpegts", src], check=True)
    rate = os.path.getsize(src) / (args.seconds + 15)
    rows = []
    for n in args.viewers:
        node = Node(binary)
        try:
            node.start_session()
            push = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy", "-f", "mpegts",
                                     "-method", "POST",
                                     f"http://127.0.0.1:{node.port}/v1/groups/g/live/ingest?access_token={node.token('host', 'owner')}"])
            time.sleep(2)
            sel, socks = open_viewers(node, n, "/live/stream.ts", node.token("viewer"))
            got = [0] * n
            cpu0 = node.cpu_seconds()
            skipped0 = node.metric("qunbo_live_gops_skipped_total")
            t0 = time.monotonic()
            while time.monotonic() - t0 < args.seconds:
                for key, _ in sel.select(0.05):
                    try:
                        got[key.data] += len(key.fileobj.recv(1 << 18))
                    except BlockingIOError:
                        pass
            elapsed = time.monotonic() - t0
            cpu = node.cpu_seconds() - cpu0
            skipped = node.metric("qunbo_live_gops_skipped_total") - skipped0
            slow = sum(1 for g in got if g / elapsed < 0.95 * rate)
            total = sum(got)
            rows.append((n, rate * 8 / 1e6, total / elapsed * 8 / 1e6, slow, int(skipped), cpu / (total / 1e9)))
            push.kill()
            for s in socks:
                s.close()
        finally:
            node.stop()
    print(f"\nmedia fan-out of a {rows[0][1]:.2f} Mb/s stream, one node, {os.cpu_count()} cores shared with the load")
    print(f"{'viewers':>8}{'Mb/s out':>10}{'slow':>6}{'GOPs skipped':>14}{'CPU s/GB':>10}")
    for r in rows:
        print(f"{r[0]:>8}{r[2]:>10.0f}{r[3]:>6}{r[4]:>14}{r[5]:>10.1f}")


def idle(args, binary):
    """RSS per idle connection of each kind, so the viewer's cost can be split: a bare TCP
    connection (accepted, nothing sent), an idle keep-alive HTTP/1.1 connection (one /healthz
    answered), an idle SSE viewer (the session publishes nothing), an idle stream.ts viewer
    (no ingest)."""
    for n in args.viewers:
        for kind in args.kinds:
            node = Node(binary)
            try:
                node.start_session()
                time.sleep(1)
                before = node.rss_kib()
                if kind in ("sse", "media"):
                    path = "/live/events" if kind == "sse" else "/live/stream.ts"
                    sel, socks = open_viewers(node, n, path, node.token("viewer"))
                    ready = lambda: node.metric("qunbo_live_viewers") >= n
                else:
                    sel, socks = selectors.DefaultSelector(), []
                    for i in range(n):
                        s = socket.create_connection(("127.0.0.1", node.port))
                        if kind == "keepalive":
                            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        s.setblocking(False)
                        sel.register(s, selectors.EVENT_READ, i)
                        socks.append(s)
                    opened = "qunbo_http_open_connections"
                    ready = lambda: node.metric(opened) >= n if kind == "keepalive" else True
                t0 = time.monotonic()
                while not ready() and time.monotonic() - t0 < 60:
                    for key, _ in sel.select(0.1):
                        key.fileobj.recv(1 << 16)
                time.sleep(2)
                for key, _ in sel.select(0.1):
                    key.fileobj.recv(1 << 16)
                after = node.rss_kib()
                print(f"idle {kind} connections: {n}, node RSS {before} -> {after} KiB: "
                      f"{(after - before) / n:.1f} KiB per connection")
                for s in socks:
                    s.close()
            finally:
                node.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("events"); e.add_argument("--viewers", type=int, nargs="+", default=[1000, 5000])
    e.add_argument("--rate", type=int, default=100); e.add_argument("--seconds", type=int, default=20)
    c = sub.add_parser("events-c"); c.add_argument("--viewers", type=int, nargs="+", default=[5000])
    c.add_argument("--rate", type=int, nargs="+", default=[100]); c.add_argument("--seconds", type=int, default=15)
    m = sub.add_parser("media"); m.add_argument("--viewers", type=int, nargs="+", default=[500, 1000, 2000])
    m.add_argument("--seconds", type=int, default=20)
    i = sub.add_parser("idle"); i.add_argument("--viewers", type=int, nargs="+", default=[5000])
    i.add_argument("--kinds", nargs="+", default=["sse", "media"], choices=["tcp", "keepalive", "sse", "media"])
    args = ap.parse_args()
    binary = release_binary()
    {"events": events, "events-c": events_c, "media": media, "idle": idle}[args.cmd](args, binary)


if __name__ == "__main__":
    main()
