#!/usr/bin/env python3
"""Media fan-out CPU against nginx-rtmp, side by side in one run (issue 17).

    ops/bench/media_vs_nginx.py [--viewers 20 50] [--seconds 20] [--bitrate 2M] [--media-batch 200ms ...]

The same pre-encoded source (ffmpeg testsrc2, x264 + AAC at --bitrate, encoded once before any
server runs) is pushed with `ffmpeg -re -c copy` to a single Qunbo node (HTTP ingest) and to
nginx with libnginx-mod-rtmp (`worker_processes 1`, RTMP push), one server at a time; the same
number of viewers then copy the stream with `ffmpeg -c copy -f null -` (`stream.ts` over
HTTP from Qunbo, RTMP from nginx). For each, over --seconds:

- server CPU seconds (utime + stime of the node, or of nginx's one worker and master);
- bytes delivered to the viewers: the sum of `bytes_acked` over the server's established
  sockets on its port (`ss -tin`), read before and after;
- CPU seconds per GB delivered, and the ratio Qunbo / nginx.

The viewers' own CPU is not counted (the same ffmpeg copy for both). Installs nginx-light and
libnginx-mod-rtmp with apt when missing. With several --media-batch values, Qunbo runs once per
value (the node's `--media-batch`: how long media gathers before one write to a viewer) against
the same nginx run. QUNBO_BIN=path uses that binary; otherwise
`swift build -c release` runs first.
"""
import argparse, contextlib, os, re, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import release_binary  # noqa: E402
from live_fanout import Node  # noqa: E402

NGINX_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def ensure_nginx():
    if shutil.which("nginx") and os.path.exists(NGINX_MODULE):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light", "libnginx-mod-rtmp"], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except FileNotFoundError:
            pass
    return total


def acked(port):
    """Bytes acknowledged by the peers of every established socket whose local port is `port`."""
    out = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                         text=True).stdout
    return sum(int(m) for m in re.findall(r"bytes_acked:(\d+)", out))


class Nginx:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="qunbo-nginx-")
        self.port = free_port()
        conf = f"""load_module {NGINX_MODULE};
worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.port};
        chunk_size 4096;
        application live {{ live on; record off; }}
    }}
}}
"""
        open(self.dir + "/nginx.conf", "w").write(conf)
        self.proc = subprocess.Popen(["nginx", "-c", self.dir + "/nginx.conf", "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

    def pids(self):
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [self.proc.pid] + [int(p) for p in children]

    def push_url(self):
        return f"rtmp://127.0.0.1:{self.port}/live/s"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def encode_source(bitrate):
    """Encodes the 30 s source once (testsrc2 720p25, x264 at `bitrate`, AAC); returns its path."""
    src = tempfile.mktemp(suffix=".ts")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi",
                    "-i", "sine", "-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", bitrate,
                    "-maxrate", bitrate, "-bufsize", "1M", "-g", "50", "-c:a", "aac", "-b:a", "96k", "-f",
                    "mpegts", src], check=True)
    return src


def qunbo_stream(node, src):
    """The ffmpeg arguments that push `src` to `node`'s live (HTTP ingest) and its stream.ts URL."""
    ingest = f"http://127.0.0.1:{node.port}/v1/groups/g/live/ingest?access_token={node.token('host', 'owner')}"
    view = f"http://127.0.0.1:{node.port}/v1/groups/g/live/stream.ts?access_token={node.token('viewer')}"
    return ["-i", src, "-c", "copy", "-f", "mpegts", "-method", "POST", ingest], view


@contextlib.contextmanager
def streaming(push_args, view_url, viewers):
    """The source pushed in a loop (`ffmpeg -re -c copy`) and `viewers` copy-viewers, settled
    (3 s, then 5 s); yields the viewers' processes, and kills them all on the way out."""
    push = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", *push_args],
                            stdin=subprocess.DEVNULL)
    time.sleep(3)
    views = [subprocess.Popen(["ffmpeg", "-v", "error", "-i", view_url, "-c", "copy", "-f", "null", "-"],
                              stdin=subprocess.DEVNULL) for _ in range(viewers)]
    try:
        time.sleep(5)
        yield views
    finally:
        for p in views + [push]:
            p.kill()
        for p in views + [push]:
            p.wait()


def run(server, push_args, view_url, viewers, seconds, port, pids):
    with streaming(push_args, view_url, viewers) as views:
        alive = sum(1 for v in views if v.poll() is None)
        cpu0, bytes0, t0 = cpu_seconds(pids()), acked(port), time.monotonic()
        time.sleep(seconds)
        cpu1, bytes1, t1 = cpu_seconds(pids()), acked(port), time.monotonic()
        alive = min(alive, sum(1 for v in views if v.poll() is None))
    delivered = bytes1 - bytes0
    return {"server": server, "viewers": viewers, "alive": alive, "cpu": cpu1 - cpu0,
            "mbps": delivered * 8 / (t1 - t0) / 1e6, "per_gb": (cpu1 - cpu0) / max(1e-9, delivered / 1e9)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--viewers", type=int, nargs="+", default=[20, 50])
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--bitrate", default="2M")
    p.add_argument("--media-batch", nargs="+", default=[None], help="the node's --media-batch (default: its own)")
    args = p.parse_args()
    ensure_nginx()
    binary = release_binary()
    src = encode_source(args.bitrate)
    rows = []
    for n in args.viewers:
        for batch in args.media_batch:
            node = Node(binary, extra=("--media-batch", batch) if batch else ())
            try:
                node.start_session()
                push, view = qunbo_stream(node, src)
                row = run("qunbo", push, view, n, args.seconds, node.port, lambda: [node.proc.pid])
                row["server"] = f"qunbo {batch}" if batch else "qunbo"
                rows.append(row)
            finally:
                node.stop()
        nginx = Nginx()
        try:
            rows.append(run("nginx-rtmp", ["-i", src, "-c", "copy", "-f", "flv", nginx.push_url()], nginx.push_url(),
                            n, args.seconds, nginx.port, nginx.pids))
        finally:
            nginx.stop()
    print(f"\nmedia fan-out, one {args.bitrate}b/s stream, ffmpeg copy-viewers, {args.seconds:.0f} s measured, "
          f"{os.cpu_count()} cores shared with the viewers")
    print(f"{'server':>17}{'viewers':>9}{'alive':>7}{'Mb/s out':>10}{'CPU s':>8}{'CPU s/GB':>10}")
    for r in rows:
        print(f"{r['server']:>17}{r['viewers']:>9}{r['alive']:>7}{r['mbps']:>10.0f}{r['cpu']:>8.2f}{r['per_gb']:>10.2f}")
    for n in args.viewers:
        g = next(r for r in rows if r["server"] == "nginx-rtmp" and r["viewers"] == n)
        for q in (r for r in rows if r["server"].startswith("qunbo") and r["viewers"] == n):
            print(f"{n} viewers: {q['server']} / nginx-rtmp CPU per GB = {q['per_gb'] / g['per_gb']:.2f}")


if __name__ == "__main__":
    main()
