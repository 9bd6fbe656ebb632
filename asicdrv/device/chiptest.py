"""The chip test (TEST / TEST_RET) for :meth:`Chain.test_chips`: send each module its TEST,
then wait for every miner's result, by polling (A4 and later answer TEST_RET to polls) or
by listening (the MM2/MM3 answers nothing while it tests and sends its results unasked)."""

from __future__ import annotations

import time

from firmware_protocols import ProtocolError, decode_packet

from ..errors import DeviceGone
from .snapshot import failing_chips

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from .chain import Chain


def run_chip_test(chain: "Chain", modules, timeout: float | None) -> dict:
    with chain._lock:
        tests = {rt: rt.generation.test_frame(rt) for rt in modules}
        targets = [rt for rt, frame in tests.items() if frame is not None]
        if timeout is None:
            timeout = max((rt.generation.chip_test_seconds for rt in targets), default=0)
        for rt in targets:
            rt.readings.start_test()
            ready = rt.generation.pre_test_frame(rt)
            if ready is not None:
                chain._xfer(rt.id, ready, read=True)
            chain._send(rt.id, tests[rt])  # with the pause the module needs after it
        deadline = time.monotonic() + timeout
        for rt in targets:
            rt.testing_until = deadline
        if any(rt.generation.test_results_unasked for rt in targets):
            _listen(chain, targets, deadline)  # the poller waits meanwhile
    try:
        while time.monotonic() < deadline and not _done(targets):
            chain._raise_if_gone()
            time.sleep(0.02)
    finally:
        for rt in targets:
            rt.testing_until = 0.0
    return {rt.id: failing_chips(rt) for rt in targets}


def _done(targets) -> bool:
    return all(len(rt.readings.test_results) == rt.spec.miner_count for rt in targets)


def _listen(chain: "Chain", targets, deadline: float) -> None:
    """Read the line, no polls, until every result is in.  The tested modules idle after
    their test (MM main.c: voltage off): the current job goes out again."""
    read_frames = getattr(chain.link, "read_frames", None)
    dialect = chain._line_generation.dialect
    while read_frames is not None and time.monotonic() < deadline and not _done(targets):
        try:
            frames = read_frames(min(0.2, max(deadline - time.monotonic(), 0.01)))
        except DeviceGone as exc:
            chain._mark_gone(exc)
            raise
        for frame in frames:
            try:
                pkt = decode_packet(frame, from_device=True, dialect=dialect)
            except ProtocolError:
                continue
            for rt in targets:
                if not rt.generation.from_another_module(rt, pkt):
                    rt.readings.apply(pkt)
    if chain._current_work is not None:
        chain._detector.resend_work(targets[0])
