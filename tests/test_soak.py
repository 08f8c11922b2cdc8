"""50-call soak through the sim ATA, Kamailio and baresip (both directions; answered,
refused, cancelled, hung up from either side): the ATA's SIP tables, line and heap
come back to their baseline. The 200-call version with a figure per 50 calls is in
`make bench` (python -m ata.soak)."""
import pytest

from ata.soak import Soak

pytestmark = pytest.mark.interop

CALLS = 50
BATCH = 25
# Heap after a full collection (seen: baseline, +576 after the first 25 calls as
# tables and interned names settle, then +96 over the next 25). A leak shows as
# growth from batch to batch: 21 bytes per call or more exceed BATCH_GROWTH_MAX.
FIRST_BATCH_GROWTH_MAX = 2048
BATCH_GROWTH_MAX = 512


def test_fifty_calls_leave_no_state_behind(tmp_path):
    soak = Soak(tmp_path, log=print)
    try:
        soak.start()
        rows = soak.run(CALLS, BATCH)
    finally:
        rc = soak.stop()
    assert rc == 0
    base = rows[0]
    assert [r["calls_done"] for r in rows] == [0, 25, 50], rows
    for r in rows:
        assert (r["transactions"], r["dialogs"], r["calls"], r["pending"]) == (0, 0, 0, 0), r
        assert r["line"] == "idle" and not r["in_call"], r
    first, second = rows[1]["heap"] - base["heap"], rows[2]["heap"] - rows[1]["heap"]
    assert first <= FIRST_BATCH_GROWTH_MAX and second <= BATCH_GROWTH_MAX, rows
    log = soak.sim.log_text()
    assert "Traceback" not in log and " crashed" not in log, log[-3000:]
