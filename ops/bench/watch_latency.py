#!/usr/bin/env python3
"""Glass-to-glass latency in Chromium: from a frame's arrival at the ingest node to its display.

The source (640x360, 25 fps, x264 with a 1 s GOP, AAC) carries its frame number as a 16-bit
barcode in its top 24 rows (ffmpeg's geq filter, encoded once). It is pushed in real time
(-re -c copy) to one release node's HTTP ingest; frame N reaches the node at T0 + N/25, where T0
is when the node first counted ingest bytes (polled every 5 ms). Debian's Chromium, driven by
Playwright, plays the live and, on every frame it presents (requestVideoFrameCallback), reads the
barcode back from a canvas and notes the frame's expected display time on the wall clock.
Latency = display time - (T0 + N/25), for every frame displayed after the first 3 s.

Players, each in its own fresh session, in the same run:
  page   the watch page /watch/g (MSE from stream.mp4, as viewers get it)
  mse    a bare page appending stream.mp4 to a SourceBuffer (sequence mode), nothing else
  hls    a bare page playing index.m3u8 as hls.js does (Chromium's own HLS player does not parse
         these TS segments: DEMUXER_ERROR_COULD_NOT_PARSE), polling the playlist every 250 ms
         and starting at the newest segment

    QUNBO_BIN=.build-rel/release/qunbo ops/bench/watch_latency.py [--seconds 30] [--players page,mse,hls] [--runs 2]
"""
import argparse, os, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import release_binary, wait  # noqa: E402
from live_fanout import Node  # noqa: E402

FPS = 25
BITS = 16
BARCODE = (f"geq=lum='if(lt(Y,24),if(bitand(floor(N/pow(2,floor(X/40))),1),235,16),lum(X,Y))'"
           f":cb='if(lt(Y,12),128,cb(X,Y))':cr='if(lt(Y,12),128,cr(X,Y))'")

# Reads the barcode of every presented frame: [frame number, wall-clock display time in ms].
PROBE = """
(video) => {
  window.__frames = [];
  const canvas = document.createElement('canvas');
  canvas.width = 640; canvas.height = 24;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const onFrame = (now, meta) => {
    ctx.drawImage(video, 0, 0, 640, 24, 0, 0, 640, 24);
    const px = ctx.getImageData(0, 0, 640, 24).data;
    let n = 0;
    for (let b = 0; b < %d; b++) { if (px[(12 * 640 + b * 40 + 20) * 4] > 128) n |= 1 << b; }
    window.__frames.push([n, performance.timeOrigin + meta.expectedDisplayTime]);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}
""" % BITS

# Both bare players append to one SourceBuffer in sequence mode and keep up with the live edge
# the same way; they differ only in what they fetch.
PLAYER = """
<video id="v" muted autoplay playsinline></video>
<script>
const token = '%s', base = '/v1/groups/g/live/', kind = '%s';
const video = document.getElementById('v');
const ms = new MediaSource();
video.src = URL.createObjectURL(ms);
const auth = { headers: { Authorization: 'Bearer ' + token } };
ms.addEventListener('sourceopen', async () => {
  const type = kind === 'mse' ? 'video/mp4' : 'video/mp2t';
  const sb = ms.addSourceBuffer(type + '; codecs="avc1.64001e,mp4a.40.2"');
  sb.mode = 'sequence';
  const queue = [];
  const pump = () => { if (!sb.updating && queue.length) sb.appendBuffer(queue.shift()); };
  sb.addEventListener('updateend', () => {
    pump();
    const end = sb.buffered.length ? sb.buffered.end(sb.buffered.length - 1) : 0;
    // stream.mp4 arrives frame by frame: stay within 1 s of the edge. HLS arrives 2 s at a time
    // and plays on from the segment it started at (as hls.js, which seeks only when far behind).
    const behind = kind === 'mse' ? 1.0 : 8.0;
    if (end - video.currentTime > behind) video.currentTime = end - 0.1;
    video.play().catch(() => {});
  });
  if (kind === 'mse') {
    const reader = (await fetch(base + 'stream.mp4', auth)).body.getReader();
    for (;;) { const { value, done } = await reader.read(); if (done) break; queue.push(value); pump(); }
    return;
  }
  // A minimal live HLS player (what hls.js does, without its 3-segment safety margin): poll the
  // playlist, fetch each new segment once, starting at the newest.
  let next = -1;
  for (;;) {
    const res = await fetch(base + 'index.m3u8', auth);
    if (res.ok) {
      const text = await res.text();
      const first = +(text.match(/#EXT-X-MEDIA-SEQUENCE:(\\d+)/) || [0, 0])[1];
      const uris = text.split('\\n').filter(l => l && !l.startsWith('#'));
      if (next < 0) next = first + uris.length - 1;
      for (let i = Math.max(next, first); i < first + uris.length; i++) {
        queue.push(await (await fetch(base + uris[i - first], auth)).arrayBuffer());
        pump();
        next = i + 1;
      }
    }
    await new Promise(r => setTimeout(r, 250));
  }
});
</script>
"""


