// The watch page (/watch/{group}#token=JWT): plays the live (fMP4 through Media Source
// Extensions where the browser can, else native HLS), shows the session's events, lets the
// viewer comment, like, tip, ask and grab red packets, shows product cards and the host's board
// over the video, and after the live ends plays the replay with its events in step with the
// video. Built only on /sdk/qunbo.js.
import { QunboClient, takeFragmentToken } from "/sdk/qunbo.js";
import { Board } from "/web/board.js";
import { $, accessMessage, hideNotice, money, showNotice } from "/web/common.js";
import { Products } from "/web/products.js";
import { RedPackets } from "/web/redpackets.js";

/** The fMP4 the server sends: H.264 High 3.1 and AAC-LC. */
const MSE_TYPE = 'video/mp4; codecs="avc1.64001f,mp4a.40.2"';
/** Seconds of played media kept in the MSE buffer behind the playhead. */
const KEEP_BEHIND = 30;
/** A live player further than this behind the newest media jumps to it. */
const MAX_LAG = 3;
/** Comments kept on the page; older ones scroll away. */
const MAX_COMMENTS = 300;

const group = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const client = new QunboClient({ token: null, group, nodes: fragmentNodes() });
const token = takeFragmentToken("qunbo.watch.token");
client.token = token;
const me = claims(token).sub ?? "";
const video = $("video");
/** The event modules: each renders the event types it knows and ignores the others. */
const modules = {
    redPackets: new RedPackets({ container: $("module-redpackets"), client, me }),
    products: new Products({ container: $("module-products"), client }),
    board: new Board({ container: $("module-board"), video }),
};

const page = {
    session: null,
    stream: null,
    player: null,
    /** Replay mode: the events timed on the video, and how many are shown. */
    replay: null,
    questions: new Map(),
};

/** `#…&nodes=URL,URL`: other nodes of the cluster to move to when this one is gone (the link's
 *  maker knows them; the page cannot ask). This page's node first; kept for reloads. */
