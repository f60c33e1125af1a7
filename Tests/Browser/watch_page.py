"""The watch page in a real Chromium against a real node with a live being pushed by ffmpeg.

    python3 Tests/Browser/watch_page.py SCENARIO --node URL --group G --tokens JSON --shots DIR

SCENARIO: play (video, counters, comment/like/tip/ask, another user's comment), offline
(network loss: every comment once, in order), replay (the live ends: the replay plays with its
comments in step), access (401, 403, no token, no live), phone (360x740: controls on screen
and usable).
`--tokens` maps users to JWTs: bob (member, the viewer), cat (member), ann (owner and host),
eve (member of another group). The live's title is `--title`.
"""

import argparse
import json
import subprocess
import time
import uuid

from qunbo_browser import Shots, browser, check, curl, expect_notice, open_page, run, text_of, wait

VIDEO_PLAYING = "() => { const v = document.getElementById('video'); return v.readyState >= 2 && v.currentTime > 0.5; }"
COMMENT_SHOWN = "(text) => [...document.querySelectorAll('#comments .comment .text')].some(e => e.textContent === text)"


SCENARIOS = ["play", "offline", "replay", "access", "phone", "failover"]


def parse(scenarios=SCENARIOS):
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=scenarios)
    parser.add_argument("--node", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--title", default="")
    parser.add_argument("--idle-group", default="other", help="a group of eve's with no live")
    parser.add_argument("--other-nodes", default="", help="failover: the other nodes, comma-separated")
    parser.add_argument("--kill", default="", help="failover: the command that kills --node")
    parser.add_argument("--shots", required=True)
    args = parser.parse_args()
    args.tokens = json.loads(args.tokens)
    return args


class Live:
    """The API side of a scenario: curl as the given users."""

    def __init__(self, args):
        self.args = args
        self.base = f"{args.node}/v1/groups/{args.group}"

    def call(self, method, path, user, body=None):
        return curl(method, self.base + path, self.args.tokens[user], body)

    def comment(self, user, text):
        """Posts as a client app would: a 429 (writes per user are rate limited) is retried
        after a short wait with the same idempotency key."""
        key = uuid.uuid4().hex
        for _ in range(10):
            status, answer = self.call("POST", "/live/comments", user, {"text": text, "id": key})
            if status != 429:
                break
            time.sleep(0.3)
        check(status == 201, f"{user} comments {text!r} with curl (status {status}: {answer})")
        return answer["seq"]

    def comment_texts(self, user="ann"):
        status, page = self.call("GET", "/live/comments?after=0&limit=500", user)
        check(status == 200, f"comment history reads (status {status})")
        items = page if isinstance(page, list) else page.get("comments", page.get("items", []))
        return [c.get("text") for c in items]


def watch_url(args, user, token=None):
    return f"{args.node}/watch/{args.group}#token={token or args.tokens[user]}"


def open_live(chromium, args, user="bob", **context_options):
    """The watch page as `user`, once it shows the live (its event stream is open)."""
    context, page = open_page(chromium, watch_url(args, user), **context_options)
    wait(page, "() => document.getElementById('state').dataset.state === 'live'", "the page shows the live")
    return context, page


# The standard deviation of the luma of the current video frame, drawn small onto a canvas: a
# blank (black, grey or frozen-empty) frame is near 0, the test pattern far above.
VIDEO_LUMA_SPREAD = """() => {
    const v = document.getElementById('video');
    const c = document.createElement('canvas');
    c.width = 64; c.height = 36;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, 64, 36);
    const px = g.getImageData(0, 0, 64, 36).data;
    let sum = 0, sq = 0, n = 0;
    for (let i = 0; i < px.length; i += 4) {
        const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
        sum += y; sq += y * y; n++;
    }
    return Math.sqrt(sq / n - (sum / n) ** 2);
}"""


def wait_playing(page, what="the live video plays", timeout=45):
    wait(page, VIDEO_PLAYING, what, timeout)
    first = page.evaluate("document.getElementById('video').currentTime")
    wait(page, f"() => document.getElementById('video').currentTime > {first} + 1", "video time advances", 20)
    return page.evaluate("document.getElementById('video').dataset.mode")


def scenario_play(args, shots, chromium):
    live = Live(args)
    context, page = open_page(chromium, watch_url(args, "bob"))
    check("token=" not in page.url, "the token is gone from the address bar")
    wait(page, f"() => document.getElementById('title').textContent === {json.dumps(args.title)}", "the title shows")
    check(text_of(page, "#host") == "ann", "the host shows")
    wait(page, "() => document.getElementById('state').dataset.state === 'live'", "the LIVE badge shows")
    wait(page, "() => Number(document.getElementById('viewers').textContent) >= 1", "the viewer count shows")
    mode = wait_playing(page)
    frames = page.evaluate("() => document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames")
    wait(page, f"() => document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames > {frames} + 10",
         "decoded frames grow", 20)
    spread = page.evaluate(VIDEO_LUMA_SPREAD)
    check(spread > 20, f"the video shows a picture, not a blank frame (luma standard deviation {spread:.1f})")
    mse = page.evaluate("() => !!window.MediaSource && MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.64001f,mp4a.40.2\"')")
    print(f"video mode: {mode} (MSE for fMP4: {mse})", flush=True)
    if mse:
        check(mode == "mse", "the live plays as fMP4 through Media Source Extensions")
        lag = page.evaluate("() => { const v = document.getElementById('video'); return v.buffered.end(v.buffered.length - 1) - v.currentTime; }")
        check(lag < 3.5, f"the player keeps near the live edge ({lag:.2f} s behind the buffered end)")

    text = f"hello from the page {uuid.uuid4().hex[:6]}"
    page.fill("#text", text)
    page.click("#send")
    wait(page, COMMENT_SHOWN, "the typed comment shows in the page", arg=text)
    check(text in live.comment_texts(), "the typed comment is in the API's history (curl)")
    check(page.input_value("#text") == "", "the input is cleared after sending")

    other = f"from cat over curl {uuid.uuid4().hex[:6]}"
    live.comment("cat", other)
    # The contract of the page: a comment the API acknowledged shows within a second.
    wait(page, COMMENT_SHOWN, "another user's comment (curl) shows in the page within 1 s of its 201", 1, arg=other)

    page.click("#like")
    page.click("#like")
    wait(page, "() => Number(document.getElementById('likes').textContent) >= 2", "likes count up")
    page.fill("#tip-amount", "2.50")
    page.click("#tip")
    wait(page, "() => document.getElementById('tips').textContent.includes('2.50 CNY')", "the tip total shows")
    wait(page, "() => document.querySelector('#comments .system')?.textContent.includes('tipped 2.50 CNY')",
         "the tip shows in the feed")

    question = f"when is the next live {uuid.uuid4().hex[:4]}?"
    page.fill("#text", question)
    page.click("#ask")
    page.click("#tab-qa")
    wait(page, "(q) => [...document.querySelectorAll('#qa .question .text')].some(e => e.textContent === q)",
         "the question shows under Q&A", arg=question)
    seq = page.evaluate("(q) => Number([...document.querySelectorAll('#qa .question')].find(e => e.textContent.includes(q)).dataset.seq)", question)
    status, _ = live.call("POST", f"/live/questions/{seq}/highlight", "ann", {})
    check(status in (200, 201, 202), f"the host highlights the question (status {status})")
    wait(page, "() => document.querySelector('#qa .question.picked') !== null", "the pick is highlighted")
    status, _ = live.call("POST", "/live/pins", "ann", {"text": "Welcome! Be kind <b>not bold</b>"})
    check(status in (200, 201, 202), f"the host pins a notice (status {status})")
    wait(page, "() => !document.getElementById('pin').hidden", "the pin shows")
    check(text_of(page, "#pin-text") == "Welcome! Be kind <b>not bold</b>", "user text is shown as text, not HTML")
    shots.take(page, "watch-qa-desktop", best=True)
    page.click("#tab-comments")
    shots.take(page, "watch-desktop", best=True)
    context.close()


def scenario_offline(args, shots, chromium):
    live = Live(args)
    context, page = open_live(chromium, args)
    before = f"before the drop {uuid.uuid4().hex[:6]}"
    live.comment("cat", before)
    wait(page, COMMENT_SHOWN, "a comment before the drop shows", arg=before)

    context.set_offline(True)
    wait(page, "() => !document.getElementById('connection').hidden", "the page shows it lost the connection", 20)
    tag = uuid.uuid4().hex[:6]
    sent = []
    for i in range(6):
        text = f"during the drop {tag} #{i}"
        live.comment(("cat", "ann")[i % 2], text)
        sent.append(text)
    # The outage itself: the network stays down for a few seconds while comments go on.
    time.sleep(4)
    shots.take(page, "watch-offline")
    shown = page.evaluate("(tag) => [...document.querySelectorAll('#comments .comment .text')].filter(e => e.textContent.includes(tag)).length", tag)
    check(shown == 0, f"nothing posted during the drop reached the page while offline ({shown})")
    context.set_offline(False)
    after = f"after the drop {tag}"
    live.comment("cat", after)
    sent.append(after)
    for text in sent:
        wait(page, COMMENT_SHOWN, f"{text!r} shows after reconnecting", timeout=45, arg=text)
    wait(page, "() => document.getElementById('connection').hidden", "the reconnecting notice goes away")
    rows = page.evaluate(
        "() => [...document.querySelectorAll('#comments .comment')].map(e => [Number(e.dataset.seq), e.querySelector('.text').textContent])"
    )
    texts = [t for _, t in rows]
    for text in [before] + sent:
        check(texts.count(text) == 1, f"{text!r} is shown exactly once")
    seqs = [s for s, _ in rows]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"comments are in seq order, no repeats ({seqs})")
    shots.take(page, "watch-after-reconnect", best=True)
    context.close()


