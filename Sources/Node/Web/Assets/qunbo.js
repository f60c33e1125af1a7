// Qunbo browser SDK: one ES module, no dependencies, no build step.
//
//   import { QunboClient } from "/sdk/qunbo.js";
//   const client = new QunboClient({ nodes: [location.origin], token, group: "g1" });
//   const stream = client.events({ onEvent: (e) => console.log(e.type, e) });
//   await client.comment("hi");
//
// The token travels only in the Authorization header, never in a URL, except for the HLS
// playlist URLs a native <video> player needs (it cannot set headers): hlsURL() says so.
// Reference: docs/SDK.md in the Qunbo repository.

/** An error answered by the API (`{"error": {"code", "message"}}`) or a network failure
 *  (`status` 0, `code` "network"). */
export class QunboError extends Error {
    constructor(status, code, message, retryAfter = null) {
        super(message);
        this.name = "QunboError";
        this.status = status;
        this.code = code;
        /** Seconds, from a 429's or 503's Retry-After, else null. */
        this.retryAfter = retryAfter;
    }

    /** The error a non-2xx response carries. */
    static async from(response) {
        let code = `http_${response.status}`;
        let message = response.statusText || `HTTP ${response.status}`;
        try {
            const body = await response.json();
            if (body && body.error) {
                code = String(body.error.code ?? code);
                message = String(body.error.message ?? message);
            }
        } catch {
            // Not JSON (a proxy's error page): keep the status line.
        }
        const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
        return new QunboError(response.status, code, message, Number.isFinite(retry) ? retry : null);
    }

    static network(cause) {
        const error = new QunboError(0, "network", `network error: ${cause?.message ?? cause}`);
        error.cause = cause;
        return error;
    }
}

/** Statuses after which trying again (here or at another node) can help. */
const RETRYABLE = new Set([502, 503, 504]);
/** Attempts per write or read before its error is handed to the caller. */
const ATTEMPTS = 4;

/** Exponential backoff with full jitter: about 0.25 s, 0.5 s, 1 s, ... capped at `cap` ms. */
export function backoff(attempt, cap = 10000) {
    const ceiling = Math.min(cap, 250 * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
}

const sleep = (ms, signal) =>
    new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        signal?.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
        });
    });

/** A fresh idempotency key (`[A-Za-z0-9_-]`, 32 characters). `crypto.randomUUID` exists only
 *  in secure contexts (https, localhost); `getRandomValues` everywhere. */
export function newRequestID() {
    if (globalThis.crypto?.randomUUID) return crypto.randomUUID().replaceAll("-", "");
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Splits an SSE byte stream (decoded text, in arbitrary pieces) into events
 *  `{id, event, data}`; comment lines (`: ping`) are dropped. */
export class SSEParser {
    constructor(onMessage) {
        this.onMessage = onMessage;
        this.buffer = "";
        this.reset();
    }

    reset() {
        this.id = null;
        this.event = null;
        this.data = [];
    }

    push(text) {
        this.buffer += text;
        let newline;
        while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
            const line = this.buffer.slice(0, newline);
            const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
            this.buffer = this.buffer.slice(newline + width);
            this.line(line);
        }
    }

    line(line) {
        if (line === "") {
            if (this.data.length > 0) {
                this.onMessage({ id: this.id, event: this.event ?? "message", data: this.data.join("\n") });
            }
            this.reset();
            return;
        }
        if (line.startsWith(":")) return;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "id") this.id = value;
        else if (field === "event") this.event = value;
        else if (field === "data") this.data.push(value);
    }
}

export class QunboClient {
    /**
     * @param {object} options
     * @param {string[]} [options.nodes] base URLs of nodes, tried in order (default: this page's)
     * @param {string} options.token the user's JWT
     * @param {string} options.group the group id
     */
    constructor({ nodes, token, group }) {
        const list = nodes && nodes.length > 0 ? nodes : [globalThis.location?.origin ?? ""];
        this.nodes = list.map((n) => String(n).replace(/\/+$/, ""));
        this.token = token;
        this.group = group;
        /** Index in `nodes` of the node used now; moves on when one fails. */
        this.current = 0;
    }

    get node() {
        return this.nodes[this.current];
    }