function fragmentNodes() {
    const listed = new URLSearchParams(location.hash.slice(1)).get("nodes");
    if (listed) sessionStorage.setItem("qunbo.watch.nodes", listed);
    const others = (listed ?? sessionStorage.getItem("qunbo.watch.nodes") ?? "").split(",");
    const nodes = [location.origin, ...others.map((n) => n.trim().replace(/\/+$/, ""))];
    return [...new Set(nodes.filter((n) => /^https?:\/\//.test(n)))];
}

/** The token's claims (not verified here: the server does that), for "is this me". */
function claims(jwt) {
    try {
        const part = jwt.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
        return JSON.parse(atob(part));
    } catch {
        return {};
    }
}

// Rendering.

function setState(state, label) {
    const badge = $("state");
    badge.dataset.state = state;
    badge.textContent = label;
}

function showSession(session) {
    page.session = session;
    $("title").textContent = session.title || "Untitled live";
    document.title = `${session.title || "Live"} · Qunbo`;
    $("host").textContent = session.host;
    setCounters(session);
}

function setCounters({ viewers, likes, tipsByCurrency }) {
    if (viewers != null) $("viewers").textContent = String(viewers);
    if (likes != null) $("likes").textContent = String(likes);
    if (tipsByCurrency) {
        const parts = Object.entries(tipsByCurrency).map(([currency, minor]) => money(minor, currency));
        $("tips").textContent = parts.length > 0 ? parts.join(" · ") : "0";
    }
}

/** A feed line: who, then what they wrote (or did), both as text. */
function line(event, className, words) {
    const item = document.createElement("li");
    item.className = className;
    item.dataset.seq = String(event.seq);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = event.name || event.user;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = words;
    item.append(name, text);
    return item;
}

/** Feeds follow new lines while the viewer is at the bottom; one who scrolled up to read is
 *  left there. Tracked on scroll, not measured on append: a pin or notice appearing shrinks the
 *  feed without the viewer moving. */
const following = new WeakMap();
for (const feed of document.querySelectorAll(".feed")) {
    feed.addEventListener("scroll", () => {
        following.set(feed, feed.scrollHeight - feed.scrollTop - feed.clientHeight < 40);
    });
}

function addToFeed(feed, item) {
    feed.append(item);
    while (feed.children.length > MAX_COMMENTS) feed.firstElementChild.remove();
    if (following.get(feed) ?? true) feed.scrollTop = feed.scrollHeight;
}

function addComment(event) {
    addToFeed($("comments"), line(event, "comment", event.text));
}

function addSystemLine(event, words) {
    addToFeed($("comments"), line(event, "system", words));
}

function addQuestion(event) {
    const item = line(event, "question", event.text);
    page.questions.set(event.seq, item);
    $("qa").append(item);
    $("qa-count").textContent = String(page.questions.size);
}

function highlight(seq) {
    const item = page.questions.get(seq);
    if (!item) return;
    item.classList.add("picked");
    $("qa").prepend(item);
}

function showPin(text) {
    $("pin-text").textContent = text ?? "";
    $("pin").hidden = !text;
}

/** One logged event onto the page (live or replay). */
function render(event) {
    switch (event.type) {
        case "comment":
            addComment(event);
            break;
        case "question":
            addQuestion(event);
            break;
        case "highlight":
            highlight(event.question);
            break;
        case "tip":
            addSystemLine(event, `tipped ${money(event.amount, event.currency)}`);
            break;
        case "pin":
            showPin(event.text);
            break;
        case "unpin":
            showPin(null);
            break;
        case "mute":
        case "unmute":
        case "kick":
            addSystemLine(event, `${event.type}d ${event.target}`.replace("kickd", "removed"));
            if (event.type === "kick" && event.target === me && !page.replay) {
                leave(accessMessage({ status: 403, code: "kicked" }));
            }
            break;
        case "started":
            if (event.title) $("title").textContent = event.title;
            break;
        default:
            break;
    }
    for (const module of Object.values(modules)) module.render(event);
}

function clearFeeds() {
    $("comments").replaceChildren();
    $("qa").replaceChildren();
    page.questions.clear();
    $("qa-count").textContent = "";
    showPin(null);
    for (const module of Object.values(modules)) module.reset();
}

// Live.

function onEvent(event) {
    if (event.type === "stats") {
        setCounters(event);
        return;
    }
    render(event);
    if (event.type === "ended") void onEnded();
}

function onStreamState(state, detail) {
    const connection = $("connection");
    if (state === "open") {
        connection.hidden = true;
        if (!page.replay) setState("live", "LIVE");
        // The counters of the moment this viewer joined (stats come only on changes).
        setTimeout(() => void refreshSession(), 1500);
    } else if (state === "retrying") {
        connection.textContent = "Connection lost: reconnecting…";
        connection.hidden = false;
    } else if (state === "failed") {
        if (detail.code === "no_live_session") void onEnded();
        else leave(accessMessage(detail));
    }
}

async function refreshSession() {
    if (page.replay || !page.session || page.session.state !== "live") return;
    try {
        const session = await client.session();
        if (session.id === page.session.id) showSession(session);
    } catch {
        // The event stream reports trouble; counters wait for the next refresh.
    }
}

/** Writing is for the live: off in a replay, after a refusal, with no live. */
function disableControls() {
    for (const control of document.querySelectorAll(".compose *, .actions *")) control.disabled = true;
    modules.redPackets.setLive(false);
}

/** Ends everything live and explains why (sign-in gone, removed, not a member). */
function leave(message) {
    page.stream?.close();
    stopPlayer();
    setState("off", "Unavailable");
    showNotice(message);
    disableControls();
    // Nothing to show yet (refused at the start): only the title and the reason.
    if (!page.session) nothingToWatch("Cannot open this live");
}

/** No player, feed or controls: the page is down to its title, notice and replays list. */
function nothingToWatch(title) {
    document.body.classList.add("nothing-to-watch");
    $("title").textContent = title;
}

async function onEnded() {
    page.stream?.close();
    stopPlayer();
    modules.redPackets.setLive(false);
    setState("ended", "Ended");
    const session = page.session;
    if (!session?.record) {
        showNotice("The live has ended. It was not recorded.", "info");
        return;
    }
    showNotice("The live has ended. Loading the replay…", "info");
    // The recording is listed once the session has settled at its replicas: poll briefly.
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
        try {
            const replay = (await client.replays()).find((r) => r.id === session.id);
            if (replay) {
                await playReplay(replay);
                return;
            }
        } catch {
            // Try again until the deadline.
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    showNotice("The live has ended. Its replay is not ready yet: reload the page in a while.", "info");
    void showReplayList();
}

// Video.

function stopPlayer() {
    page.player?.stop();
    page.player = null;
    video.removeAttribute("src");
    video.load();
}

function videoNote(text) {
    const note = $("video-note");
    note.textContent = text ?? "";
    note.hidden = !text;
}

async function startLiveVideo() {
    stopPlayer();
    if (window.MediaSource && MediaSource.isTypeSupported(MSE_TYPE)) {
        try {
            page.player = await playMSE();
            video.dataset.mode = "mse";
            return;
        } catch (error) {
            if (error.status === 401 || error.status === 403) {
                leave(accessMessage(error));
                return;
            }
            if (error.status === 0) {
                // Offline for a moment, or this node is gone: fMP4 again (from the next node).
                client.nextNode();
                retryLiveVideo();
                return;
            }
            // Refused (a node without fMP4, no media yet): native HLS instead.
        }
    }
    page.player = playHLS(client.liveHLS(), { live: true });
    video.dataset.mode = "hls";
}

/** Retries the live video while the session is live (media may come a little after the start). */
function retryLiveVideo() {
    if (page.replay || page.session?.state !== "live" || $("state").dataset.state === "ended") return;
    setTimeout(() => {
        if (!page.replay && $("state").dataset.state !== "ended") void startLiveVideo();
    }, 2000);
}

/** fMP4 into a SourceBuffer in "sequence" mode: chunks appended as they come, the buffer
 *  trimmed to ~30 s behind the playhead, and the playhead kept within 3 s of the live edge. */
async function playMSE() {
    const source = new MediaSource();
    const url = URL.createObjectURL(source);
    video.src = url;
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    const buffer = source.addSourceBuffer(MSE_TYPE);
    buffer.mode = "sequence";
    const queue = [];
    let stopped = false;

    const pump = () => {
        if (stopped || buffer.updating || source.readyState !== "open") return;
        const ranges = buffer.buffered;
        if (ranges.length > 0 && video.currentTime - ranges.start(0) > KEEP_BEHIND + 5) {
            buffer.remove(ranges.start(0), video.currentTime - KEEP_BEHIND);
            return;
        }
        if (queue.length === 0) return;
        const size = queue.reduce((n, c) => n + c.byteLength, 0);
        const joined = new Uint8Array(size);
        let offset = 0;
        for (const chunk of queue.splice(0)) {
            joined.set(chunk, offset);
            offset += chunk.byteLength;
        }
        try {
            buffer.appendBuffer(joined);
        } catch (error) {
            // QuotaExceededError: drop what was played and try this piece again.
            queue.unshift(joined);
            if (ranges.length > 0) buffer.remove(ranges.start(0), Math.max(ranges.start(0) + 1, video.currentTime - 5));
        }
    };
    buffer.addEventListener("updateend", () => {
        chaseLiveEdge();
        pump();
    });

    let stream;
    try {
        stream = await client.media({
            onChunk: (chunk) => {
                queue.push(chunk);
                pump();
            },
        });
    } catch (error) {
        URL.revokeObjectURL(url);
        throw error;
    }
    const ended = () => {
        if (!stopped) retryLiveVideo();
    };
    stream.done.then(ended, ended);
    return {
        stop() {
            stopped = true;
            stream.close();
            URL.revokeObjectURL(url);
        },
    };
}

function chaseLiveEdge() {
    const ranges = video.buffered;
    if (ranges.length === 0) return;
    const end = ranges.end(ranges.length - 1);
    if (end - video.currentTime > MAX_LAG) video.currentTime = Math.max(ranges.start(ranges.length - 1), end - 1);
    if (video.paused) video.play().catch(() => {});
}

/** Native HLS (`<video src=playlist>`), as Safari and recent Chromium play it. */
function playHLS(url, { live }) {
    if (!video.canPlayType("application/vnd.apple.mpegurl")) {
        videoNote("This browser cannot play this video (it has neither Media Source Extensions for MP4 nor HLS).");
        return null;
    }
    videoNote(null);
    let stopped = false;
    const onError = () => {
        if (stopped) return;
        if (live) retryLiveVideo();
        else videoNote("The video could not be played.");
    };
    video.addEventListener("error", onError, { once: true });
    video.src = url;
    video.play().catch(() => {});
    return {
        stop() {
            stopped = true;
            video.removeEventListener("error", onError);
        },
    };
}

// Replay.

/** Plays an ended session's recording with its events shown when the video reaches them, at
 *  their `mediaTime` (see replayTimes). */
async function playReplay(session) {
    page.stream?.close();
    stopPlayer();
    hideNotice();
    $("replays").hidden = true;
    document.body.classList.remove("nothing-to-watch");
    page.session = session;
    showSession(session);
    setState("replay", "Replay");
    // Nothing to write to in a replay, and its viewer count was the live's.
    document.body.classList.add("replaying");
    let events;
    try {
        events = await client.replayEvents(session.id);
    } catch (error) {
        showNotice(accessMessage(error));
        return;
    }
    const times = replayTimes(events, Date.parse(session.startedAt));
    page.replay = {
        // Stable: events at the same time keep their seq order.
        items: events
            .map((event, n) => ({ time: Number.isFinite(times[n]) ? times[n] : 0, event }))
            .sort((a, b) => a.time - b.time),
        shown: 0,
    };
    clearFeeds();
    modules.redPackets.setLive(false);
    page.player = playHLS(client.replayHLS(session.id), { live: false });
    video.dataset.mode = "replay";
}

/**
 * Each event's time on the replay's video, in seconds. `mediaTime` is that time exactly (the
 * server stamps every event decided while media flows). An event without one (before the media
 * started, while it was cut, or logged by an older node) is placed by its wall clock `at`
 * relative to the nearest stamped event before it (or, before the first, after it); a session
 * with no stamped event at all is timed from its `startedAt`, as before mediaTime existed.
 */
function replayTimes(events, startedAt) {
    const wall = (event) => Date.parse(event.at) / 1000;
    const stamped = (event) => typeof event.mediaTime === "number" && Number.isFinite(event.mediaTime);
    const first = events.find(stamped);
    if (!first) return events.map((event) => Math.max(0, wall(event) - startedAt / 1000));
    let anchor = null;
    return events.map((event) => {
        if (stamped(event)) {
            anchor = event;
            return event.mediaTime;
        }
        const base = anchor ?? first;
        return Math.max(0, base.mediaTime + (wall(event) - wall(base)));
    });
}

function syncReplay() {
    const replay = page.replay;
    if (!replay) return;
    const now = video.currentTime;
    while (replay.shown < replay.items.length && replay.items[replay.shown].time <= now) {
        render(replay.items[replay.shown].event);
        replay.shown++;
    }
}

video.addEventListener("timeupdate", syncReplay);
video.addEventListener("seeked", () => {
    if (!page.replay) return;
    clearFeeds();
    page.replay.shown = 0;
    syncReplay();
});

async function showReplayList() {
    let replays;
    try {
        replays = await client.replays();
    } catch (error) {
        showNotice(accessMessage(error));
        return;
    }
    const list = $("replay-list");
    list.replaceChildren();
    for (const replay of replays) {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "replay-item";
        const when = new Date(replay.startedAt).toLocaleString();
        button.textContent = `▶ ${replay.title || "Untitled"} · ${replay.host} · ${when}`;
        button.addEventListener("click", () => void playReplay(replay));
        item.append(button);
        list.append(item);
    }
    if (replays.length === 0) {
        const item = document.createElement("li");
        item.className = "empty";
        item.textContent = "No replays yet.";
        list.append(item);
    }
    $("replays").hidden = false;
}

// Controls.

function writeError(error) {
    const out = $("write-error");
    if (!error) {
        out.hidden = true;
        return;
    }
    out.textContent =
        error.code === "filtered" ? "That text contains a blocked word." : accessMessage(error);
    out.hidden = false;
}

async function write(button, action) {
    button.disabled = true;
    try {
        const result = await action();
        writeError(null);
        return result;
    } catch (error) {
        writeError(error);
        return null;
    } finally {
        button.disabled = false;
    }
}

$("compose").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (!text) return;
    if (await write($("send"), () => client.comment(text))) input.value = "";
});

$("ask").addEventListener("click", async () => {
    const input = $("text");
    const text = input.value.trim();
    if (!text) {
        input.focus();
        return;
    }
    if (await write($("ask"), () => client.ask(text))) input.value = "";
});

$("like").addEventListener("click", async () => {
    const result = await write($("like"), () => client.like(1));
    if (result) $("likes").textContent = String(result.likes);
});

$("tip-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const minor = Math.round(Number($("tip-amount").value) * 100);
    if (!(minor > 0)) return;
    await write($("tip"), () => client.tip(minor, $("tip-currency").value));
});

for (const [tab, panel] of [
    ["tab-comments", "comments"],
    ["tab-qa", "qa"],
]) {
    $(tab).addEventListener("click", () => {
        for (const other of document.querySelectorAll(".tab")) other.setAttribute("aria-selected", "false");
        $(tab).setAttribute("aria-selected", "true");
        $("comments").hidden = panel !== "comments";
        $("qa").hidden = panel !== "qa";
    });
}

// Start.

async function main() {
    if (!token) {
        leave("This link has no sign-in token. Open the live from the app.");
        return;
    }
    let session;
    try {
        session = await client.session();
    } catch (error) {
        if (error.code === "no_live_session") {
            setState("off", "Offline");
            nothingToWatch("No live right now");
            showNotice("No live right now. Replays of earlier lives are below.", "info");
            void showReplayList();
            return;
        }
        leave(accessMessage(error));
        return;
    }
    showSession(session);
    page.stream = client.events({ onEvent, onState: onStreamState });
    void startLiveVideo();
    setInterval(() => void refreshSession(), 10000);
}

void main();