def scenario_replay(args, shots, chromium):
    live = Live(args)
    context, page = open_live(chromium, args)
    wait_playing(page)
    status, session = live.call("GET", "/live", "bob")
    check(status == 200, f"the session reads (status {status})")
    # From now (the page may have taken a while to play): comments ~2 s and ~8 s on, a stroke, a
    # product card and a red packet at ~5 s, then the live ends at ~11 s. The page must show
    # each at its mediaTime, so events apart in time must show apart in the replay.
    base = time.time()
    marks = {}
    packet = f"rp-{uuid.uuid4().hex[:8]}"
    for label, at in (("early", 2.0), ("modules", 5.0), ("late", 8.0)):
        while time.time() < base + at:
            time.sleep(0.05)
        if label == "modules":
            for path, body in (
                ("/live/board", {"kind": "stroke", "points": [[0.1, 0.1], [0.9, 0.9]], "color": "#4da3ff"}),
                ("/live/products", {"id": "replayed", "title": "Replayed tea", "price": 990, "currency": "CNY"}),
                ("/live/redpackets", {"id": packet, "total": 300, "currency": "CNY", "shares": 3}),
            ):
                status, answer = live.call("POST", path, "ann", body)
                check(status == 201, f"ann posts to {path} during the live (status {status}: {answer})")
            continue
        marks[label] = (f"{label} marker {uuid.uuid4().hex[:6]}", time.time() - base)
        live.comment("cat", marks[label][0])
    while time.time() < base + 11:
        time.sleep(0.05)
    # Record when (in video time) each comment, the stroke, the card and the packet first appear
    # once the replay runs (the video's mode is "replay" from when the page is reset for it).
    page.evaluate("""() => {
        window.__shownAt = {};
        const v = document.getElementById('video');
        const note = (key) => { if (!(key in window.__shownAt)) window.__shownAt[key] = v.currentTime; };
        new MutationObserver(() => {
            if (v.dataset.mode !== 'replay') return;
            for (const e of document.querySelectorAll('#comments .comment .text')) note(e.textContent);
            for (const e of document.querySelectorAll('.product, .redpacket')) note(e.dataset.id);
            if (Number(document.getElementById('board-canvas').dataset.strokes) > 0) note('stroke');
        }).observe(document.getElementById('app'), { childList: true, subtree: true, attributes: true });
    }""")
    status, _ = live.call("DELETE", "/live", "ann")
    check(status == 200, f"the host ends the live with curl (status {status})")
    wait(page, "() => document.getElementById('state').dataset.state === 'replay'", "the page switches to the replay", 60)
    shots.take(page, "watch-ended")
    wait(page, "() => { const v = document.getElementById('video'); return v.dataset.mode === 'replay' && v.readyState >= 2 && v.currentTime > 1; }",
         "the replay video plays", 45)
    late_text, late_at = marks["late"]
    early_text, early_at = marks["early"]
    wait(page, COMMENT_SHOWN, "the late marker shows during the replay", 45, arg=late_text)
    shown = page.evaluate("() => window.__shownAt")
    status, logged = live.call("GET", f"/replays/{session['id']}/events", "bob")
    check(status == 200, f"the replay's events read (status {status})")

    def media_time(what, match):
        event = next((e for e in logged if match(e)), None)
        check(event is not None and isinstance(event.get("mediaTime"), (int, float)), f"the {what} event has a mediaTime ({event})")
        return event["mediaTime"]

    expected = {
        early_text: media_time("early marker", lambda e: e.get("text") == early_text),
        late_text: media_time("late marker", lambda e: e.get("text") == late_text),
        "stroke": media_time("stroke", lambda e: e["type"] == "board" and e.get("kind") == "stroke"),
        "replayed": media_time("product", lambda e: e["type"] == "product" and e.get("id") == "replayed"),
        packet: media_time("red packet", lambda e: e["type"] == "redpacket" and e.get("id") == packet),
    }
    print(f"comments posted {early_at:.1f} s and {late_at:.1f} s in; mediaTime {expected}; shown at {shown}", flush=True)
    check(expected[late_text] - expected[early_text] > 4, "the markers are seconds apart on the media timeline")
    for key, at in expected.items():
        check(key in shown, f"{key!r} showed during the replay")
        # The page checks the video's time on `timeupdate`, about every 250 ms.
        check(abs(shown[key] - at) < 0.8, f"{key!r} shows at its mediaTime ({shown[key]:.2f} vs {at:.2f})")
    check(page.evaluate("document.querySelector('.redpacket .rp-grab').disabled"), "a replayed red packet cannot be grabbed")
    check(text_of(page, "#state") == "Replay", "the badge says Replay")
    shots.take(page, "watch-replay", best=True)
    context.close()


