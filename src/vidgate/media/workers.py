"""Process pools whose workers never outlive the gateway.

Media work and local renders run in ``forkserver`` process pools. ``ProcessPoolExecutor``
alone leaves its workers behind: ``shutdown(wait=False)`` lets running work go on after the
gateway stopped, and a process that ends by a signal (``vidgate serve`` on SIGTERM: uvicorn
re-raises it after its graceful shutdown) or is killed outright joins nothing. The orphaned
worker then idles for ever on a queue it holds both ends of, and keeps alive with it the
forkserver (every child holds the forkserver's alive pipe) and the resource tracker, which
reports the pool's semaphores as leaked whenever it finally ends (measured: a SIGTERM during
a render left four processes for good). So:

- ``start_pool`` gives each worker a watchdog on the gateway's process (a pidfd on Linux):
  the worker exits as soon as the gateway is gone, however it went;
- workers run at ``NICE`` (a lower CPU priority than the gateway's event loop), so a busy
  pool slows media work rather than request handling (issue 18: create p50 went from 8 ms
  to 50 ms while archives decoded at the same priority);
- ``stop_pool`` cancels pending work, terminates work still running and joins every worker.
  Both kinds of work start over after a restart — renders from their task files, archives
  from scratch — so nothing is lost by not waiting for them.

With no worker left, the forkserver and the resource tracker end with the process.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import select
import threading
import time

NICE = 10
"""Added to a worker's nice value at start (Linux: 0..19, higher is lower priority)."""
JOIN_S = 10.0
"""How long a terminated worker may take to exit before it is killed."""


def start_pool(workers: int, nice: int = NICE) -> concurrent.futures.ProcessPoolExecutor:
    """A ``forkserver`` pool of ``workers`` processes that end with this process and run
    ``nice`` steps below its CPU priority."""
    context = multiprocessing.get_context("forkserver")
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=start_worker, initargs=(os.getpid(), nice)
    )


def start_worker(gateway_pid: int, nice: int) -> None:
    """Worker initializer: lower this worker's priority, and end it with the gateway."""
    if nice:
        with contextlib.suppress(OSError):  # not permitted: the gateway's priority
            os.nice(nice)
    watch_gateway(gateway_pid)


def stop_pool(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop ``pool`` for good; returns once every worker has exited (blocking: run it in a
    thread). Python 3.14's ``terminate_workers`` does the same; 3.11 has only ``_processes``."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(JOIN_S)
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(wait=True)  # joins the pool's manager thread, releasing its queues


def watch_gateway(gateway_pid: int) -> None:
    """Worker initializer: a daemon thread that ends this worker when the gateway ends."""
    thread = threading.Thread(
        target=_exit_with, args=(gateway_pid,), name="vidgate-gateway-watch", daemon=True
    )
    thread.start()


def _exit_with(pid: int) -> None:
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)  # already gone
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): look every second
        while _alive(pid):
            time.sleep(1.0)
    else:
        select.select([handle], [], [])  # readable once the process has exited
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
