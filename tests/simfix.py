"""Fixtures that boot the firmware on the sim board and connect the virtual phone.

With pytest-embedded's `--port /dev/ttyUSB0` the tests talk to a real board's
console instead and the sim is not started; `--phone HOST:PORT` then names the
phone rig (a device speaking docs/phone-protocol.md) wired to that board's line.
"""
import copy
import json
import re
import threading

import pytest

from ata import peers
from ata.phone import VirtualPhone
from ata.sim import SimProcess

FAR_TONE_HZ = 440     # what baresip (the far end) plays in calls
_BOARD_SETTLE_MS = 1500   # on-hook this long ends any call or ringing (hang-up: 900 ms)


def pytest_addoption(parser):
    parser.addoption("--phone", default=None,
                     help="HOST:PORT of the phone rig when testing a real board (--port)")


def deep_merge(base, extra):
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def base_config(registrar_port=None):
    """A sim config on free ports. With no registrar the UA keeps retrying quietly."""
    return {
        "sip": {"server": "127.0.0.1", "port": registrar_port or peers.free_udp_port(),
                "user": "1001", "password": "secret1", "sip_port": peers.free_udp_port(),
                "expires": 60},
        "line": {"country": "US"},
        "sim": {"phone_port": peers.free_tcp_port()},
    }


def start_sim(cfg, run_dir, attempts=3):
    """Boot the sim with cfg. Ports are picked free, but another process may take one
    before the firmware binds it: then pick new ones (in cfg, in place) and retry."""
    for attempt in range(attempts):
        proc = SimProcess(cfg, run_dir=run_dir)
        try:
            return proc.start()
        except RuntimeError as e:
            proc.stop()
            if "EADDRINUSE" not in str(e) or attempt == attempts - 1:
                raise
            cfg["sip"]["sip_port"] = peers.free_udp_port()
            cfg["sim"]["phone_port"] = peers.free_tcp_port()


@pytest.fixture
def sim_options():
    """Config overrides for the sim under test; parametrize this name to change them."""
    return {}


@pytest.fixture
def sim_timing():
    """How the sim's timers behave (sim.timing): parametrize to run a test with a
    chip's soft-timer lateness, lost callbacks and GC pauses."""
    return "ideal"


@pytest.fixture
def sim_config(sim_options, sim_timing):
    return deep_merge(deep_merge(base_config(), {"sim": {"timing": sim_timing}}), sim_options)


@pytest.fixture
def sim(request, sim_config, tmp_path):
    if request.config.getoption("port", None):
        yield None            # a real board: nothing to start
        return
    proc = start_sim(sim_config, tmp_path / "sim")
    yield proc
    rc = proc.stop()
    check_clean_log(request, proc.log_text())
    assert rc == 0, "firmware exit code %s:\n%s" % (rc, proc.log_text()[-3000:])


def check_clean_log(request, text):
    """No traceback and no supervised crash in the firmware's log, unless the test is
    marked crashes_expected (it injects them on purpose)."""
    if request.node.get_closest_marker("crashes_expected"):
        return
    # errors the raw REPL reported to its client (mpremote): "\x04" ERRORS "\x04>"
    text = re.sub("\x04[^\x04]*\x04>", "", text)
    assert "Traceback" not in text, text[-3000:]
    assert "supervisor: " not in text or " crashed" not in text, text[-3000:]


@pytest.fixture
def board_mode(request):
    """True when the tests drive a real board's console (--port), not the sim."""
    return bool(request.config.getoption("port", None))


@pytest.fixture
def line_config(request, board_mode, sim_config, sim_options):
    """The line settings the firmware under test runs with. On the sim they are the
    test's own; a board runs its own config, read from its console, and a test that
    needs other line settings than the board has cannot run there (skipped, naming
    the difference)."""
    if not board_mode:
        return sim_config["line"]
    if request.getfixturevalue("sim_timing") != "ideal":
        pytest.skip("a board has its own timing: the chip timing models are the sim's")
    dut = request.getfixturevalue("dut")
    dut.write("config")
    m = dut.expect(r'(\{"[^\r\n]*\})\r?\n', timeout=5)
    line = json.loads(m.group(1))["line"]
    want = (sim_options or {}).get("line", {})
    differ = {k: (v, line.get(k)) for k, v in want.items() if line.get(k) != v}
    if differ:
        pytest.skip("needs line settings the board does not have (wanted, board): %r" % differ)
    return line


