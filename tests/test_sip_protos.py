"""An INVITE suite in the style of PROTOS c07-sip against the firmware's call control.

tests/sip_protos.py mutates every field of a valid INVITE (request line, each header's
parts, each SDP field) with every PROTOS class (overflow, format strings, empty,
integer boundaries, bad encodings, control bytes, special characters). Each case goes
from the registrar's address (so it is parsed and handled, not filtered), then an
OPTIONS must be answered before the next case, and the line is hung up. At the end the
timers run out, the state is back at zero with no internal error, and a clean call
rings the line, is answered and hung up. Runs firmware/callctl.py + lib/sip on the
unix port (tests/sip_cc_driver.py) with the request rate limits opened, so no case is
dropped unread by the 5 INVITEs/s limit.
"""
import time

import pytest

from ata import peers
from sip_host import UaProc
from sip_protos import FIELDS, MUTATIONS, cases
from sip_raw import RawPeer, branch
from sip_statefuzz import Fuzzer, alive, settle
from test_sip_statefuzz import CC_DRIVER

pytestmark = pytest.mark.interop


def test_protos_style_invite_suite(capsys):
    peer, stranger = RawPeer(), RawPeer()
    cfg = {"sip": {"server": "127.0.0.1", "port": peer.port, "user": "1001",
                   "password": "secret1", "sip_port": peers.free_udp_port(), "expires": 3600}}
    proc = UaProc(cfg, driver=CC_DRIVER, args=["--no-rate-limit"])
    t0 = time.monotonic()
    try:
        fz = Fuzzer(1, proc, peer, stranger, proc.port)
        fz.polite = True
        fz.wait_for(lambda m: m.method == "REGISTER", 5)
        all_cases = cases(proc.port, peer.port)
        answers = {}
        for k, (field, klass, i, data) in enumerate(all_cases):
            mark = len(fz.rx)
            peer.sock.sendto(data, ("127.0.0.1", proc.port))
            cid = "alive-%d-%s" % (k, branch())
            opt = ("OPTIONS sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;"
                   "branch=%s\r\nFrom: <sip:pbx@127.0.0.1>;tag=o\r\nTo: <sip:1001@127.0.0.1>\r\n"
                   "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n") % (
                       proc.port, peer.port, branch(), cid)
            peer.sock.sendto(opt.encode(), ("127.0.0.1", proc.port))
            ok = fz.wait_for(lambda m: m.status == 200 and m.get("call-id") == cid, 3)
            assert ok is not None, "no answer to OPTIONS after case %s/%s/%d: %r" % (
                field, klass, i, data[:300])
            window = [m for m in fz.rx[mark:] if m.get("call-id") != cid]
            rang = [m for m in window if m.status == 180]
            if rang:
                # it rang the line: hang up, and the INVITE must get its final answer
                rang_id = rang[0].get("call-id")
                proc.cmd("hangup")
                fin = fz.wait_for(lambda m: m.status >= 200 and m.get("call-id") == rang_id, 3,
                                  since=mark)
                assert fin is not None, "case %s/%s/%d rang, no final after hang-up" % (
                    field, klass, i)
                window = [m for m in fz.rx[mark:] if m.get("call-id") != cid]
            finals = tuple(sorted({m.status for m in window if m.status >= 200}))
            key = ("rang " if rang else "") + (",".join(map(str, finals)) or "no answer")
            answers[key] = answers.get(key, 0) + 1
            if len(fz.rx) > 2000:
                fz.rx = []
        st = settle(proc, fz)
        errs = [e["text"] for e in proc.lines if e.get("ev") == "log"]
        assert st["counters"]["errors"] == 0 and not errs, (st["counters"], errs[:5])
        alive(proc, fz, peer)                    # a clean call rings, is answered, hung up
        settle(proc, fz)
        took = time.monotonic() - t0
        with capsys.disabled():
            print("\nPROTOS-style INVITE suite: %d cases (%d fields x %d mutations) in %.0f s; "
                  "final answers per case %r" % (len(all_cases), len(FIELDS),
                                                 sum(len(v) for v in MUTATIONS.values()), took,
                                                 answers))
        assert proc.proc.poll() is None, proc.stderr_text()
    finally:
        proc.stop()
        peer.close()
        stranger.close()
