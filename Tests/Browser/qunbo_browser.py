"""Shared pieces of the browser tests: Debian's Chromium driven by Playwright, the API called with
curl (as another app or user would), screenshots, and failing loudly.

The scripts are run by the Swift process tests (Tests/ProcessTests/Browser), which start real
nodes and a live first; each script exits 0 when every check passed, 1 with a `FAIL:` line when
one did not. Waits are conditions with deadlines (Playwright's wait_for_function), never sleeps.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("QUNBO_CHROMIUM", "/usr/bin/chromium")
# Screenshots a person should look at are copied here as well as to the test's own directory.
BEST_SHOTS = os.environ.get("QUNBO_SHOTS", "/tmp/qunbo-shots")
# Pages still open, and where this run's screenshots go: a failing run screenshots every open
# page there (`failure-<n>.png`), the artifacts a failure is diagnosed from.
OPEN_PAGES = []
SHOTS_DIRECTORY = [os.environ.get("QUNBO_FAILURE_SHOTS", "/tmp/qunbo-failure-shots")]


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)
    print(f"ok: {message}", flush=True)


def curl(method, url, token=None, body=None):
    """One API call with curl; returns (status, parsed JSON body or text)."""
    args = ["curl", "-s", "--max-time", "15", "-X", method, "-o", "-", "-w", "\n%{http_code}", url]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    text, _, status = out.rpartition("\n")
    try:
        return int(status), json.loads(text) if text else None
    except ValueError:
        return int(status or 0), text


def wait_event(url, token, predicate, what, timeout=20):
    """Reads the event stream at `url` (from its start) with curl until an event's JSON matches
    `predicate`, and returns it; fails with `what` once `timeout` s have passed (curl's own
    --max-time ends the read)."""
    args = ["curl", "-sN", "--max-time", str(timeout), "-H", f"Authorization: Bearer {token}", url]
    reader = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        for line in reader.stdout:
            if not line.startswith("data:"):
                continue
            try:
                event = json.loads(line[5:])
            except ValueError:
                continue
            if predicate(event):
                print(f"ok: {what}: {json.dumps(event)}", flush=True)
                return event
    finally:
        reader.kill()
        reader.wait()
    raise CheckFailed(f"timed out after {timeout} s waiting for {what} in the event stream")


class Shots:
    """Screenshots into `directory`; `best=True` ones also into BEST_SHOTS."""

    def __init__(self, directory):
        self.directory = directory
        SHOTS_DIRECTORY[0] = directory
        os.makedirs(directory, exist_ok=True)
        os.makedirs(BEST_SHOTS, exist_ok=True)

    def take(self, page, name, best=False):
        path = os.path.join(self.directory, f"{name}.png")
        page.screenshot(path=path)
        if best:
            shutil.copy(path, os.path.join(BEST_SHOTS, f"{name}.png"))
        print(f"screenshot: {path}", flush=True)
        return path


@contextmanager
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield chromium
        except BaseException:
            # Before the browser closes its pages: what they showed when the run failed.
            screenshot_open_pages()
            raise
        finally:
            chromium.close()


DESKTOP = {"width": 1280, "height": 800}


def open_page(chromium, url, setup=None, **context_options):
    """A page in a fresh context (its own storage; a desktop viewport unless told), logging the
    page's console and errors so a failure shows what the page saw. `setup(context)` runs before
    the page loads (routes for other sites)."""
    context_options.setdefault("viewport", DESKTOP)
    context = chromium.new_context(**context_options)
    if setup:
        setup(context)
    page = context.new_page()
    page.on("console", lambda m: print(f"[page {m.type}] {m.text}", flush=True))
    page.on("pageerror", lambda e: print(f"[page error] {e}", flush=True))
    OPEN_PAGES.append(page)
    page.goto(url)
    return context, page


def screenshot_open_pages():
    """After a failure: every page still open, as the person in front of it would see it."""
    os.makedirs(SHOTS_DIRECTORY[0], exist_ok=True)
    for n, page in enumerate(OPEN_PAGES):
        if page.is_closed():
            continue
        path = os.path.join(SHOTS_DIRECTORY[0], f"failure-{n}.png")
        try:
            page.screenshot(path=path)
            print(f"failure screenshot: {path} ({page.url.split('#')[0]})", flush=True)
        except Exception as error:  # the browser may be the thing that failed
            print(f"no failure screenshot of {page.url.split('#')[0]}: {error}", flush=True)


def wait(page, expression, what, timeout=30, arg=None):
    """Waits until `expression` (a JS function body or arrow) is truthy, or fails with `what`."""
    try:
        handle = page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=200)
    except Exception as error:  # Playwright's TimeoutError
        raise CheckFailed(f"timed out after {timeout} s waiting for {what}: {str(error).splitlines()[0]}")
    print(f"ok: {what}", flush=True)
    return handle.json_value()


def expect_notice(page, phrase, what):
    """Waits for the page's alert banner and checks that it says `phrase`."""
    wait(page, "() => !document.getElementById('notice').hidden", f"a notice shows ({what})")
    check(phrase in text_of(page, "#notice"), f"{what}: the notice says {phrase!r}")


def text_of(page, selector):
    return page.locator(selector).first.text_content() or ""


def run(main):
    """Runs `main()`, mapping a failed check (or any error) to exit status 1."""
    started = time.monotonic()
    try:
        main()
    except CheckFailed as failure:
        print(f"FAIL: {failure}", flush=True)
        sys.exit(1)
    except Exception as error:
        print(f"FAIL: {type(error).__name__}: {error}", flush=True)
        sys.exit(1)
    print(f"PASS in {time.monotonic() - started:.1f} s", flush=True)
