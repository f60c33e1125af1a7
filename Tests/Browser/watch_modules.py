"""The watch page's red packets, product cards and board, in a real Chromium against a real node
with a live being pushed by ffmpeg; what the API is sent (curl, as the host's app would) must
show in the page, and what the page does must be what the API then reports.

    python3 Tests/Browser/watch_modules.py SCENARIO --node URL --group G --tokens JSON --shots DIR

SCENARIO: modules (a red packet grabbed in the page, a spotlighted product, a stroke over the
video, a slide; desktop and phone layouts), guest (a guest's grab is refused, saying why).
`--tokens`: as for watch_page.py, plus gus (a guest of the group).
"""

import uuid

from qunbo_browser import Shots, browser, check, open_page, run, text_of, wait, wait_event
from watch_page import Live, open_live, parse, wait_playing

# A 1x1 PNG for the product images: Playwright answers for shop.example, nothing leaves the box.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf50000003010100c9fe92ef0000000049454e44ae426082"
)
SHOP = "https://shop.example"

# The canvas's box against the video's displayed picture (object-fit: contain letterboxes a 4:3
# picture in the 16:9 stage): [canvas left, top, width, height, picture left, top, width, height].
BOARD_BOXES = """() => {
    const v = document.getElementById('video');
    const c = document.getElementById('board-canvas');
    const box = v.getBoundingClientRect();
    const scale = Math.min(box.width / v.videoWidth, box.height / v.videoHeight);
    const w = v.videoWidth * scale, h = v.videoHeight * scale;
    const r = c.getBoundingClientRect();
    return [r.left, r.top, r.width, r.height, box.left + (box.width - w) / 2, box.top + (box.height - h) / 2, w, h];
}"""

# The canvas pixel [r, g, b, a] at a point given as fractions of the picture.
BOARD_PIXEL = """([x, y]) => {
    const c = document.getElementById('board-canvas');
    return [...c.getContext('2d').getImageData(Math.floor(x * c.width), Math.floor(y * c.height), 1, 1).data];
}"""


def serve_shop(context):
    """shop.example, as the product links and images point to it: a page and a PNG."""
    def answer(route):
        if route.request.url.endswith(".png"):
            route.fulfill(body=PIXEL, content_type="image/png")
        else:
            route.fulfill(body="<!doctype html><title>Shop</title><p>the shop", content_type="text/html")

    context.route(f"{SHOP}/**", answer)


def post(live, path, user, body, what):
    status, answer = live.call("POST", path, user, body)
    check(status == 201, f"{what} (status {status}: {answer})")
    return answer


def events_url(args):
    return f"{args.node}/v1/groups/{args.group}/live/events"


def check_red_packet(args, live, page):
    """ann sends a packet; bob grabs it in the page; the amount shown is the one the API logged."""
    packet = f"rp-{uuid.uuid4().hex[:8]}"
    post(live, "/live/redpackets", "ann", {"id": packet, "total": 1000, "currency": "CNY", "shares": 3},
         "ann sends a red packet of 10.00 CNY in 3 shares")
    card = f".redpacket[data-id='{packet}']"
    wait(page, f"() => document.querySelector(\"{card} .rp-grab\")?.disabled === false", "the red packet card shows, Grab enabled")
    check(text_of(page, f"{card} .rp-name") == "Ann", "the card names the sender")
    check(text_of(page, f"{card} .rp-total") == "¥10.00", "the card shows the total")
    check(text_of(page, f"{card} .rp-left") == "3 of 3 left", "the card shows the shares left")
    page.click(f"{card} .rp-grab")
    wait(page, f"() => document.querySelector(\"{card}\").dataset.state === 'got'", "the grab is answered in the page")
    shown = int(page.get_attribute(card, "data-amount"))
    result = text_of(page, f"{card} .rp-result")
    check(result == f"You got ¥{shown // 100}.{shown % 100:02d}", f"the page says what bob got ({result!r})")
    check(page.is_disabled(f"{card} .rp-grab"), "the Grab button is off after the grab")
    grab = wait_event(events_url(args), args.tokens["ann"],
                      lambda e: e.get("type") == "redpacket_grab" and e.get("redpacket") == packet and e.get("user") == "bob",
                      "the API's redpacket_grab event for bob")
    check(grab["amount"] == shown, f"the amount shown ({shown}) is the API's ({grab['amount']})")
    wait(page, f"() => document.querySelector(\"{card} .rp-left\").textContent === '2 of 3 left'",
         "shares left counts down from the grab event")
    # Once every share is taken the card says so to those who got none.
    for user in ("cat", "dan"):
        post(live, f"/live/redpackets/{packet}/grab", user, {}, f"{user} grabs with curl")
    wait(page, f"() => document.querySelector(\"{card} .rp-left\").textContent === 'all 3 taken'", "the card shows all taken")
    return packet