def scenario_access(args, shots, chromium):
    bad = args.tokens["bob"][:-6] + "AAAAAA"
    context, page = open_page(chromium, watch_url(args, "bob", token=bad))
    expect_notice(page, "sign-in has expired or is invalid", "a bad token (401)")
    shots.take(page, "watch-401", best=True)
    context.close()

    context, page = open_page(chromium, watch_url(args, "eve"))
    expect_notice(page, "not a member of this group", "another group's token (403)")
    check(page.is_disabled("#send"), "writing is off")
    shots.take(page, "watch-403", best=True)
    context.close()

    context, page = open_page(chromium, f"{args.node}/watch/{args.group}")
    expect_notice(page, "no sign-in token", "no token")
    context.close()

    # eve's own group has no live: "No live right now" and its (empty) replays list.
    context, page = open_page(chromium, f"{args.node}/watch/{args.idle_group}#token={args.tokens['eve']}")
    wait(page, "() => !document.getElementById('replays').hidden", "a group without a live shows its replays list")
    check("No live right now" in text_of(page, "#notice"), "no live says so")
    check(text_of(page, "#replay-list") == "No replays yet.", "an empty replays list says so")
    shots.take(page, "watch-no-live")
    context.close()


def scenario_phone(args, shots, chromium):
    phone = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    context, page = open_live(chromium, args, **phone)
    wait_playing(page)
    for selector in ("#video", "#text", "#send", "#ask", "#like", "#tip", "#tip-amount", "#comments"):
        box = page.locator(selector).bounding_box()
        check(box is not None and box["width"] > 0 and box["height"] > 0, f"{selector} is visible")
        check(box["x"] >= 0 and box["x"] + box["width"] <= 360 + 0.5, f"{selector} fits the width ({box})")
        check(box["y"] >= 0 and box["y"] + box["height"] <= 740 + 0.5, f"{selector} is on screen without scrolling ({box})")
    check(page.evaluate("document.documentElement.scrollWidth <= 360"), "no sideways scrolling")
    video = page.locator("#video").bounding_box()
    feed = page.locator("#comments").bounding_box()
    check(video["y"] < feed["y"], "video on top, comments below")
    text = f"from a phone {uuid.uuid4().hex[:6]}"
    page.tap("#text")
    page.fill("#text", text)
    page.tap("#send")
    wait(page, COMMENT_SHOWN, "a comment sent from the phone layout shows", arg=text)
    page.tap("#like")
    wait(page, "() => Number(document.getElementById('likes').textContent) >= 1", "like works by tapping")
    shots.take(page, "watch-phone", best=True)
    context.close()