    /** Moves to the next node of the list (after a network error or a 5xx). */
    nextNode() {
        this.current = (this.current + 1) % this.nodes.length;
    }

    path(suffix) {
        return `/v1/groups/${encodeURIComponent(this.group)}${suffix}`;
    }

    /**
     * `fetch` with the token in the Authorization header. A 307 to another node (a viewer route
     * at a node without a replica) is followed by the browser, which drops Authorization on a
     * cross-origin redirect: the answer is then a 401 from the replica, and the request is sent
     * again straight to the URL it was redirected to, with the header.
     */
    async send(url, init = {}) {
        const headers = new Headers(init.headers ?? {});
        if (this.token) headers.set("Authorization", `Bearer ${this.token}`);
        let response;
        try {
            response = await fetch(url, { ...init, headers, cache: "no-store", redirect: "follow" });
        } catch (error) {
            if (init.signal?.aborted) throw error;
            throw QunboError.network(error);
        }
        if (response.status === 401 && response.redirected && new URL(response.url).origin !== new URL(url).origin) {
            try {
                response = await fetch(response.url, { ...init, headers, cache: "no-store", redirect: "follow" });
            } catch (error) {
                if (init.signal?.aborted) throw error;
                throw QunboError.network(error);
            }
        }
        return response;
    }

    /**
     * One API call with retries: network errors and 502/503/504 are tried again (on the next
     * node, after a backoff) up to `attempts` times; a 429 waits its Retry-After once; 4xx
     * otherwise fail at once. Only calls that are safe to repeat come here: reads, and writes
     * carrying an idempotency key (the same key on every attempt).
     */
    async call(method, suffix, body = undefined, attempts = ATTEMPTS) {
        let waitedForLimit = false;
        let last;
        for (let attempt = 0; attempt < attempts; attempt++) {
            const init = { method };
            if (body !== undefined) {
                init.body = JSON.stringify(body);
                init.headers = { "Content-Type": "application/json" };
            }
            let response;
            try {
                response = await this.send(this.node + this.path(suffix), init);
            } catch (error) {
                last = error;
                this.nextNode();
                await sleep(backoff(attempt));
                continue;
            }
            if (response.ok) {
                const text = await response.text();
                return text ? JSON.parse(text) : null;
            }
            last = await QunboError.from(response);
            if (response.status === 429 && !waitedForLimit) {
                waitedForLimit = true;
                attempt--;
                await sleep(Math.min(30, last.retryAfter ?? 1) * 1000);
                continue;
            }
            if (!RETRYABLE.has(response.status)) throw last;
            this.nextNode();
            await sleep(last.retryAfter != null ? last.retryAfter * 1000 : backoff(attempt));
        }
        throw last;
    }

    // Reads.

    /** The live session (404 `no_live_session` when none is live). */
    session() {
        return this.call("GET", "/live");
    }

    /** Recorded ended sessions, newest first. */
    replays() {
        return this.call("GET", "/replays");
    }

    /** An ended session's whole event log, oldest first. */
    replayEvents(sessionID) {
        return this.call("GET", `/replays/${encodeURIComponent(sessionID)}/events`);
    }

    /** A comment history page (`after` a seq, oldest first). */
    comments(after = 0, limit = 100) {
        return this.call("GET", `/live/comments?after=${after}&limit=${limit}`);
    }

    // Writes. Each carries a fresh idempotency key, reused by its retries, so a write retried
    // after a lost answer is applied once.

    /** Posts a comment; resolves to `{seq}` once it is durable. */
    comment(text) {
        return this.call("POST", "/live/comments", { text, id: newRequestID() });
    }

    /** Asks a question; resolves to `{seq}`. */
    ask(text) {
        return this.call("POST", "/live/questions", { text, id: newRequestID() });
    }

    /** Tips `amount` minor units (cents) of `currency`; resolves to `{seq}`. */
    tip(amount, currency = "CNY") {
        return this.call("POST", "/live/tips", { amount, currency, id: newRequestID() });
    }

    /** Adds `count` likes (1..100); resolves to `{likes}`. Likes are counted, not logged, and
     *  carry no idempotency key: a like whose answer was lost is not sent again (a missing like
     *  is better than a doubled one), so this is tried once (a 429 still waits once). */
    like(count = 1) {
        return this.call("POST", "/live/likes", { count }, 1);
    }

