"""Telling a real Ctrl-C from a ``KeyboardInterrupt`` that plugin code raised itself: an
observer hook that raises one is disabled, a Ctrl-C that arrives while it runs stops the
command as any Ctrl-C does."""

from __future__ import annotations


def from_signal_handler(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by the installed SIGINT handler (the trainer's
    "second Ctrl-C stops now", or Python's default one) rather than by plugin code."""
    import signal

    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler) or handler is signal.default_int_handler:
        # Python's handler raises in C, at whatever instruction ran: a plugin's own
        # KeyboardInterrupt stops at a raise statement, a Ctrl-C almost never does
        return tb is None or not _raised_by_code(tb)
    code = getattr(getattr(handler, "__func__", handler), "__code__", None)
    return tb is not None and code is not None and tb.tb_frame.f_code is code


def _raised_by_code(tb) -> bool:
    """Whether the innermost frame stopped at a ``raise`` statement."""
    import dis

    try:
        op = next(i for i in dis.get_instructions(tb.tb_frame.f_code)
                  if i.offset == tb.tb_lasti)
    except StopIteration:
        return True
    return op.opname in ("RAISE_VARARGS", "RERAISE")
