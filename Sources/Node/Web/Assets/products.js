// Product cards on the watch page, built from `product` events (a repeated id updates its card)
// and `spotlight` events (the product the host is showing now: first, and marked). Event text is
// set as text; URLs reach `href`/`src` only when they are http(s).
import { element, price, webURL } from "/web/common.js";

export class Products {
    /**
     * @param {object} options
     * @param {HTMLElement} options.container the page's `#module-products`
     * @param {import("/sdk/qunbo.js").QunboClient} options.client
     */
    constructor({ container, client }) {
        this.container = container;
        this.client = client;
        this.list = element("ol", "product-list");
        this.list.setAttribute("aria-label", "Products");
        this.container.append(this.list);
        /** id → card element. */
        this.cards = new Map();
        this.spotlit = null;
    }

    render(event) {
        if (event.type === "product") this.upsert(event);
        else if (event.type === "spotlight") this.spotlight(event.product);
    }

    reset() {
        this.cards.clear();
        this.spotlit = null;
        this.list.replaceChildren();
        this.container.hidden = true;
    }

    upsert(event) {
        const card = element("li", "product");
        card.dataset.id = event.id;
        const image = webURL(event.image);
        if (image) {
            const picture = element("img", "product-image");
            picture.alt = "";
            picture.loading = "lazy";
            picture.referrerPolicy = "no-referrer";
            picture.src = image;
            // A broken image would show the browser's broken-image mark: drop it instead.
            picture.addEventListener("error", () => picture.remove(), { once: true });
            card.append(picture);
        }
        const body = element("div", "product-body");
        body.append(
            element("span", "product-badge", "Now showing"),
            element("p", "product-title", event.title),
            element("p", "product-price", price(event.price, event.currency))
        );
        card.append(body);
        const url = webURL(event.url);
        if (url) {
            const link = element("a", "product-link", "View");
            link.href = url;
            link.target = "_blank";
            link.rel = "noopener noreferrer";
            link.setAttribute("aria-label", `View ${event.title}`);
            // Counted on the way out; the browser opens the link itself, so the new tab is never
            // held up by (or lost to) the API call.
            link.addEventListener("click", () => {
                this.client.clickProduct(event.id).catch(() => {});
            });
            card.append(link);
        }
        const old = this.cards.get(event.id);
        if (old) old.replaceWith(card);
        else this.list.append(card);
        this.cards.set(event.id, card);
        if (this.spotlit === event.id) this.spotlight(event.id);
        this.container.hidden = false;
    }

    spotlight(id) {
        const card = this.cards.get(id);
        if (!card) return;
        for (const other of this.cards.values()) delete other.dataset.spotlight;
        card.dataset.spotlight = "true";
        this.spotlit = id;
        this.list.prepend(card);
        this.list.scrollLeft = 0;
    }
}
