"""lib/sip against sipp scenarios for what Kamailio and baresip cannot produce.

Each scenario plays the registrar/proxy (sipp's port is the UA's server port, so its
requests come from a trusted address); see tests/sip_scenarios/ for the message flows.
"""
import pathlib
import time

import pytest

from ata.peers import free_udp_port, run_sipp
from sip_host import UaProc, ua_config

pytestmark = pytest.mark.interop
SC = pathlib.Path(__file__).resolve().parent / "sip_scenarios"


class Sipp:
    def __init__(self, scenario, tmp_path, remote=None, port=None, service="1001"):
        self.port = port or free_udp_port()
        self.proc = run_sipp(SC / scenario, remote, self.port, tmp_path / "sipp",
                             background=True, timeout_s=10, extra_args=["-s", service])
        self.tmp = tmp_path

    def wait(self, timeout=15):
        out, _ = self.proc.communicate(timeout=timeout)
        log = ""
        for name in ("sipp_messages.log", "sipp_errors.log"):
            p = self.tmp / "sipp" / name
            if p.exists():
                log += p.read_text(errors="replace")[-6000:]
        return self.proc.returncode, out[-3000:] + log

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def _udp_bound(port):
    """True once some socket on this host is bound to UDP `port` (from /proc)."""
    want = ":%04X" % port
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)                                   # the header line
                if any(line.split()[1].endswith(want) for line in f):
                    return True
        except OSError:
            continue
    return False


def _wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def _uas(scenario, tmp_path):
    """sipp as the far end/proxy, once it listens for the UA's request."""
    s = Sipp(scenario, tmp_path)
    _wait_until(lambda: _udp_bound(s.port) or s.proc.poll() is not None, 10,
                "sipp did not bind UDP %d" % s.port)
    assert s.proc.poll() is None, s.wait()[1]
    return s


def test_register_qop_auth_id_stale_nonce(tmp_path):
    s = _uas("reg_stale_authid.xml", tmp_path)
    ua = UaProc(ua_config(s.port, auth_id="a-1001", password="pw"))
    try:
        rc, log = s.wait()
        assert rc == 0, log
        ua.wait_registered(3)
        assert 100 < ua.status()["expires_in"] <= 120
    finally:
        ua.stop(graceful=False)
        s.stop()


def test_register_423_min_expires(tmp_path):
    s = _uas("reg_423.xml", tmp_path)
    ua = UaProc(ua_config(s.port, expires=60))
    try:
        rc, log = s.wait()
        assert rc == 0, log
        ua.wait_registered(3)
        assert ua.status()["expires_in"] > 3000
    finally:
        ua.stop(graceful=False)
        s.stop()


def _direct(port, **kw):
    """A UA whose proxy is sipp and that does not register."""
    return UaProc(ua_config(port, register=False, **kw))


def test_183_early_media_then_200(tmp_path):
    s = _uas("uas_183.xml", tmp_path)
    ua = _direct(s.port)
    try:
        ua.cmd("invite", target="1002")
        early = ua.wait_state("early", 0, 5)
        assert "m=audio 6000" in early["remote_sdp"]
        ua.wait_state("confirmed", 0, 5)
        ua.cmd("hangup")
        rc, log = s.wait()
        assert rc == 0, log
        assert ua.states(0) == ["early", "confirmed", "ended"], ua.states(0)
    finally:
        ua.stop(graceful=False)
        s.stop()


def test_reinvite_hold_from_far_end(tmp_path):
    s = _uas("uas_reinvite.xml", tmp_path)
    ua = _direct(s.port)
    try:
        ua.cmd("invite", target="1002")
        ua.wait_state("confirmed", 0, 5)
        ev = ua.wait_for(lambda e: e.get("detail") == "remote-offer", 5)
        assert "a=sendonly" in ev["remote_sdp"]
        ev = ua.wait_state("ended", 0, 5)
        assert ev["detail"] == "bye"
        rc, log = s.wait()
        assert rc == 0, log
    finally:
        ua.stop(graceful=False)
        s.stop()


def test_challenged_reinvite_retried_with_credentials(tmp_path):
    s = _uas("uas_reinvite_auth.xml", tmp_path)
    ua = _direct(s.port)
    try:
        ua.cmd("invite", target="1002")
        ua.wait_state("confirmed", 0, 5)
        assert ua.cmd("hold")["ok"]
        ev = ua.wait_for(lambda e: e.get("ev") == "state" and e.get("detail") in
                         ("hold", "reinvite-failed 401") or e.get("state") == "ended", 8)
        assert ev.get("detail") == "hold", ev
        ua.cmd("hangup")
        rc, log = s.wait()
        assert rc == 0, log       # sipp checked Authorization, the digest and the new CSeq
    finally:
        ua.stop(graceful=False)
        s.stop()


def test_cancel_crossing_200(tmp_path):
    s = _uas("uas_cancel_cross.xml", tmp_path)
    ua = _direct(s.port, hangup_on="ringing")
    try:
        ua.cmd("invite", target="1002")
        ev = ua.wait_state("ended", 0, 5)
        assert ev["detail"] == "cancel", ev
        rc, log = s.wait()
        assert rc == 0, log       # the 200 was ACKed and the call ended with BYE
    finally:
        ua.stop(graceful=False)
        s.stop()


def _uac(scenario, tmp_path, **kw):
    """sipp calling the UA from the UA's trusted proxy address."""
    port = free_udp_port()
    ua = _direct(port, **kw)
    s = Sipp(scenario, tmp_path, remote="127.0.0.1:%d" % ua.port, port=port)
    return ua, s


@pytest.mark.parametrize("scenario,auto,final", [
    ("uac_compact.xml", "answer", "ended"),
    ("uac_488.xml", "answer", None),
    ("uac_486.xml", 486, "ended"),
    ("uac_cancel_487.xml", "ring", "ended"),
    ("uac_options_481.xml", "answer", None),
])
def test_uac_scenarios(scenario, auto, final, tmp_path):
    ua, s = _uac(scenario, tmp_path, auto=auto)
    try:
        rc, log = s.wait()
        assert rc == 0, log
        if final:
            ev = ua.wait_state(final, 0, 3)
            want = {"uac_compact.xml": "bye", "uac_486.xml": "rejected",
                    "uac_cancel_487.xml": "cancel"}[scenario]
            assert ev["detail"] == want, ev
        st = ua.status()
        assert st["counters"]["malformed"] == 0 and st["counters"]["errors"] == 0, st
    finally:
        ua.stop(graceful=False)
        s.stop()
