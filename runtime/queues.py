"""Which arq queue each job runs on, and the limits of each queue.

arq keeps a started job's in-progress key for the largest timeout among its worker's functions plus
10 s: when a worker dies mid-job, the job runs again only once that key expires. With the nightly
training (an hour) beside the customer notifications, one crash parked a notification for an hour,
and a burst of predictions (5-15 s each) held every slot a notification needed. So each kind of
work has its own queue, served by its own arq Worker with its own timeout and slots: a crash parks
an ordinary job for at most `job_timeout` + 10 s, a minute.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Queue:
    name: str  # the Redis key arq uses
    job_timeout: int  # seconds, for jobs that set none; bounds how long a crash parks them
    max_jobs: int


DEFAULT = Queue("arq:queue", job_timeout=50, max_jobs=20)  # arq's default name: jobs queued before the split run
PREDICT = Queue("arq:queue:predict", job_timeout=120, max_jobs=4)
LONG = Queue("arq:queue:long", job_timeout=3600, max_jobs=2)
# Webhook attempts wait on partners' servers, not on our CPU: many slots, each attempt bounded by its own timeout.
WEBHOOKS = Queue("arq:queue:webhooks", job_timeout=120, max_jobs=64)
# Calls to the channels' platforms wait on the network (up to the call timeout each): with slots of their own, a slow
# platform holds none that a customer notification needs, and many calls wait at once.
OUTBOUND = Queue("arq:queue:outbound", job_timeout=60, max_jobs=50)
QUEUES = {"default": DEFAULT, "predict": PREDICT, "long": LONG, "webhooks": WEBHOOKS, "outbound": OUTBOUND}

_NOT_DEFAULT = {
    "predict_next_step": PREDICT,
    "train_nightly": LONG,
    "reconcile_daily": LONG,
    "query_payment_gaps": LONG,  # waits on the providers, up to a timeout per question
    "subscribe_tracking": LONG,
    "compute_health": LONG,
    "deliver_webhook": WEBHOOKS,
    "confirm_shipment": OUTBOUND,
    "pull_channels": OUTBOUND,
    "pull_shop": OUTBOUND,  # its run is bounded by pull_max_pages, back-offs included, within the queue's timeout
}


def queue_of(job: str) -> Queue:
    """Every job not named above is short and runs on the default queue."""
    return _NOT_DEFAULT.get(job, DEFAULT)