    /** Host, owner, admin: marks question `seq` as a pick. */
    highlight(seq) {
        return this.call("POST", `/live/questions/${seq}/highlight`, {});
    }

    /** Host, owner, admin: pins a notice. */
    pin(text) {
        return this.call("POST", "/live/pins", { text });
    }

    /** Sends a red packet of `total` cents split into `shares` (members, not guests); resolves
     *  to `{seq, id}`. The packet's `id` is its idempotency key (the same user sending the same
     *  id again gets the same seq), so retries cannot send it twice; a fresh one by default. */
    async sendRedPacket({ id = newRequestID(), total, currency = "CNY", shares }) {
        const answer = await this.call("POST", "/live/redpackets", { id, total, currency, shares });
        // The id is the caller's to grab with, whether or not the server's answer repeats it.
        return { ...answer, id };
    }

    /** Grabs a share of red packet `id`; resolves to `{amount, currency, seq}`. A user gets one
     *  share: grabbing again answers the same share, so a retried grab is safe. Rejects with 410
     *  `empty` (all taken) or `expired`, 403 for guests, 404 for an unknown id. */
    grabRedPacket(id) {
        return this.call("POST", `/live/redpackets/${encodeURIComponent(id)}/grab`, {});
    }

    /** Counts a click on product `id` (anyone, guests too); resolves to `{seq}`. Counted once
     *  per user (a second click answers the first seq), so retries are safe. */
    clickProduct(id) {
        return this.call("POST", `/live/products/${encodeURIComponent(id)}/clicks`, {});
    }

    /** Host, owner, admin: one board event, `{kind: "stroke", points, color, width}`,
     *  `{kind: "slide", url, page}` or `{kind: "clear"}` (points and width are fractions of the
     *  video picture); resolves to `{seq}`. Retried like a keyed write: a repeated stroke, slide
     *  or clear draws the same picture, so a doubled one cannot be seen. */
    drawBoard(board) {
        return this.call("POST", "/live/board", board);
    }

    // Streams.

    /**
     * Reads the event stream until `close()` or the live's `ended` event.
     *
     * - `onEvent(event)`: every logged event once, in seq order, never a seq twice or going
     *   back, across reconnects (`Last-Event-ID` resumes after the last seq handed over);
     *   `stats` events (no seq) are passed as they come.
     * - `onState(state, detail)`: "connecting", "open", "retrying" (detail: the error and the
     *   delay), "ended" (the live ended) or "failed" (detail: a QunboError that retrying cannot
     *   mend: 401, 403, 404).
     *
     * Network errors and 5xx move to the next node; each retry waits longer (with jitter). A
     * stream silent for 40 s (the server pings every 15 s) is taken for dead and reopened, and
     * so is a stream when the browser goes back online.
     */
    events({ after = 0, onEvent = () => {}, onState = () => {} } = {}) {
        let lastSeq = after;
        let closed = false;
        let controller = null;
        let silence = null;
        let nap = null;
        const reopen = () => {
            controller?.abort();
            nap?.abort();
        };
        const onOnline = () => reopen();
        globalThis.addEventListener?.("online", onOnline);
        globalThis.addEventListener?.("offline", onOnline);

        const finish = () => {
            closed = true;
            clearTimeout(silence);
            controller?.abort();
            globalThis.removeEventListener?.("online", onOnline);
            globalThis.removeEventListener?.("offline", onOnline);
        };

        const deliver = (message) => {
            let data;
            try {
                data = JSON.parse(message.data);
            } catch {
                return false;
            }
            if (message.event === "stats") {
                onEvent({ ...data, type: "stats" });
                return false;
            }
            const seq = Number(message.id ?? data.seq);
            if (!Number.isFinite(seq) || seq <= lastSeq) return false;
            lastSeq = seq;
            onEvent(data);
            return data.type === "ended";
        };

        const run = async () => {
            let attempt = 0;
            while (!closed) {
                controller = new AbortController();
                const signal = controller.signal;
                const watch = () => {
                    clearTimeout(silence);
                    silence = setTimeout(() => controller.abort(), 40000);
                };
                let problem = null;
                try {
                    onState("connecting", { node: this.node, after: lastSeq });
                    const headers = { Accept: "text/event-stream" };
                    if (lastSeq > 0) headers["Last-Event-ID"] = String(lastSeq);
                    watch();
                    const response = await this.send(this.node + this.path("/live/events"), { headers, signal });
                    if (!response.ok) {
                        const error = await QunboError.from(response);
                        if (!RETRYABLE.has(response.status) && response.status !== 429) {
                            onState("failed", error);
                            finish();
                            return;
                        }
                        throw error;
                    }
                    onState("open", { node: this.node });
                    attempt = 0;
                    let ended = false;
                    const parser = new SSEParser((message) => {
                        if (deliver(message)) ended = true;
                    });
                    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
                    for (;;) {
                        const { value, done } = await reader.read();
                        if (done) break;
                        watch();
                        parser.push(value);
                        if (ended) break;
                    }
                    if (ended) {
                        onState("ended", { lastSeq });
                        finish();
                        return;
                    }
                    problem = QunboError.network("the event stream ended");
                } catch (error) {
                    if (closed) return;
                    problem = error;
                    // An abort by the silence watchdog or the online/offline events: reopen now.
                    if (signal.aborted) attempt = 0;
                }
                clearTimeout(silence);
                if (closed) return;
                if (problem instanceof QunboError && (problem.status === 0 || problem.status >= 500)) this.nextNode();
                const delay =
                    problem?.retryAfter != null ? problem.retryAfter * 1000 : attempt === 0 ? 200 : backoff(attempt);
                onState("retrying", { error: problem, delay, after: lastSeq });
                attempt++;
                // Cut short when the browser comes back online.
                nap = new AbortController();
                await sleep(delay, nap.signal);
            }
        };
        const done = run();
        return {
            close: finish,
            done,
            get lastSeq() {
                return lastSeq;
            },
        };
    }

