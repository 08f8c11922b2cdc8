# Who the UA trusts: accept_from lists with CIDRs, and the registrar's name looked up
# again before every REGISTER (a PBX whose address changes is followed).
import asyncio

from check import eq

import sip.ua as U
from sip import UserAgent


class FakeDns:
    """Stands in for the socket module's getaddrinfo: names map to what `table` says now."""
    SOCK_DGRAM = 2

    def __init__(self, table):
        self.table = table
        self.lookups = 0

    def getaddrinfo(self, host, port, *args):
        self.lookups += 1
        return [(2, 2, 0, "", (self.table.get(host, host), port))]


def _ua(**kw):
    cfg = {"server": "pbx.test", "port": 5060, "user": "1001", "local_ip": "127.0.0.1",
           "sip_port": 5999}
    cfg.update(kw)
    return UserAgent(cfg)


def test_registrar_name_followed_on_refresh():
    real = U.socket
    dns = FakeDns({"pbx.test": "10.0.0.1"})
    U.socket = dns
    try:
        ua = _ua()
        ua.refresh_trusted()
        eq(ua.trusted(("10.0.0.1", 5060)), True, "first address")
        dns.table["pbx.test"] = "10.0.0.2"
        ua.refresh_trusted()
        eq(ua.trusted(("10.0.0.2", 5060)), True, "new address after a refresh")
        eq(ua.trusted(("10.0.0.1", 5060)), False, "old address forgotten")
        # register_once looks the registrar up before it sends
        seen = []

        async def no_answer(req, addr, wait_ms=None, timeout_ms=None):
            seen.append(U.socket.table["pbx.test"])
            return None
        ua.transact = no_answer
        n = dns.lookups
        dns.table["pbx.test"] = "10.0.0.3"
        asyncio.run(ua.reg.register_once(60))
        eq(dns.lookups > n, True, "looked up again")
        eq(ua.trusted(("10.0.0.3", 5060)), True, "followed before REGISTER")
    finally:
        U.socket = real


def test_accept_from_cidr_and_ports():
    real = U.socket
    U.socket = FakeDns({"pbx.test": "10.0.0.1"})
    try:
        ua = _ua(accept_from=["192.0.2.0/24", "198.51.100.7:5062", "203.0.113.9"])
        ua.refresh_trusted()
        for addr, want in ((("192.0.2.200", 1234), True), (("192.0.3.1", 5060), False),
                           (("198.51.100.7", 5062), True), (("198.51.100.7", 5060), False),
                           (("203.0.113.9", 40000), True), (("10.0.0.1", 5060), True),
                           (("10.0.0.1", 5061), False)):
            eq(ua.trusted(addr), want, repr(addr))
        ua = _ua(accept_from=["0.0.0.0/0"])
        ua.refresh_trusted()
        eq(ua.trusted(("8.8.8.8", 1)), True, "/0")
        try:
            _ua(accept_from=["10.0.0.0/40"])
        except ValueError:
            pass
        else:
            raise AssertionError("bad CIDR accepted")
    finally:
        U.socket = real
