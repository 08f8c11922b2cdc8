"""ata.heap_bench's search for the least heap budget a call needs: the bisection finds
the edge to its step and says so when even the top budget fails (the runs themselves
are the bench's: `ata bench --only heap`)."""
from ata import heap_bench


def _edge_at(monkeypatch, edge):
    tried = []

    def completes(workdir, budget, img, log=print, micropython=None, calls=1):
        tried.append(budget if calls == 1 else (budget, calls))
        return budget >= edge
    monkeypatch.setattr(heap_bench, "completes_a_call", completes)
    return tried


def test_least_budget_found_to_its_step(monkeypatch, tmp_path):
    k = 1024
    for edge in (222 * k, 272 * k + 1, 280 * k, 319 * k, 320 * k):
        tried = _edge_at(monkeypatch, edge)
        got = heap_bench.least_budget(tmp_path, 221 * k, 320 * k, tmp_path / "img", step=8 * k,
                                     log=lambda m: None)
        passed, failed = got
        assert passed - failed == 8 * k and failed < edge <= passed, (edge, got)
        assert tried[0] == 320 * k and len(tried) <= 5, tried   # the top first, then halving


def test_no_least_budget_when_the_top_fails(monkeypatch, tmp_path):
    tried = _edge_at(monkeypatch, 400 * 1024)
    assert heap_bench.least_budget(tmp_path, 200 * 1024, 320 * 1024, tmp_path / "img",
                                 log=lambda m: None) is None
    assert tried == [320 * 1024]


def test_least_budget_for_calls_back_to_back_runs_them_all(monkeypatch, tmp_path):
    tried = _edge_at(monkeypatch, 0)
    heap_bench.least_budget(tmp_path, 200 * 1024, 320 * 1024, tmp_path / "img", calls=10,
                            log=lambda m: None)
    assert tried and all(t[1] == 10 for t in tried), tried


def test_runs_at_one_budget_report_each_outcome(monkeypatch, tmp_path):
    # --at KB --runs N: the single runs near the edge, each with its outcome, and how
    # many completed all their calls
    seen = []

    def measure(kind, workdir, heapsize=None, traced=True, img=None, micropython=None,
                calls=1):
        seen.append((kind, heapsize, traced, calls))
        if len(seen) == 2:
            raise RuntimeError("baresip: no CALL_ESTABLISHED; the sim's first error: "
                               "sip: a datagram dropped; 6 of 10 calls completed")
        return {}
    monkeypatch.setattr(heap_bench, "measure", measure)
    text = heap_bench.runs_at("BIN", "x86", True, 112 * 1024, 3, 10, log=lambda m: None)
    assert seen == [("frozen", 112 * 1024, False, 10)] * 3, seen
    assert "3 runs: 2 completed them all" in text, text
    assert "run 2: failed: baresip: no CALL_ESTABLISHED" in text and "6 of 10" in text, text
    assert text.count("all 10 calls completed") == 2, text


def test_calls_completed_counts_calls_back_to_idle():
    log = ("[1.0] line: dialing -> call\n[4.0] line: call -> idle\n"
           "[5.0] line: dialing -> call\n[5.1] line: call -> reorder\n"
           "[6.0] line: reorder -> idle\n")
    assert heap_bench.calls_completed(log) == 1


def test_a_failed_run_says_what_failed_on_its_first_line():
    # the bisection logs only the first line of a failure: it must name the error
    # (a traceback's closing line), not just that the sim failed
    log = ("[0.1] boot: registered\n"
           "Traceback (most recent call last):\n"
           '  File "sip/message.py", line 197, in encode\n'
           "MemoryError: memory allocation failed, allocating 853 bytes\n"
           "[3.0] line: call -> idle\n")
    why = heap_bench.sim_failure(0, log)
    first = why.split("\n")[0]
    assert "exit 0" in first and "allocating 853 bytes" in first, first
    assert heap_bench.sim_failure(0, "[0.1] boot: registered\n") is None
    assert "exit 1" in heap_bench.sim_failure(1, "[0.1] boot\n").split("\n")[0]
    assert heap_bench.first_error("[2.0] rtp: crashed in receive\n") == "[2.0] rtp: crashed in receive"