    /**
     * Fetches the live as fragmented MP4 (`…/live/stream.mp4`, for Media Source Extensions)
     * with the token in the header, handing each chunk (a Uint8Array) to `onChunk`. Resolves
     * once the response has started, to `{close(), done}` (`done` settles when the stream ends);
     * rejects with a QunboError when the node refuses (404 when the node has no fMP4 or no live).
     */
    async media({ onChunk, path = "/live/stream.mp4" }) {
        const controller = new AbortController();
        const response = await this.send(this.node + this.path(path), { signal: controller.signal });
        if (!response.ok) throw await QunboError.from(response);
        const reader = response.body.getReader();
        const done = (async () => {
            for (;;) {
                const { value, done: finished } = await reader.read();
                if (finished) return;
                onChunk(value);
            }
        })();
        done.catch(() => {});
        return { close: () => controller.abort(), done };
    }

    /**
     * A URL for a native HLS player (`<video src>`), which cannot send headers: the token goes
     * in `?access_token=`, and the playlist carries it on to its segment URIs. Pages serve
     * themselves with `Referrer-Policy: no-referrer` so it goes no further.
     */
    hlsURL(suffix) {
        return `${this.node}${this.path(suffix)}?access_token=${encodeURIComponent(this.token)}`;
    }

    /** The live HLS playlist URL (see hlsURL). */
    liveHLS() {
        return this.hlsURL("/live/index.m3u8");
    }

    /** A replay's HLS VOD playlist URL (see hlsURL). */
    replayHLS(sessionID) {
        return this.hlsURL(`/replays/${encodeURIComponent(sessionID)}/index.m3u8`);
    }
}

/** Reads `#token=...` from the page URL and removes it from the address bar (and so from the
 *  history and any later copy of the link), keeping it for this tab only (sessionStorage) so
 *  a reload still works. `key` separates the pages' tokens. */
export function takeFragmentToken(key) {
    const params = new URLSearchParams(location.hash.slice(1));
    const fromURL = params.get("token");
    if (fromURL) {
        sessionStorage.setItem(key, fromURL);
        history.replaceState(null, "", location.pathname + location.search);
        return fromURL;
    }
    return sessionStorage.getItem(key);
}