def scenario_failover(args, shots, chromium):
    """The page's own node is killed mid-live: the page moves to the other nodes it was given
    (`#nodes=`), its events resume with no gap or repeat and the video goes on."""
    other = args.other_nodes.split(",")[0]
    live = Live(args)
    context, page = open_page(chromium, watch_url(args, "bob") + f"&nodes={args.other_nodes}")
    wait(page, "() => document.getElementById('state').dataset.state === 'live'", "the page shows the live")
    wait_playing(page)
    before = f"before the kill {uuid.uuid4().hex[:6]}"
    live.comment("cat", before)
    wait(page, COMMENT_SHOWN, "a comment before the kill shows", arg=before)
    subprocess.run(args.kill, shell=True, check=True, timeout=30)
    print(f"killed the page's node: {args.kill}", flush=True)
    live.base = f"{other}/v1/groups/{args.group}"
    after = []
    for i in range(3):
        text = f"after the kill #{i} {uuid.uuid4().hex[:6]}"
        live.comment(("cat", "ann")[i % 2], text)
        after.append(text)
    for text in after:
        wait(page, COMMENT_SHOWN, f"{text!r} shows through another node", 60, arg=text)
    texts = page.evaluate("() => [...document.querySelectorAll('#comments .comment .text')].map(e => e.textContent)")
    for text in [before] + after:
        check(texts.count(text) == 1, f"{text!r} is shown exactly once")
    start = page.evaluate("document.getElementById('video').currentTime")
    wait(page, f"() => document.getElementById('video').currentTime > {start} + 2", "the video goes on from another node", 60)
    shots.take(page, "watch-failover", best=True)
    context.close()


def main():
    args = parse()
    shots = Shots(args.shots)
    scenarios = {
        "play": scenario_play,
        "offline": scenario_offline,
        "replay": scenario_replay,
        "access": scenario_access,
        "phone": scenario_phone,
        "failover": scenario_failover,
    }
    with browser() as chromium:
        scenarios[args.scenario](args, shots, chromium)


if __name__ == "__main__":
    run(main)
