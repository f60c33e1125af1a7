"""A paced HTTP/1.1 POST load from one epoll loop over keep-alive raw sockets: ~20 µs of Python
per request (http.client costs ~15 times that, and on 2 cores the load generator's CPU is the
node's). Run it in its own process so a reader in the measuring process never slows it."""
import json, selectors, socket, time


def paced_posts(port, path, tokens, rate, end, body_for, conns=64):
    """POSTs `body_for(n)` (bytes) to `path` at `rate`/s until `end` (time.monotonic()), each
    request in a single write (split head and body meet Nagle + delayed ACK: ~40 ms stalls).
    A slot that finds every connection busy is not offered (the node is behind) and counted.
    Returns (codes: {status or "skipped": count}, sent: {seq of each 201: send time})."""
    sel = selectors.DefaultSelector()
    idle, codes, sent = [], {}, {}
    for _ in range(conns):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        state = {"sock": sock, "buf": b"", "sent": 0.0}
        sel.register(sock, selectors.EVENT_READ, state)
        idle.append(state)
    n, nxt = 0, time.monotonic()
    while time.monotonic() < end or len(idle) < conns:
        now = time.monotonic()
        while now >= nxt and now < end:
            nxt += 1 / rate
            if not idle:
                codes["skipped"] = codes.get("skipped", 0) + 1
                continue
            state = idle.pop()
            n += 1
            body = body_for(n)
            state["sent"] = time.monotonic()
            state["sock"].sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens[n % len(tokens)]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        for key, _ in sel.select(timeout=max(0.0, min(0.05, nxt - time.monotonic()))):
            state = key.data
            chunk = state["sock"].recv(65536)
            if not chunk:
                raise SystemExit("a writer connection closed")
            state["buf"] += chunk
            while b"\r\n\r\n" in state["buf"]:
                head, rest = state["buf"].split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(rest) < length:
                    break
                code = int(head.split(b" ", 2)[1])
                codes[code] = codes.get(code, 0) + 1
                if code == 201:
                    sent[json.loads(rest[:length])["seq"]] = state["sent"]
                state["buf"] = rest[length:]
                idle.append(state)
    for state in idle:
        state["sock"].close()
    return codes, sent
