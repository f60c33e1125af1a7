#!/usr/bin/env python3
"""RTMP ingest against HTTP-TS ingest: the node's CPU per megabit of media, same source, same run.

One release node with --rtmp-listen. The source is encoded once (x264 720p30 at --mbps, AAC),
kept as FLV and remuxed to MPEG-TS (-c copy: the same frames), then pushed in real time (-re)
alternately over RTMP (ffmpeg -f flv rtmp://…/live/KEY) and over the HTTP ingest (-f mpegts),
one fresh session per push, no viewers, no recording. CPU is the node's user+system time over
the push (/proc/PID/stat), divided by the megabits the node took in (its
qunbo_live_ingest_bytes_total, MPEG-TS after the RTMP side's conversion, so both count the
same bytes).

    QUNBO_BIN=.build-rel/release/qunbo ops/bench/rtmp_ingest.py [--pairs 3] [--seconds 20] [--mbps 4]
"""
import argparse, os, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import release_binary, wait  # noqa: E402
from live_fanout import Node  # noqa: E402


def encode(directory, seconds, mbps):
    flv, ts = f"{directory}/src.flv", f"{directory}/src.ts"
    rate = f"{mbps}M"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "veryfast", "-b:v", rate, "-maxrate", rate, "-bufsize", rate,
                    "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", flv], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", flv, "-c", "copy", "-f", "mpegts", ts], check=True)
    return flv, ts


def push(node, mode, flv, ts, rtmp_port):
    session = node.start_session()
    if mode == "rtmp":
        key = session["ingest"]["streamKey"]
        cmd = ["ffmpeg", "-v", "error", "-re", "-i", flv, "-c", "copy", "-f", "flv",
               f"rtmp://127.0.0.1:{rtmp_port}/live/{key}"]
    else:
        cmd = ["ffmpeg", "-v", "error", "-re", "-i", ts, "-c", "copy", "-f", "mpegts", "-method", "POST",
               f"http://127.0.0.1:{node.port}/v1/groups/g/live/ingest?access_token={node.token('host', 'owner')}"]
    bytes0, cpu0, t0 = node.metric("qunbo_live_ingest_bytes_total"), node.cpu_seconds(), time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode} push failed: {done.stderr}")
    # The last bytes reach the pipeline a moment after ffmpeg exits.
    wait(lambda: node.metric("qunbo_live_ingest_bytes_total") > bytes0, 5, "the ingest to count bytes")
    time.sleep(0.5)
    megabits = (node.metric("qunbo_live_ingest_bytes_total") - bytes0) * 8 / 1e6
    cpu = node.cpu_seconds() - cpu0
    node.request("DELETE", "/live", "host")
    return cpu * 1000 / megabits, megabits / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--mbps", type=float, default=4)
    args = ap.parse_args()
    binary = release_binary()
    work = tempfile.mkdtemp(prefix="qunbo-rtmp-bench-")
    flv, ts = encode(work, args.seconds, args.mbps)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); rtmp_port = s.getsockname()[1]; s.close()
    node = Node(binary, extra=("--rtmp-listen", f"127.0.0.1:{rtmp_port}"))
    results = {"rtmp": [], "http-ts": []}
    try:
        for i in range(args.pairs):
            for mode in (["rtmp", "http-ts"] if i % 2 == 0 else ["http-ts", "rtmp"]):
                per_mb, rate = push(node, mode, flv, ts, rtmp_port)
                results[mode].append(per_mb)
                print(f"pair {i + 1} {mode:8} {per_mb:6.2f} CPU ms per Mb  ({rate:.2f} Mb/s taken in)", flush=True)
    finally:
        node.stop()
    print(f"\ningest CPU of one release node, {args.mbps} Mb/s 720p30 source, {args.pairs} interleaved pairs, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for mode, values in results.items():
        print(f"  {mode:8} median {statistics.median(values):.2f} CPU ms/Mb (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