def encode(directory, seconds):
    path = f"{directory}/barcode.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                    "-vf", BARCODE, "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", str(FPS),
                    "-keyint_min", str(FPS), "-sc_threshold", "0", "-b:v", "1M", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "96k", "-f", "mpegts", path], check=True)
    return path


def measure(node, browser, player, source, seconds):
    node.start_session()
    viewer = node.token("viewer")
    base = f"http://127.0.0.1:{node.port}"
    page = browser.new_page()
    if player == "page":
        page.goto(f"{base}/watch/g#token={viewer}")
    else:
        page.goto(f"{base}/healthz")
        page.set_content(PLAYER % (viewer, player))
    bytes0 = node.metric("qunbo_live_ingest_bytes_total")
    push = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-i", source, "-c", "copy", "-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts",
                             "-method", "POST", f"{base}/v1/groups/g/live/ingest?access_token={node.token('host', 'owner')}"])
    wait(lambda: node.metric("qunbo_live_ingest_bytes_total") > bytes0, 10, "the first ingest bytes", every=0.005)
    t0 = time.time() * 1000
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 2 }",
                           timeout=30_000)
    page.evaluate(f"() => ({PROBE})(document.querySelector('video'))")
    push.wait(seconds + 30)
    frames = page.evaluate("() => window.__frames")
    node.request("DELETE", "/live", "host")
    if os.environ.get("DEBUG"):
        print(player, len(frames), frames[:5], frames[-3:], page.evaluate(
            "() => { const v = document.querySelector('video'); return [v.readyState, v.currentTime, v.paused, "
            "v.error && v.error.message, v.videoWidth] }"))
    page.close()
    out = [shown - (t0 + n * 1000 / FPS) for n, shown in frames if n >= 3 * FPS and n < seconds * FPS]
    return out, len(frames)


def node_ok(url):
    import urllib.request
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--players", default="page,mse,hls")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    binary = release_binary()
    source = encode(tempfile.mkdtemp(prefix="qunbo-latency-"), args.seconds)
    node = Node(binary)
    results = {p: [] for p in args.players.split(",")}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            for run in range(args.runs):
                for player in results:
                    lat, shown = measure(node, browser, player, source, args.seconds)
                    results[player] += lat
                    q = statistics.quantiles(lat, n=20) if len(lat) > 20 else [float("nan")] * 19
                    print(f"run {run + 1} {player:4}: {len(lat)} frames measured of {shown} shown, "
                          f"p50 {statistics.median(lat):.0f} ms, p95 {q[18]:.0f} ms", flush=True)
            browser.close()
    finally:
        node.stop()
    print(f"\ningest-to-display latency in Chromium, one release node, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    for player, lat in results.items():
        q = statistics.quantiles(lat, n=20)
        print(f"  {player:4} p50 {statistics.median(lat):.0f} ms  p95 {q[18]:.0f} ms  ({len(lat)} frames)")


if __name__ == "__main__":
    main()
