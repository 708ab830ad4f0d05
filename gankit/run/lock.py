"""The run lock: which live process trains a run now (``run.lock``: its pid and host)."""

from __future__ import annotations

import json
import os
import socket
import time

from ..errors import GankitError
from ..files import read_small_json, small_int

MAX_PID = 1 << 22                # Linux's pid_max limit


def pid_alive(pid: int) -> bool:
    if not isinstance(pid, int) or pid <= 0 or pid > MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


class RunLock:
    """Taking, releasing and reading ``run.lock``; part of :class:`gankit.run.Run`."""

    def lock_holder(self) -> dict | None:
        """The live process training this run, or None (no lock, or a stale one)."""
        info = read_small_json(self.lock_path)
        if info is None:  # missing, or a writer between creating and filling it
            try:
                young = time.time() - self.lock_path.stat().st_mtime < 60
            except OSError:
                return None
            return {"pid": None, "host": None, "started": None} if young else None
        if not isinstance(info, dict):
            return None
        pid, host = small_int(info.get("pid"), 1, MAX_PID), info.get("host", "")
        if pid is None or not isinstance(host, str):
            return None
        if host and host != socket.gethostname():
            return info  # another machine's process: cannot tell, assume it is alive
        return info if pid_alive(pid) else None

    def lock(self) -> None:
        """Keep other processes out while this one trains; a stale lock is taken over."""
        doc = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                          "started": time.time()})
        for _ in range(3):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self.lock_holder()
                if holder is not None and holder.get("pid") != os.getpid():
                    raise GankitError(
                        f"{self.path}: being trained by process {holder.get('pid')} on "
                        f"{holder.get('host') or 'this machine'}; wait for it to finish or stop "
                        f"it, or train a new run"
                    ) from None
                try:
                    self.lock_path.unlink()  # stale: its process is gone
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(doc)
            self._locked = True
            return
        raise GankitError(f"{self.path}: could not take the run lock {self.lock_path}")

    def unlock(self) -> None:
        if not self._locked:
            return
        self._locked = False
        info = read_small_json(self.lock_path)
        if isinstance(info, dict) and info.get("pid") == os.getpid():
            try:
                self.lock_path.unlink()
            except OSError:
                pass