def check_products(args, live, page, context):
    """Two cards, the second spotlighted: shown first and marked; its link is counted and opens."""
    tea = {"id": "tea", "title": "Longjing tea <b>250 g</b>", "price": 1999, "currency": "CNY",
           "url": f"{SHOP}/tea", "image": f"{SHOP}/tea.png"}
    cups = {"id": "cups", "title": "Tea cups, set of 4", "price": 4500, "currency": "CNY", "url": f"{SHOP}/cups"}
    for product in (tea, cups):
        post(live, "/live/products", "ann", product, f"ann posts product {product['id']}")
    post(live, "/live/products/cups/spotlight", "ann", {}, "ann spotlights the cups")
    wait(page, "() => document.querySelector('.product[data-spotlight]')?.dataset.id === 'cups'",
         "the spotlighted product is marked in the page")
    order = page.evaluate("() => [...document.querySelectorAll('.product')].map(e => e.dataset.id)")
    check(order == ["cups", "tea"], f"the spotlighted product comes first ({order})")
    check(page.is_visible(".product[data-spotlight] .product-badge"), "the spotlight badge shows")
    check(text_of(page, ".product[data-id='tea'] .product-title") == tea["title"], "a title is shown as text, not HTML")
    check(text_of(page, ".product[data-id='tea'] .product-price") == "¥19.99", "the price is formatted from cents")
    wait(page, "() => document.querySelector(\".product[data-id='tea'] img\")?.complete", "the product image loads")
    link = page.locator(".product[data-id='cups'] .product-link")
    check(link.get_attribute("rel") == "noopener noreferrer" and link.get_attribute("target") == "_blank",
          "the link opens a new tab without an opener")
    with context.expect_page() as opened:
        link.click()
    shop = opened.value
    shop.wait_for_load_state()
    check(shop.url == f"{SHOP}/cups", f"the product link opened its url ({shop.url})")
    check(shop.evaluate("window.opener") is None, "the shop page has no opener")
    shop.close()
    wait_event(events_url(args), args.tokens["ann"],
               lambda e: e.get("type") == "click" and e.get("product") == "cups" and e.get("user") == "bob",
               "the API logged bob's click on the cups")


def check_board(live, page):
    """A green stroke through the picture: drawn on the canvas over the video's picture (on the
    stroke: the stroke's colour; elsewhere: transparent), also after the page is resized."""
    stroke = {"kind": "stroke", "points": [[0.2, 0.3], [0.5, 0.3], [0.8, 0.7]], "color": "#00c853", "width": 0.02}
    post(live, "/live/board", "ann", stroke, "ann draws a stroke")
    wait(page, "() => Number(document.getElementById('board-canvas').dataset.strokes) >= 1", "the stroke is drawn")
    for size in ({"width": 1280, "height": 800}, {"width": 1000, "height": 640}):
        page.set_viewport_size(size)
        wait(page, f"""() => {{ const b = ({BOARD_BOXES})(); return b.slice(0, 4).every((v, i) => Math.abs(v - b[i + 4]) < 1.5); }}""",
             f"the board canvas lies exactly on the video's picture at {size['width']}x{size['height']}")
        on = page.evaluate(BOARD_PIXEL, [0.35, 0.3])
        off = page.evaluate(BOARD_PIXEL, [0.3, 0.8])
        check(on[3] == 255 and abs(on[0] - 0x00) < 8 and abs(on[1] - 0xc8) < 8 and abs(on[2] - 0x53) < 8,
              f"on the stroke the canvas has the stroke's colour ({on})")
        check(off[3] == 0, f"off the stroke the canvas is transparent ({off})")
    check(page.evaluate("getComputedStyle(document.getElementById('board-canvas')).pointerEvents") == "none",
          "the canvas takes no clicks from the video")
    post(live, "/live/board", "ann", {"kind": "slide", "url": f"{SHOP}/deck.pdf", "page": 3}, "ann shows slide 3")
    wait(page, "() => document.querySelector('.board-slide-label')?.textContent === 'Slide 3 · deck.pdf'",
         "the slide label shows")
    post(live, "/live/board", "ann", {"kind": "clear"}, "ann clears the board")
    wait(page, "() => document.getElementById('board-canvas').dataset.strokes === '0'", "the board is cleared")
    check(page.evaluate(BOARD_PIXEL, [0.35, 0.3])[3] == 0, "where the stroke was the canvas is transparent")
    post(live, "/live/board", "ann", stroke, "ann draws the stroke again (for the screenshot)")
    wait(page, "() => document.getElementById('board-canvas').dataset.strokes === '1'", "the stroke is drawn again")


