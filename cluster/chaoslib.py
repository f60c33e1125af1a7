"""Helpers for driving a local Qunbo cluster from Python (stdlib only): the cluster scripts,
client tokens, plain HTTP calls, fault injection and a raw Server-Sent Events reader.

Used by cluster/chaos. The cluster lives in its own QUNBO_CLUSTER_DIR and is started, signalled
and stopped with the operator scripts beside this file (cluster/up, kill, restart, down), so the
harness exercises exactly what operators run. Token minting and admin calls follow
ops/bench/replication.py.
"""
import base64, hashlib, hmac, http.client, json, os, random, select, socket, subprocess, time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_base(count, rng=None):
    """A port P such that P..P+count-1 are free on 127.0.0.1 now."""
    rng = rng or random.SystemRandom()
    while True:
        base = rng.randint(20000, 50000)
        ok = True
        for p in range(base, base + count):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base


def mint_token(secret, user, groups=None, admin=False, ttl=4 * 3600):
    """An HS256 client token, as `qunbo token` mints it."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    claims = {"sub": user, "groups": groups or {}, "exp": int(time.time()) + ttl}
    if admin:
        claims["admin"] = True
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def wait_until(cond, timeout, interval=0.1):
    """Polls cond() until it returns a truthy value (returned) or `timeout` s pass (None)."""
    end = time.monotonic() + timeout
    while True:
        try:
            v = cond()
        except Exception:
            v = None
        if v:
            return v
        if time.monotonic() >= end:
            return None
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body, error=None):
        self.status, self.headers, self.body, self.error = status, headers, body, error

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def __repr__(self):
        return f"<{self.status} {self.error or self.body[:200]!r}>"


def request(port, method, path, body=None, token=None, headers=None, timeout=10.0):
    """One HTTP/1.1 request on a fresh connection. Never raises for network trouble: status 0
    and `error` say what went wrong (refused, reset, timeout)."""
    h = {"Connection": "close"}
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    except socket.timeout:
        return Response(0, {}, b"", "timeout")
    except (OSError, http.client.HTTPException) as e:
        return Response(0, {}, b"", f"{type(e).__name__}: {e}")
    finally:
        conn.close()


def port_of_url(url):
    return urllib.parse.urlsplit(url).port


class Cluster:
    """A local cluster of `n` nodes (n1..nN on ports base..base+n-1) in `state_dir`."""

    def __init__(self, n, state_dir, node_flags=(), binary=None, base=None, log=None):
        self.n = n
        self.dir = state_dir
        self.base = base or free_base(n)
        self.node_flags = list(node_flags)
        self.env = dict(os.environ, QUNBO_CLUSTER_DIR=state_dir)
        if binary:
            self.env["QUNBO_BIN"] = binary
        self.log = log or (lambda msg: None)
        self.secret = None
        self.admin_token = None
        self.started = False

    @property
    def nodes(self):
        return [f"n{i}" for i in range(1, self.n + 1)]

    def port(self, node):
        return self.base + int(node[1:]) - 1

    def node_of_port(self, port):
        i = port - self.base + 1
        return f"n{i}" if 1 <= i <= self.n else None

    def script(self, name, *args, timeout=120):
        """Runs cluster/NAME; returns (exit status, stderr tail). Never hangs past `timeout`."""
        try:
            p = subprocess.run([os.path.join(ROOT, "cluster", name), *args], env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=timeout)
            return p.returncode, (p.stderr or "")[-2000:]
        except subprocess.TimeoutExpired:
            return 124, f"cluster/{name} {' '.join(args)} timed out after {timeout} s"

    def up(self):
        self.started = True
        code, err = self.script("up", str(self.n), "--base-port", str(self.base), "--no-demo", "--rtmp-base-port", "0", "--", *self.node_flags, timeout=600)
        if code != 0:
            raise RuntimeError(f"cluster/up failed ({code}):\n{err}")
        secrets = dict(l.strip().split("=", 1) for l in open(os.path.join(self.dir, "env")) if "=" in l)
        self.secret = secrets["QUNBO_AUTH_SECRET"]
        # Operator tokens are signed with the cluster secret, never the client one.
        self.admin_token = mint_token(secrets["QUNBO_CLUSTER_SECRET"], "chaos-operator", admin=True)

    def down(self, wipe):
        if not self.started:
            return
        # A stopped (SIGSTOP) node would not act on cluster/down's SIGTERM until its deadline.
        for node in self.nodes:
            pid = self.pid(node)
            if pid:
                try:
                    os.kill(pid, 18)  # SIGCONT
                except OSError:
                    pass
        self.script("down", *(["--wipe", "--logs"] if wipe else []), timeout=60)
        # A node spawned by a cluster/restart that was cut short may be missing from the nodes
        # file: find this cluster's own processes by their (unique) data dir and kill them.
        for pid in self.stray_pids():
            try:
                os.kill(pid, 9)
            except OSError:
                pass

    def stray_pids(self):
        marker = (os.path.join(self.dir, "") + "n").encode()
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if b"node" in args and any(a.startswith(marker) for a in args):
                out.append(int(entry))
        return out

    def pid(self, node):
        try:
            for line in open(os.path.join(self.dir, "nodes")):
                f = line.split()
                if len(f) == 3 and f[0] == node:
                    return int(f[2])
        except (OSError, ValueError):
            pass
        return None

    def running(self, node):
        """Whether the node's process exists and is not a zombie."""
        pid = self.pid(node)
        if not pid:
            return False
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            return state not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def signal(self, node, sig):
        """cluster/kill NODE SIG (KILL waits until the process is gone)."""
        return self.script("kill", node, sig, timeout=30)

    def restart(self, node):
        """cluster/restart NODE (waits for /readyz, up to its own 30 s deadline)."""
        return self.script("restart", node, timeout=60)

    def log_tail(self, node, lines=40):
        try:
            with open(os.path.join(self.dir, node, "node.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # Admin API.

    def admin(self, node, method, path, body=None, timeout=2.0):
        return request(self.port(node), method, path, body=body, token=self.admin_token, timeout=timeout)

    def sessions(self, node, timeout=2.0):
        r = self.admin(node, "GET", "/admin/v1/sessions", timeout=timeout)
        return r.json() if r.status == 200 else None

    def members(self, node, timeout=2.0):
        r = self.admin(node, "GET", "/admin/v1/members", timeout=timeout)
        return r.json() if r.status == 200 else None

    def set_faults(self, node, faults, timeout=3.0):
        """PUT /admin/v1/faults; True when the node took them."""
        return self.admin(node, "PUT", "/admin/v1/faults", body=faults, timeout=timeout).status == 200


class SSEStream:
    """A raw HTTP/1.1 Server-Sent Events reader with real timeouts (no buffered file objects, so
    a read timeout leaves the stream usable). `open` returns the status; on 200 `events` yields
    parsed events as they arrive."""

    def __init__(self, port, path, headers, connect_timeout=5.0):
        self.port, self.path, self.headers = port, path, headers
        self.connect_timeout = connect_timeout
        self.sock = None
        self.status = 0
        self.resp_headers = {}
        self.raw = b""
        self.chunked = False
        self.remaining = None  # content-length left, when not chunked
        self.chunk_left = 0  # bytes left in the current chunk (+2 for its CRLF), 0 = need a size line
        self.text = b""
        self.eof = False

    def open(self, timeout=10.0):
        """Connects and reads the response head; returns the status (0 on network trouble)."""
        deadline = time.monotonic() + timeout
        try:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.connect_timeout)
            head = f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: text/event-stream\r\n"
            for k, v in self.headers.items():
                head += f"{k}: {v}\r\n"
            self.sock.sendall((head + "\r\n").encode())
            while b"\r\n\r\n" not in self.raw:
                if not self._recv(deadline - time.monotonic()):
                    raise OSError("connection closed or timed out before the response head")
            head, self.raw = self.raw.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for l in lines[1:]:
                if ":" in l:
                    k, v = l.split(":", 1)
                    self.resp_headers[k.strip().lower()] = v.strip()
            self.chunked = "chunked" in self.resp_headers.get("transfer-encoding", "").lower()
            if not self.chunked and "content-length" in self.resp_headers:
                self.remaining = int(self.resp_headers["content-length"])
            return self.status
        except (OSError, ValueError, IndexError):
            self.close()
            self.status = 0
            return 0

    def _recv(self, timeout):
        """Reads what is available within `timeout` into self.raw; False on timeout or EOF."""
        if timeout <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.raw += data
        return True

    def _decode(self):
        """Moves body bytes from self.raw to self.text (de-chunking)."""
        if not self.chunked:
            if self.remaining is not None:
                take = self.raw[:self.remaining]
                self.remaining -= len(take)
                if self.remaining == 0:
                    self.eof = True
            else:
                take = self.raw
            self.text += take
            self.raw = b""
            return
        while self.raw:
            if self.chunk_left == 0:
                if b"\r\n" not in self.raw:
                    return
                line, rest = self.raw.split(b"\r\n", 1)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                self.raw = rest
                if size == 0:
                    self.eof = True
                    return
                self.chunk_left = size + 2
            take = self.raw[:self.chunk_left]
            self.raw = self.raw[len(take):]
            self.chunk_left -= len(take)
            # Drop the chunk's trailing CRLF (it is the last 2 of the counted bytes).
            body = take[:max(0, len(take) - max(0, 2 - self.chunk_left))]
            self.text += body

    def body(self, timeout=5.0):
        """The whole (short) body of a non-200 answer."""
        deadline = time.monotonic() + timeout
        try:
            while not self.eof and self._recv(deadline - time.monotonic()):
                self._decode()
            self._decode()
        except OSError:
            pass
        return self.text

    def next_events(self, timeout):
        """Events that arrive within `timeout` s (possibly none). Raises EOFError when the stream
        ended or broke. Each event: {"seq": int or None, "event": str, "data": parsed JSON}."""
        out = self._parse()
        if out:
            return out
        deadline = time.monotonic() + timeout
        while not out:
            if self.eof:
                raise EOFError("stream ended")
            try:
                got = self._recv(deadline - time.monotonic())
            except OSError as e:
                raise EOFError(str(e))
            if not got:
                if self.eof:
                    raise EOFError("stream ended")
                return out
            self._decode()
            out = self._parse()
        return out

    def _parse(self):
        out = []
        self.text = self.text.replace(b"\r\n", b"\n")
        while b"\n\n" in self.text:
            block, self.text = self.text.split(b"\n\n", 1)
            seq, name, data = None, "message", []
            for line in block.decode("utf-8", "replace").split("\n"):
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "id":
                    try:
                        seq = int(value)
                    except ValueError:
                        seq = None
                elif field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
            if not data and seq is None:
                continue  # retry:, comments
            try:
                parsed = json.loads("\n".join(data)) if data else None
            except ValueError:
                parsed = {"unparsed": "\n".join(data)}
            out.append({"seq": seq, "event": name, "data": parsed})
        return out

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
