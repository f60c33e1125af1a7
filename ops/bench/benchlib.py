"""Helpers every benchmark script shares: the binary under test and waiting for a condition."""
import os, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def release_binary():
    """$QUNBO_BIN, or the release build (built first)."""
    b = os.environ.get("QUNBO_BIN")
    if b:
        return b
    subprocess.run(["swift", "build", "-c", "release", "--product", "qunbo"], cwd=ROOT, check=True)
    return subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip() + "/qunbo"


def c_tool(name):
    """Builds ops/bench/<name>.c (a load side in C, so the measuring does not take the cores the
    nodes need) into the temp dir, once per source change; returns the binary's path."""
    import tempfile
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".c")
    out = os.path.join(tempfile.gettempdir(), f"qunbo-{name}-{int(os.path.getmtime(src))}")
    if not os.path.exists(out):
        subprocess.run(["cc", "-O2", "-Wall", "-o", out, src], check=True)
    return out


def wait(cond, timeout, what, every=0.05):
    """Polls cond() until it is truthy (its value is returned) or exits after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")
