// The operator console (/console#token=<operator JWT>): members, ring shares and sessions of
// the whole cluster, refreshed every 2 s, and a drain button per node. Membership and ring come
// from the node serving the page; sessions and readiness from each member itself (every node
// answers for what it holds), so a drain goes to that node too.
import { QunboClient, QunboError, takeFragmentToken } from "/sdk/qunbo.js";
import { $, accessMessage, hideNotice, showNotice } from "/web/common.js";

const REFRESH_MS = 2000;
const token = takeFragmentToken("qunbo.console.token");
const client = new QunboClient({ token, group: "" });
let timer = null;

/** A member's base URL: its advertised address, with this page's scheme if it has none. */
function baseURL(member) {
    return /^https?:\/\//.test(member.address) ? member.address : `${location.protocol}//${member.address}`;
}

async function admin(base, path, init = {}) {
    const response = await client.send(base + path, init);
    if (!response.ok) throw await QunboError.from(response);
    return response.json();
}

/** `/readyz` of a member: "ready", "draining" (503: not ready, e.g. after a drain) or "down". */
async function readiness(base) {
    try {
        const response = await fetch(`${base}/readyz`, { cache: "no-store" });
        return response.ok ? "ready" : "draining";
    } catch {
        return "down";
    }
}

function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
    return td;
}

function stateCell(row, state) {
    const td = cell(row, state, "state");
    td.dataset.state = state;
    return td;
}

function renderMembers(members, self, shares, ready) {
    const body = $("members").querySelector("tbody");
    body.replaceChildren();
    for (const member of [...members].sort((a, b) => a.id.localeCompare(b.id))) {
        const row = document.createElement("tr");
        row.dataset.node = member.id;
        const id = cell(row, member.id);
        if (member.id === self) {
            const mark = document.createElement("span");
            mark.className = "self";
            mark.textContent = "(this page)";
            id.append(mark);
        }
        cell(row, member.address);
        stateCell(row, member.state);
        stateCell(row, ready.get(member.id) ?? "–");
        cell(row, member.zone ?? "–");
        cell(row, member.rttMs == null ? "–" : member.rttMs.toFixed(1), "num");
        cell(row, String(member.sessions ?? 0), "num");
        cell(row, String(member.viewers ?? 0), "num");
        const share = shares.get(member.id);
        cell(row, share == null ? "–" : `${(share * 100).toFixed(1)} %`, "num");
        const action = cell(row, "");
        if (member.state === "alive" || member.state === "suspect") {
            const button = document.createElement("button");
            button.type = "button";
            button.className = "drain";
            button.dataset.node = member.id;
            // A node already draining (or not answering) has nothing to be asked.
            button.disabled = ready.get(member.id) !== "ready";
            button.textContent = ready.get(member.id) === "draining" ? "Draining" : "Drain";
            button.addEventListener("click", () => void confirmDrain(member));
            action.append(button);
        }
        body.append(row);
    }
}

/** Sessions as each holder reports them, folded into one row per session. */
function renderSessions(held) {
    const sessions = new Map();
    for (const { node, list } of held) {
        for (const s of list) {
            const key = `${s.group}/${s.session}`;
            const row = sessions.get(key) ?? { group: s.group, session: s.session, replicas: new Set(), relays: new Set(), lastSeq: 0, lag: 0 };
            if (s.role === "relay") row.relays.add(node);
            else row.replicas.add(node);
            for (const relay of s.relays ?? []) row.relays.add(typeof relay === "string" ? relay : relay.node ?? relay.id);
            if (s.role === "primary") {
                row.primary = node;
                row.lag = s.lagSeq ?? 0;
            }
            row.primary ??= s.primary ?? undefined;
            row.lastSeq = Math.max(row.lastSeq, s.lastSeq ?? 0);
            sessions.set(key, row);
        }
    }
    const body = $("sessions").querySelector("tbody");
    body.replaceChildren();
    for (const key of [...sessions.keys()].sort()) {
        const s = sessions.get(key);
        const row = document.createElement("tr");
        row.dataset.group = s.group;
        cell(row, s.group);
        cell(row, s.session);
        cell(row, s.primary ?? "–");
        cell(row, [...s.replicas].sort().join(", "));
        cell(row, s.relays.size > 0 ? [...s.relays].sort().join(", ") : "–");
        cell(row, String(s.lastSeq), "num");
        cell(row, String(s.lag), "num");
        body.append(row);
    }
    $("no-sessions").hidden = sessions.size > 0;
}

async function refresh() {
    let members;
    let ring;
    try {
        [members, ring] = await Promise.all([
            admin(location.origin, "/admin/v1/members"),
            admin(location.origin, "/admin/v1/ring"),
        ]);
    } catch (error) {
        if (error.status === 401 || error.status === 403) {
            stop(accessMessage(error, { operator: true }));
            return;
        }
        showNotice(`This node does not answer: ${accessMessage(error, { operator: true })}`);
        return;
    }
    hideNotice();
    const shares = new Map(ring.nodes.map((n) => [n.id, n.share]));
    const reachable = members.members.filter((m) => m.state === "alive" || m.state === "suspect");
    const ready = new Map();
    const held = [];
    await Promise.all(
        reachable.map(async (member) => {
            const base = baseURL(member);
            const [state, list] = await Promise.all([
                readiness(base),
                admin(base, "/admin/v1/sessions").catch(() => []),
            ]);
            ready.set(member.id, state);
            held.push({ node: member.id, list });
        }),
    );
    renderMembers(members.members, members.self, shares, ready);
    renderSessions(held);
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()} from ${members.self}`;
}

function stop(message) {
    clearInterval(timer);
    showNotice(message);
    $("updated").textContent = "Stopped.";
}

async function confirmDrain(member) {
    const dialog = $("confirm");
    $("confirm-text").textContent =
        `Drain ${member.id} (${member.address})? It hands every session it holds to other replicas and takes no new ones; its /readyz turns 503.`;
    dialog.returnValue = "";
    dialog.showModal();
    await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
    if (dialog.returnValue !== "drain") return;
    const result = $("result");
    try {
        await admin(baseURL(member), "/admin/v1/drain", { method: "POST" });
        result.textContent = `${member.id}: drain accepted. It hands its sessions to other replicas and stops taking new ones.`;
    } catch (error) {
        result.textContent = `${member.id}: drain failed: ${accessMessage(error, { operator: true })}`;
    }
    result.hidden = false;
    void refresh();
}

if (!token) {
    stop("This link has no operator token: open /console#token=<token from qunbo token --admin>.");
} else {
    void refresh();
    timer = setInterval(() => void refresh(), REFRESH_MS);
}
