# Datagram-level helpers: addresses, random tokens, rate limiting, Via stamping, bare 400s.
import binascii
import os
import socket
import time

from sip import headers as H


def rand_hex(n):
    return binascii.hexlify(os.urandom(n)).decode()


class RateBucket:
    """Token bucket: allow() spends one token; refills `rate` per second up to `burst`."""

    def __init__(self, rate, burst):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.t = time.ticks_ms()

    def allow(self):
        now = time.ticks_ms()
        dt = time.ticks_diff(now, self.t)
        if dt > 0:
            self.tokens = min(self.burst, self.tokens + dt * self.rate / 1000)
            self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


_PEEK = getattr(socket, "MSG_PEEK", 0)   # exported by the unix, ESP32 and lwIP sockets
# The short peek and the long one (receive): most responses and requests are shorter
# than 1 KB, an INVITE or a 200 with its SDP and a few Record-Routes than 2 KB.
PEEK_BYTES = (1024, 2048)


def _announced(head):
    """The datagram's length as its first PEEK_BYTES[0] bytes tell it (the end of the
    headers plus Content-Length, the full or the compact form as UAs send them), or 0
    when they do not (headers longer than the peek, no or another spelling)."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return 0
    for name in (b"\r\nContent-Length:", b"\r\nl:"):
        i = head.find(name, 0, end)
        if i >= 0:
            i += len(name)
            j = head.find(b"\r\n", i, end + 2)
            try:
                return end + 4 + int(head[i:j])
            except ValueError:
                return 0
    return 0


def receive(sock, most):
    """(datagram, source as recvfrom gives it) of the next datagram, at most `most`
    bytes of it, on a non-blocking socket; OSError when none waits. recvfrom(n) asks
    the heap for n contiguous bytes before it knows the datagram's length, and a
    fragmented heap may have no such piece while tens of KB are free (8 KB per SIP
    datagram failed so on the sim under a tight heap limit, and 2 KB in a tighter one).
    So the datagram is peeked at first: when it is shorter than the peek, that is all
    of it, and it is then taken off the queue with a 1-byte read (the rest of a
    datagram is discarded by any read). A longer one is peeked at again with the
    length its headers announce, which asks the heap for no more than the message
    itself, and taken when that was all of it; else with the longer peek; only a
    longer one still is read with `most`. When the heap has no room for a read, the
    datagram is discarded and MemoryError raised.
    (readinto into a kept buffer would not do: a stream read runs on until the buffer
    is full, and on a datagram socket that joins datagrams together.)"""
    try:
        if _PEEK:
            short, long = PEEK_BYTES
            data, src = sock.recvfrom(short, _PEEK)
            if len(data) < short:
                sock.recv(1)
                return data, src
            size = _announced(data)
            data = None
            if short <= size < most:
                data, src = sock.recvfrom(size + 1, _PEEK)
                if len(data) == size:
                    sock.recv(1)
                    return data, src
                data = None
            data, src = sock.recvfrom(long, _PEEK)
            if len(data) < long:
                sock.recv(1)
                return data, src
            data = None
        return sock.recvfrom(most)
    except MemoryError:
        sock.recv(1)       # dropped: a datagram nobody can read must not block the rest
        raise


def peer_of(addr):
    """Source address from recvfrom: (ip, port) tuple (ESP32) or raw sockaddr (unix)."""
    if isinstance(addr, tuple):
        return addr[0], addr[1]
    b = bytes(addr)
    port = (b[2] << 8) | b[3]
    if b[0] == 2 or (len(b) >= 8 and b[1] == 2):
        return "%d.%d.%d.%d" % (b[4], b[5], b[6], b[7]), port
    # AF_INET6: sockaddr_in6 address at offset 8
    a = b[8:24]
    return ":".join("%x" % ((a[i] << 8) | a[i + 1]) for i in range(0, 16, 2)), port


def stamp_via(value, via, addr):
    """Top Via with received= (and rport= when asked, RFC 3581) for the response."""
    params = via[3]
    add = ""
    if via[1] != addr[0]:
        add += ";received=" + addr[0]
    if "rport" in params and params["rport"] is None:
        semi = value.find(";rport")
        while semi >= 0:
            after = value[semi + 6:semi + 7]
            if after in ("", ";", " ", ","):
                value = value[:semi] + value[semi + 6:]
                break
            semi = value.find(";rport", semi + 1)
        add += ";rport=%d" % addr[1]
        if ";received=" not in add:
            add += ";received=" + addr[0]
    return value + add


def bad_request_response(data, reason):
    """Bytes of a 400 for a request we could not parse, or None when its Via, From, To,
    Call-ID or CSeq did not survive (then nothing can be answered)."""
    if data[:3] == b"ACK" or data[:4] == b"SIP/":
        return None
    try:
        fields = {}
        head = data.split(b"\r\n\r\n")[0].decode()
        for line in head.split("\r\n")[1:]:
            n, c, v = line.partition(":")
            if c:
                k = H.full_name(n.strip())
                if k not in fields:
                    fields[k] = v.strip()
        r = "SIP/2.0 400 %s\r\n" % reason.replace("\r", " ").replace("\n", " ")[:60]
        for k in ("via", "from", "to", "call-id", "cseq"):
            v = fields.get(k)
            if not v or "\r" in v or "\n" in v or "\x00" in v:
                return None      # nothing echoed that could split or forge a header
            r += "%s: %s\r\n" % (H.canonical(k), fields[k])
        return (r + "Content-Length: 0\r\n\r\n").encode()
    except (ValueError, UnicodeError, IndexError):
        return None


def ipv4_int(s):
    """Dotted-quad IPv4 text -> int, or None when `s` is not exactly that (no names)."""
    parts = s.split(".")
    if len(parts) != 4:
        return None
    v = 0
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit():
            return None
        n = int(p)
        if n > 255:
            return None
        v = (v << 8) | n
    return v


def is_ip_literal(host):
    """A numeric IPv4 address or an IPv6 reference (never needs DNS)."""
    return ipv4_int(host) is not None or (":" in host and host.count(":") >= 2)


def parse_acl_entry(entry):
    """'ip', 'ip:port' or 'ip/len' (CIDR) -> (host, port or None, prefix length or None).
    Raises ValueError. The host may be a name only in the 'host[:port]' forms."""
    from sip import headers as H
    e = entry.strip()
    if "/" in e:
        net, _, bits = e.partition("/")
        if ipv4_int(net) is None or not bits.isdigit() or int(bits) > 32:
            raise ValueError("bad CIDR %r" % entry)
        return net, None, int(bits)
    h, p = H.split_hostport(e)
    return h, p, None


def cidr_match(ip, net, bits):
    a = ipv4_int(ip)
    b = ipv4_int(net)
    if a is None or b is None:
        return False
    if bits == 0:
        return True
    mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    return (a & mask) == (b & mask)
