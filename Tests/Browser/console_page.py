"""The operator console in a real Chromium against a real 3-node cluster with a live session.

    python3 Tests/Browser/console_page.py --node URL --admin-token JWT --client-token JWT
        --group G --members n1,n2,n3 --drain n3 --shots DIR

Checks: the members (state, RTT, load, ring share) and the session (primary, replicas) show;
a bad token and a client (non-operator) token get clear messages; Drain on one node asks for
confirmation, is sent to that node, and the node shows as draining.
"""

import argparse

from qunbo_browser import Shots, browser, check, expect_notice, open_page, run, text_of, wait


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--client-token", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--members", required=True)
    parser.add_argument("--drain", required=True)
    parser.add_argument("--shots", required=True)
    return parser.parse_args()


def cell(node, column):
    """JS: the text of `column` (0-based) in the members row of `node`."""
    return f"document.querySelector('#members tr[data-node=\"{node}\"]')?.children[{column}]?.textContent"


def main():
    args = parse()
    shots = Shots(args.shots)
    members = args.members.split(",")
    with browser() as chromium:
        context, page = open_page(chromium, f"{args.node}/console#token=x.y.z")
        expect_notice(page, "expired or is invalid", "a bad token (401)")
        context.close()

        context, page = open_page(chromium, f"{args.node}/console#token={args.client_token}")
        expect_notice(page, "not an operator token", "a client token (403)")
        shots.take(page, "console-403")
        context.close()

        context, page = open_page(chromium, f"{args.node}/console#token={args.admin_token}")
        check("token=" not in page.url, "the token is gone from the address bar")
        wait(page, f"() => document.querySelectorAll('#members tbody tr').length === {len(members)}", f"{len(members)} members are listed")
        for node in members:
            wait(page, f"() => {cell(node, 2)} === 'alive' && {cell(node, 3)} === 'ready'", f"{node} is alive and ready")
            share = page.evaluate(f"() => {cell(node, 8)}")
            check(share.endswith("%") and float(share.rstrip(" %")) > 0, f"{node} has a ring share ({share})")
        wait(page, "() => [...document.querySelectorAll('#members tbody tr')].filter(r => r.children[5].textContent !== '–').length >= 2",
             "RTT estimates show for the peers")
        wait(page, f"""() => {{
            const row = document.querySelector('#sessions tr[data-group="{args.group}"]');
            return row && row.children[2].textContent.startsWith('n') && row.children[3].textContent.split(', ').length === 3;
        }}""", "the session shows with its primary and 3 replicas")
        # Each node gossips its load: the 3 replicas hold a copy of the live session each.
        wait(page, f"() => {' && '.join(f'+{cell(n, 6)} >= 1' for n in members[:3])}",
             "each replica's load counts the session", 15)
        updated = text_of(page, "#updated")
        wait(page, f"() => document.getElementById('updated').textContent !== {updated!r}", "the console refreshes by itself", 10)
        shots.take(page, "console", best=True)

        # Cancel first: nothing happens.
        page.click(f"button.drain[data-node='{args.drain}']")
        wait(page, "() => document.getElementById('confirm').open", "Drain asks for confirmation")
        check(args.drain in text_of(page, "#confirm-text"), "the dialog names the node")
        shots.take(page, "console-confirm", best=True)
        page.click("#confirm-cancel")
        wait(page, "() => !document.getElementById('confirm').open", "Cancel closes the dialog")
        check(page.locator("#result").is_hidden(), "cancel sends nothing")

        page.click(f"button.drain[data-node='{args.drain}']")
        wait(page, "() => document.getElementById('confirm').open", "the dialog opens again")
        page.click("#confirm-drain")
        wait(page, "() => !document.getElementById('result').hidden", "the drain's result shows")
        check(f"{args.drain}: drain accepted" in text_of(page, "#result"), f"the drain was accepted ({text_of(page, '#result')})")
        wait(page, f"() => ['draining', 'down'].includes({cell(args.drain, 3)}) || ['left', 'dead'].includes({cell(args.drain, 2)})",
             f"{args.drain} shows as draining", 30)
        for node in members:
            if node != args.drain:
                check(page.evaluate(f"() => {cell(node, 3)}") == "ready", f"{node} is still ready")
        wait(page, f"""() => {{
            const row = document.querySelector('#sessions tr[data-group="{args.group}"]');
            return row && row.children[2].textContent.startsWith('n') && row.children[2].textContent !== '{args.drain}';
        }}""", f"the session's primary moved off {args.drain}", 40)
        shots.take(page, "console-drained", best=True)
        context.close()


if __name__ == "__main__":
    run(main)
