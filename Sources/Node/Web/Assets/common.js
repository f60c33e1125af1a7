// Helpers both pages share: element lookup, the notice banner, the words for access errors.
// User text is only ever set with textContent, never parsed as HTML.

export const $ = (id) => document.getElementById(id);

/** Shows `text` in the page's alert banner (`#notice`); `kind` styles it ("error", "info"). */
export function showNotice(text, kind = "error") {
    const notice = $("notice");
    notice.textContent = text;
    notice.dataset.kind = kind;
    notice.hidden = false;
}

export function hideNotice() {
    $("notice").hidden = true;
}

/** What to tell a person about a refused call: sign-in (401), membership or rights (403),
 *  else the server's message. `operator` words it for the console. */
export function accessMessage(error, { operator = false } = {}) {
    if (error.status === 401) {
        return operator
            ? "Your operator sign-in has expired or is invalid. Mint a new token (qunbo token --admin) and open the console with it."
            : "Your sign-in has expired or is invalid. Open the live again from the app to sign in anew.";
    }
    if (error.status === 403) {
        if (operator) return "This token is not an operator token: sign it with the cluster secret (qunbo token --admin).";
        if (error.code === "kicked") return "You were removed from this live by its host.";
        if (error.code === "muted") return "You are muted in this live: you can watch, but not write.";
        if (error.code === "not_a_member") return "You are not a member of this group, so you cannot watch its lives.";
        return "You are not allowed to do that here.";
    }
    if (error.status === 429) return "Slow down a little: too many requests. Try again in a moment.";
    if (error.status === 0) return "The network is unreachable. Check your connection.";
    return error.message || `Error ${error.status}`;
}

/** Minor units (cents) as a decimal amount with its currency, e.g. "12.50 CNY". */
export function money(minor, currency) {
    return `${(minor / 100).toFixed(2)} ${currency}`;
}

/** Minor units as a price for people, e.g. "¥19.99" (the browser's locale, the currency's own
 *  symbol); `money()`'s "19.99 XYZ" for a code the browser does not know. */
export function price(minor, currency) {
    try {
        return new Intl.NumberFormat(undefined, {
            style: "currency",
            currency,
            currencyDisplay: "narrowSymbol",
            minimumFractionDigits: 2,
            maximumFractionDigits: 2,
        }).format(minor / 100);
    } catch {
        return money(minor, currency);
    }
}

/** `url` if it is an absolute http(s) URL, else null: event text reaches `href` and `src` only
 *  through here, so no `javascript:` or `data:` URL from an event is ever followed or loaded. */
export function webURL(url) {
    if (typeof url !== "string") return null;
    try {
        const parsed = new URL(url);
        return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch {
        return null;
    }
}

/** A new element with a class and, optionally, its text (as text, never HTML). */
export function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text != null) made.textContent = String(text);
    return made;
}