@pytest.fixture
def embedded_services():
    return "serial"


@pytest.fixture
def port(request):
    """The console's serial port: a real board's (--port) or the sim's pty. Only
    console tests (those using pytest-embedded's `dut`) boot a sim for it; the
    plugin's own fixtures ask for `port` in every test."""
    given = request.config.getoption("port", None)
    if given or "dut" not in request.fixturenames:
        return given
    return str(request.getfixturevalue("sim").console_path)


class _LazyManager:
    """pytest-embedded's message-queue manager, started only when a console test
    needs it, and stopped with a deadline: its shutdown was seen to hang."""

    def __init__(self):
        self._manager = None

    def __getattr__(self, name):
        if self._manager is None:
            from pytest_embedded.log import MessageQueueManager
            self._manager = MessageQueueManager()
            self._manager.start()
        return getattr(self._manager, name)

    def close(self, timeout=10):
        m = self._manager
        if m is None:
            return
        t = threading.Thread(target=m.shutdown, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            m._process.kill()


@pytest.fixture(scope="session", autouse=True)
def _mp_manager():
    """Replaces pytest-embedded's eager one (see _LazyManager)."""
    manager = _LazyManager()
    yield manager
    manager.close()


@pytest.fixture
def phone(request, sim, sim_config):
    rig = request.config.getoption("phone")
    if rig:
        host, _, p = rig.rpartition(":")
        ph = VirtualPhone(host, int(p))
    else:
        ph = VirtualPhone("127.0.0.1", sim_config["sim"]["phone_port"])
    ph.connect()
    if rig:
        # A board is not rebooted between tests: start each from an idle line, the
        # handset on-hook for longer than the hang-up time.
        ph.on_hook()
        ph.sleep_sim(_BOARD_SETTLE_MS)
    yield ph
    if rig:
        ph.on_hook()
    ph.close()


class NamedBaresip(peers.Baresip):
    """baresip whose account carries a display name (the caller's name for caller ID)."""
    display = None

    def write_config(self):
        super().write_config()
        if self.display:
            acc = self.workdir / "accounts"
            acc.write_text('"%s" %s' % (self.display, acc.read_text()))


@pytest.fixture
def far_display():
    """Display name of the far end (1002); parametrize to change it."""
    return None


@pytest.fixture
def far_answermode():
    """How the far end (1002) answers: "auto" at once, "manual" rings until accept()."""
    return "auto"


@pytest.fixture
def pbx(tmp_path, far_display, far_answermode):
    """Kamailio with users 1001/1002 and baresip as 1002 playing a 440 Hz tone."""
    kam = peers.Kamailio(tmp_path / "kamailio")
    kam.start()
    wav = tmp_path / "far.wav"
    peers.write_tone_wav(wav, seconds=300, freq_hz=FAR_TONE_HZ)
    far = NamedBaresip(tmp_path / "baresip", "1002", "secret2", kam.port, audio_wav=wav,
                       record_dir=tmp_path / "rec", answermode=far_answermode)
    far.display = far_display
    far.start()
    yield kam, far
    far.stop()
    kam.stop()


@pytest.fixture
def ata(request, pbx, tmp_path, sim_options):
    """The sim ATA registered at the pbx, and the virtual phone on its line."""
    kam, _ = pbx
    cfg = deep_merge(deep_merge(base_config(kam.port), {"line": {"interdigit_ms": 1500}}),
                     sim_options)
    sim = start_sim(cfg, tmp_path / "sim")
    sim.wait_log("sip: registered", 15)
    phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
    yield sim, phone
    phone.close()
    rc = sim.stop()
    check_clean_log(request, sim.log_text())
    assert rc == 0, sim.log_text()[-2000:]
