"""A picture of what happened on the line: a spectrogram of everything the phone's
earpiece heard, with lanes under it for the hook switch, the ring voltage and the
SIP messages on the wire, all on one time axis (seconds of sim time).

`ata demo` writes it as build/demo/timeline.png. The phone's hook and ring records
and its audio carry the sim's clock; SIP messages carry the capture's wall clock and
are placed with the offset measured between the two (SimClock).
"""
import time

import numpy as np

RATE = 8000


class SimClock:
    """Pairs (wall time, sim time) read from the virtual phone while the sim runs; the
    phone's sim time is the stamp of the latest earpiece frame, which reaches the
    host a little after it was made, so the smallest wall - sim difference is the
    best estimate of the offset."""

    def __init__(self, phone):
        self.phone = phone
        self.offsets = []

    def sample(self):
        t = self.phone.sim_now_us
        if t:
            self.offsets.append(time.time() - t / 1e6)

    def to_sim_us(self, wall):
        if not self.offsets:
            raise ValueError("no clock samples: the phone heard no frame")
        return (wall - min(self.offsets)) * 1e6


def earpiece_samples(heard, t0_us, t1_us):
    """int16 samples from t0_us to t1_us on the frames' own time stamps (a frame that
    never came stays silent, so gaps show as gaps)."""
    n = max(0, int((t1_us - t0_us) * RATE // 1_000_000))
    out = np.zeros(n, np.int16)
    for t, frame in heard:
        i = int((t - t0_us) * RATE // 1_000_000)
        if i < 0 or i >= n:
            continue
        m = min(len(frame), n - i)
        out[i:i + m] = frame[:m]
    return out


def hook_spans(hook_log, t0_us, t1_us):
    """(start, end) in sim µs of each off-hook span, from (t_us, level) changes."""
    spans, start = [], None
    for t, level in hook_log:
        if level and start is None:
            start = t
        elif not level and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, t1_us))
    return [(max(a, t0_us), min(b, t1_us)) for a, b in spans if b > t0_us and a < t1_us]


BURST_S = 1.0      # SIP messages closer than this are drawn as one exchange


def sip_bursts(shown):
    """[(first t_us, [labels])]: the messages grouped into exchanges."""
    groups = []
    for t, label in shown:
        if groups and t - groups[-1][0] < BURST_S * 1e6:
            groups[-1][1].append(label)
        else:
            groups.append((t, [label]))
    return groups


def render(path, heard, hook_log, bursts, sip, notes=(), title=""):
    """Write the PNG; returns what it drew (counts and the time span), for a caller
    to report and a test to check.
    heard: [(t_us, int16 frame)]; hook_log: [(t_us, level)]; bursts: objects with
    start_us/end_us; sip: [(t_us, label)]; notes: [(t_us, text)] marked on top."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import signal as sps

    if not heard:
        raise ValueError("the phone heard nothing: no timeline to draw")
    # from the first thing the phone saw: a hook change or a marked step can come
    # before the first earpiece frame
    t0 = min([heard[0][0]] + [t for t, _ in hook_log[:1]] + [t for t, _ in notes[:1]])
    t1 = heard[-1][0] + 20_000
    x = earpiece_samples(heard, t0, t1).astype(np.float64)
    f, ts, sxx = sps.spectrogram(x, fs=RATE, nperseg=256, noverlap=128)
    db = 10 * np.log10(sxx + 1e-3)
    sec = lambda us: (us - t0) / 1e6  # noqa: E731 (one-line unit conversion)

    fig, (ax, lanes) = plt.subplots(2, 1, figsize=(16, 9), sharex=True,
                                    gridspec_kw={"height_ratios": [3, 2.6]})
    ax.pcolormesh(ts, f, db, shading="auto", cmap="magma", vmin=db.max() - 60, vmax=db.max())
    ax.set_ylabel("earpiece, Hz")
    ax.set_ylim(0, 4000)
    ax.set_title(title or "what the phone heard, with hook, ring and SIP")
    for t, text in notes:
        ax.axvline(sec(t), color="white", lw=0.6, alpha=0.6)
        ax.text(sec(t), 3950, text, color="white", fontsize=7, rotation=90, va="top",
                ha="left")

    spans = hook_spans(hook_log, t0, t1)
    for a, b in spans:
        lanes.broken_barh([(sec(a), sec(b) - sec(a))], (3.1, 0.8), color="tab:green")
    rings = [(max(b.start_us, t0), min(b.end_us or t1, t1)) for b in bursts
             if (b.end_us or t1) > t0 and b.start_us < t1]
    for a, b in rings:
        lanes.broken_barh([(sec(a), sec(b) - sec(a))], (2.1, 0.8), color="tab:red")
    shown = sorted((t, label) for t, label in sip if t0 <= t <= t1)
    for t, label in shown:
        lanes.plot([sec(t), sec(t)], [1.5, 1.9], color="tab:blue", lw=0.8)
    # messages within BURST_S of each other are one exchange: listed in one column
    for start, labels in sip_bursts(shown):
        lanes.text(sec(start) + 0.05, 1.45, "\n".join(labels), fontsize=5.5, va="top",
                   ha="left", family="monospace", clip_on=True)
    lanes.set_yticks([0.9, 2.5, 3.5], ["SIP", "ring", "off-hook"])
    lanes.set_ylim(-0.8, 4.0)          # room under the SIP lane for ~18 listed messages
    lanes.set_xlim(0, sec(t1))
    lanes.set_xlabel("seconds (sim clock)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return {"seconds": round(sec(t1), 2), "hook_spans": len(spans), "ring_bursts": len(rings),
            "sip_messages": len(shown), "notes": len(notes)}
