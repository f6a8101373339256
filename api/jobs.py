"""Long work started over REST (a hypotheses run: seconds to minutes of training) as a job: one
background worker thread of the server process runs the jobs one at a time, first come first
served; the request that starts one is answered at once (202) with the job's id and status URL.

The work reads the snapshot readers saw when it started and writes through the process's write
lock (:func:`api.deps.write_access`) only at its end, so reads and uploads go on meanwhile and a
reader sees the store before or after the write, never half of it. What runs a job is handed to
:func:`api.app.create_app` by the layer that may import the models (``traitkg serve``): the web
service never imports them itself.

>>> q = JobQueue(lambda params, progress: {"echo": params["x"]}, max_queued=1)
>>> job = q.submit("echo", {"x": 1})
>>> q.wait(job.id, timeout=10).status, q.get(job.id).result
('done', {'echo': 1})
>>> q.close()
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from api.errors import ApiError
from kg.core.errors import TraitKGError, one_line

log = logging.getLogger(__name__)
#: (stage, done, total) -> None; raises :class:`JobCancelled` when the server is stopping
Progress = Callable[[str, int, int], None]
Work = Callable[[dict[str, Any], Progress], dict[str, Any]]


class JobCancelled(ApiError):
    """The server stopped before the job ended."""

    status = 503


class ModelsUnavailable(ApiError):
    """The server was started without what runs the models."""

    status = 503


class QueueFull(ApiError):
    """As many jobs are waiting as the server accepts."""

    status = 429


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    """One job: what was asked, where it stands, and its result or its one-line error."""

    id: str
    kind: str
    parameters: dict[str, Any]
    status: str = "queued"  # queued, running, done, failed
    submitted: str = field(default_factory=_now)
    started: str | None = None
    finished: str | None = None
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "parameters": self.parameters,
                "submitted": self.submitted, "started": self.started, "finished": self.finished,
                "progress": self.progress, "result": self.result, "error": self.error}


class JobQueue:
    """A FIFO of jobs run by one worker thread. ``max_queued`` jobs may wait beside the running
    one (more: :class:`QueueFull`); the last ``keep`` finished jobs are remembered (jobs live in
    the server's memory: a restart forgets them, while what a job wrote stays in the KG)."""

    def __init__(self, work: Work, *, max_queued: int = 4, keep: int = 100) -> None:
        self.work = work
        self.max_queued = max_queued
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: deque[str] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="traitkg-jobs", daemon=True)
        self._thread.start()

    def submit(self, kind: str, parameters: dict[str, Any]) -> Job:
        with self._cond:
            if self._stopping:
                raise JobCancelled("the server is stopping")
            if len(self._waiting) >= self.max_queued:
                raise QueueFull(f"{len(self._waiting)} jobs are already waiting (at most {self.max_queued} "
                                "beside the running one); try again when one has finished",
                                headers={"Retry-After": "30"})
            job = Job(uuid.uuid4().hex, kind, parameters)
            self._jobs[job.id] = job
            self._waiting.append(job.id)
            self._forget_old()
            self._cond.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def position(self, job_id: str) -> int | None:
        """How many jobs run or wait ahead of a queued one (None once it runs)."""
        with self._cond:
            if job_id not in self._waiting:
                return None
            running = any(j.status == "running" for j in self._jobs.values())
            return list(self._waiting).index(job_id) + int(running)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is done or failed (or ``timeout`` seconds passed); returns it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._jobs[job_id].status in ("queued", "running"):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
            return self._jobs[job_id]

    def close(self, timeout: float = 30.0) -> None:
        """Stop: waiting jobs fail at once; the running one fails at its next progress report."""
        with self._cond:
            self._stopping = True
            for jid in self._waiting:
                self._finish(self._jobs[jid], error="the server stopped before the job started")
            self._waiting.clear()
            self._cond.notify_all()
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the worker thread
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._jobs[self._waiting.popleft()]
                job.status, job.started = "running", _now()
                self._cond.notify_all()
            try:
                result = self.work(job.parameters, lambda stage, done, total, job=job: self._progress(job, stage,
                                                                                                      done, total))
            except BaseException as exc:  # noqa: BLE001 - a job's failure is its result, never the thread's end
                if not isinstance(exc, TraitKGError):
                    log.exception("job %s (%s) failed", job.id, job.kind)
                with self._cond:
                    self._finish(job, error=one_line(str(exc)) or type(exc).__name__)
            else:
                with self._cond:
                    self._finish(job, result=result)

    def _progress(self, job: Job, stage: str, done: int, total: int) -> None:
        if self._stopping:
            raise JobCancelled("the server stopped while the job ran; nothing was written")
        with self._cond:
            job.progress = {"stage": stage, "done": done, "total": total}

    def _finish(self, job: Job, *, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        job.status = "failed" if error is not None else "done"
        job.result, job.error, job.finished = result, error, _now()
        self._cond.notify_all()

    def _forget_old(self) -> None:
        done = [jid for jid, j in self._jobs.items() if j.status in ("done", "failed")]
        for jid in done[: max(0, len(done) - self.keep)]:
            del self._jobs[jid]
