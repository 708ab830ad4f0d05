"""One inference thread with a small queue, so torch work never piles up.

Every job is short (a grid, or a batch of at most a few animation frames); a long
animation is many jobs, so other requests get their turn between its batches. A job
may name a *channel* (for example the page's id plus "grid"): a newer claim on the
channel supersedes the older jobs still waiting on it, which then end with 409 without
running. Nothing here imports torch.
"""

from __future__ import annotations

import itertools
import queue
import threading

from .validate import BadRequest

QUEUE_SIZE = 8
JOB_TIMEOUT = 120.0  # seconds a request waits for its job before it gives up


class Superseded(BadRequest):
    def __init__(self):
        super().__init__("superseded by a newer request", 409)


class _Job:
    __slots__ = ("fn", "channel", "token", "done", "result", "error", "abandoned")

    def __init__(self, fn, channel, token):
        self.fn, self.channel, self.token = fn, channel, token
        self.done = threading.Event()
        self.result = self.error = None
        self.abandoned = False


class Worker:
    def __init__(self, queue_size: int = QUEUE_SIZE, timeout: float = JOB_TIMEOUT):
        self._queue: queue.Queue = queue.Queue(queue_size)
        self._latest: dict[str, int] = {}
        self._lock = threading.Lock()
        self._tokens = itertools.count(1)
        self.timeout = timeout
        self.jobs_run = 0
        self._thread = threading.Thread(target=self._loop, name="gankit-studio-worker", daemon=True)
        self._thread.start()

    # -- channels -------------------------------------------------------------------------
    def claim(self, channel: str | None) -> int:
        """A new token for ``channel``: jobs submitted with older tokens are superseded."""
        token = next(self._tokens)
        if channel is not None:
            with self._lock:
                self._latest[channel] = token
                if len(self._latest) > 10_000:  # many page loads: forget the oldest
                    for key in list(self._latest)[:5_000]:
                        del self._latest[key]
        return token

    def current(self, channel: str | None, token: int) -> bool:
        if channel is None:
            return True
        with self._lock:
            return self._latest.get(channel, token) == token

    # -- jobs -------------------------------------------------------------------------------
    def submit(self, fn, channel: str | None = None, token: int | None = None):
        """Run ``fn()`` on the worker thread and return its result (or raise its error).

        A full queue answers 503 at once rather than making the request wait."""
        if token is None:
            token = self.claim(channel)
        if not self.current(channel, token):
            raise Superseded()
        job = _Job(fn, channel, token)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise BadRequest("the studio is busy; try again in a moment", 503) from None
        if not job.done.wait(self.timeout):
            job.abandoned = True
            raise BadRequest("the studio took too long to answer; try a smaller request", 503)
        if job.error is not None:
            raise job.error
        return job.result

    def pending(self) -> int:
        return self._queue.qsize()

    def _loop(self):
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.abandoned or not self.current(job.channel, job.token):
                job.error = Superseded()
            else:
                try:
                    job.result = job.fn()
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                    job.error = exc
                self.jobs_run += 1
            job.done.set()

    def close(self, wait: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=wait)
        except queue.Full:
            return
        self._thread.join(wait)
