// Red packets on the watch page: a card per packet (who sent it, the total, shares left) with a
// Grab button. The cards are built from the event log alone (`redpacket`, `redpacket_grab`,
// `redpacket_expired`), so a page opened late or reloaded shows the same cards, including the
// viewer's own share. All event text is set as text.
import { accessMessage, element, price } from "/web/common.js";

/** Cards kept on the page; older packets go (they are long over). */
const MAX_CARDS = 20;

export class RedPackets {
    /**
     * @param {object} options
     * @param {HTMLElement} options.container the page's `#module-redpackets`
     * @param {import("/sdk/qunbo.js").QunboClient} options.client
     * @param {string} options.me the viewer's user id (the token's `sub`)
     */
    constructor({ container, client, me }) {
        this.container = container;
        this.client = client;
        this.me = me;
        /** The cards, one row; below it, why this viewer cannot grab (a guest), once for all. */
        this.strip = element("div", "rp-strip");
        this.note = element("p", "rp-note");
        this.note.setAttribute("role", "status");
        this.note.hidden = true;
        this.container.append(this.strip, this.note);
        /** Set when the server refused this viewer any grab (a guest): every button is off. */
        this.refusal = null;
        /** id → {card, parts, state}; state: open, grabbing, got, empty, expired, refused. */
        this.packets = new Map();
        /** Grabbing is for the live: off in a replay and once the live ended. */
        this.live = true;
    }

    /** One logged event; others are ignored. */
    render(event) {
        if (event.type === "redpacket") this.add(event);
        else if (event.type === "redpacket_grab") this.grabbed(event);
        else if (event.type === "redpacket_expired") this.expired(event.redpacket);
    }

    reset() {
        this.packets.clear();
        this.strip.replaceChildren();
        this.container.hidden = true;
    }

    /** Live or not (replay, ended): only a live card's button can grab. */
    setLive(live) {
        this.live = live;
        for (const packet of this.packets.values()) this.show(packet);
    }

    add(event) {
        if (this.packets.has(event.id)) return;
        const card = element("article", "redpacket");
        card.dataset.id = event.id;
        const seal = element("div", "rp-seal");
        seal.setAttribute("aria-hidden", "true");
        const body = element("div", "rp-body");
        const from = element("p", "rp-from");
        from.append(element("span", "rp-name", event.name || event.user), " sent a red packet");
        const meta = element("p", "rp-meta");
        const left = element("span", "rp-left");
        meta.append(element("span", "rp-total", price(event.total, event.currency)), " · ", left);
        const result = element("p", "rp-result");
        result.setAttribute("role", "status");
        body.append(from, meta, result);
        const button = element("button", "rp-grab", "Grab");
        button.type = "button";
        card.append(seal, body, button);

        const expires = Date.parse(event.expiresAt ?? "");
        const packet = {
            card,
            parts: { left, result, button },
            shares: event.shares,
            total: event.shares,
            state: this.live && expires < Date.now() ? "expired" : "open",
            message: "",
        };
        button.addEventListener("click", () => void this.grab(event.id, packet));
        this.packets.set(event.id, packet);
        this.strip.prepend(card);
        this.strip.scrollLeft = 0;
        while (this.strip.children.length > MAX_CARDS) {
            this.packets.delete(this.strip.lastElementChild.dataset.id);
            this.strip.lastElementChild.remove();
        }
        this.container.hidden = false;
        this.show(packet);
    }

    grabbed(event) {
        const packet = this.packets.get(event.redpacket);
        if (!packet) return;
        packet.shares = event.shares;
        if (event.user === this.me) this.got(packet, event.amount, event.currency);
        else if (packet.shares <= 0 && packet.state === "open") packet.state = "empty";
        this.show(packet);
    }

    expired(id) {
        const packet = this.packets.get(id);
        if (!packet) return;
        packet.expired = true;
        if (packet.state === "open" || packet.state === "grabbing") packet.state = "expired";
        this.show(packet);
    }

    got(packet, amount, currency) {
        packet.state = "got";
        packet.amount = amount;
        packet.message = `You got ${price(amount, currency)}`;
        packet.card.dataset.amount = String(amount);
        packet.card.dataset.currency = currency;
    }

    async grab(id, packet) {
        if (packet.state !== "open" || !this.live) return;
        packet.state = "grabbing";
        this.show(packet);
        try {
            const answer = await this.client.grabRedPacket(id);
            this.got(packet, answer.amount, answer.currency);
        } catch (error) {
            if (packet.state === "got") {
                // The grab event for this viewer arrived first: that is the answer.
            } else if (error.status === 410) {
                packet.state = error.code === "expired" ? "expired" : "empty";
                // Its grab events may still be on their way: the packet is empty all the same.
                if (packet.state === "empty") packet.shares = 0;
            } else if (error.status === 403 && error.code !== "kicked" && error.code !== "not_a_member") {
                // A guest: no packet can be grabbed, so say it once and turn every button off.
                packet.state = "open";
                this.refusal = "Guests can watch, but only members of the group can grab red packets.";
                this.note.textContent = this.refusal;
                this.note.hidden = false;
                for (const other of this.packets.values()) this.show(other);
            } else if (error.status === 404) {
                packet.state = "refused";
                packet.message = "This red packet no longer exists.";
            } else {
                // Rate limited, network, kicked: say why; a retry may work where it can.
                packet.state = error.status === 403 || error.status === 401 ? "refused" : "open";
                packet.message = accessMessage(error);
            }
        }
        this.show(packet);
    }

    /** Brings a card's text, button and `data-state` in line with its packet. */
    show(packet) {
        const { card, parts } = packet;
        card.dataset.state = packet.state;
        parts.left.textContent =
            packet.shares > 0 ? `${packet.shares} of ${packet.total} left` : `all ${packet.total} taken`;
        const words = {
            open: "Grab",
            grabbing: "Grabbing…",
            got: "Grabbed",
            empty: "All taken",
            expired: "Expired",
            refused: "Grab",
        };
        parts.button.textContent = words[packet.state];
        parts.button.disabled = packet.state !== "open" || !this.live || this.refusal != null;
        if (!this.live && packet.state === "open") parts.button.textContent = packet.expired ? "Expired" : "Closed";
        // "All taken" and "Expired" are the button's words; the line below is for the viewer's
        // share and for why a grab was refused.
        const status = packet.state === "empty" || packet.state === "expired" ? "" : packet.message;
        parts.result.textContent = status;
        parts.result.title = status;
        parts.result.hidden = !status;
    }
}