def check_phone_layout(args, chromium, shots):
    """The same live on a 360x740 phone: the modules fit, the controls stay on screen."""
    phone = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    context, page = open_live(chromium, args, user="cat", setup=serve_shop, **phone)
    wait(page, "() => document.querySelectorAll('.redpacket').length > 0 && document.querySelectorAll('.product').length > 1",
         "the phone page shows the red packet and the products")
    wait_playing(page)
    for selector in ("#video", ".redpacket", ".product[data-spotlight]", "#comments", "#text", "#send", "#like", "#tip"):
        box = page.locator(selector).first.bounding_box()
        check(box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360.5, f"{selector} fits the width ({box})")
        check(box["y"] >= 0 and box["y"] + box["height"] <= 740.5, f"{selector} is on screen without scrolling ({box})")
    check(page.evaluate("document.documentElement.scrollWidth <= 360"), "no sideways scrolling")
    shots.take(page, "watch-modules-phone", best=True)
    context.close()


def scenario_modules(args, shots, chromium):
    live = Live(args)
    context, page = open_live(chromium, args, setup=serve_shop)
    wait_playing(page)
    check_red_packet(args, live, page)
    check_products(args, live, page, context)
    check_board(live, page)
    page.set_viewport_size({"width": 1280, "height": 800})
    wait(page, f"""() => {{ const b = ({BOARD_BOXES})(); return Math.abs(b[2] - b[6]) < 1.5; }}""", "the board follows back")
    shots.take(page, "watch-modules-desktop", best=True)
    check_phone_layout(args, chromium, shots)
    context.close()


def scenario_guest(args, shots, chromium):
    live = Live(args)
    context, page = open_live(chromium, args, user="gus")
    packet = f"rp-{uuid.uuid4().hex[:8]}"
    post(live, "/live/redpackets", "ann", {"id": packet, "total": 500, "currency": "CNY", "shares": 5},
         "ann sends a red packet")
    card = f".redpacket[data-id='{packet}']"
    wait(page, f"() => document.querySelector(\"{card} .rp-grab\")?.disabled === false", "the guest sees the red packet")
    page.click(f"{card} .rp-grab")
    wait(page, "() => !document.querySelector('.rp-note').hidden", "the guest's grab is refused in the page")
    check("only members of the group can grab" in text_of(page, ".rp-note"), "the page says why")
    check(page.is_disabled(f"{card} .rp-grab"), "the Grab button is off for the guest")
    status, answer = live.call("POST", f"/live/redpackets/{packet}/grab", "gus", {})
    check(status == 403, f"the API refuses a guest's grab too (status {status}: {answer})")
    shots.take(page, "watch-guest", best=True)
    context.close()


def main():
    args = parse(["modules", "guest"])
    shots = Shots(args.shots)
    with browser() as chromium:
        {"modules": scenario_modules, "guest": scenario_guest}[args.scenario](args, shots, chromium)


if __name__ == "__main__":
    run(main)
