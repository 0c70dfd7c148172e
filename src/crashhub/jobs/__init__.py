"""Background jobs: the queue interface (``base.Queue``), in-process workers (``local``) and the
handlers the hub registers (``handlers``)."""

from crashhub._face import face

# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.jobs stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.jobs import _handlers as handlers
    from crashhub.jobs._base import Queue as Queue
    from crashhub.jobs._celery_queue import ANALYZE_QUEUE as ANALYZE_QUEUE
    from crashhub.jobs._celery_queue import DEFAULT_QUEUE as DEFAULT_QUEUE
    from crashhub.jobs._celery_queue import Ledger as Ledger
    from crashhub.jobs._celery_queue import Limits as Limits
    from crashhub.jobs._celery_queue import Runtime as Runtime
    from crashhub.jobs._celery_queue import amqp_advice as amqp_advice
    from crashhub.jobs._celery_queue import install_task as install_task
    from crashhub.jobs._celery_queue import is_amqp as is_amqp
    from crashhub.jobs._celery_queue import make_app as make_app
    from crashhub.jobs._celery_queue import queue_from_settings as queue_from_settings
    from crashhub.jobs._celery_queue import release_queue as release_queue
    from crashhub.jobs._handlers import analyze_crash_job as analyze_crash_job
    from crashhub.jobs._handlers import analyze_job as analyze_job
    from crashhub.jobs._handlers import find_vmlinux as find_vmlinux
    from crashhub.jobs._local import LocalQueue as LocalQueue
    from crashhub.jobs._rekey import KIND as KIND
    from crashhub.jobs._rekey import Rekey as Rekey
    from crashhub.jobs._rekey import stale_algorithms as stale_algorithms
    from crashhub.jobs._rekey import submit_if_needed as submit_if_needed
    from crashhub.jobs._rekey import total as total

_FACE: dict[str, str] = {
    "ANALYZE_QUEUE": "crashhub.jobs._celery_queue",
    "DEFAULT_QUEUE": "crashhub.jobs._celery_queue",
    "KIND": "crashhub.jobs._rekey",
    "Ledger": "crashhub.jobs._celery_queue",
    "Limits": "crashhub.jobs._celery_queue",
    "LocalQueue": "crashhub.jobs._local",
    "Queue": "crashhub.jobs._base",
    "Rekey": "crashhub.jobs._rekey",
    "Runtime": "crashhub.jobs._celery_queue",
    "amqp_advice": "crashhub.jobs._celery_queue",
    "analyze_crash_job": "crashhub.jobs._handlers",
    "analyze_job": "crashhub.jobs._handlers",
    "find_vmlinux": "crashhub.jobs._handlers",
    "install_task": "crashhub.jobs._celery_queue",
    "is_amqp": "crashhub.jobs._celery_queue",
    "make_app": "crashhub.jobs._celery_queue",
    "queue_from_settings": "crashhub.jobs._celery_queue",
    "release_queue": "crashhub.jobs._celery_queue",
    "stale_algorithms": "crashhub.jobs._rekey",
    "submit_if_needed": "crashhub.jobs._rekey",
    "total": "crashhub.jobs._rekey",
}
_MODULES: dict[str, str] = {  # modules other parts use as a namespace
    "handlers": "crashhub.jobs._handlers",
}
__all__ = [
    "ANALYZE_QUEUE",
    "DEFAULT_QUEUE",
    "KIND",
    "Ledger",
    "Limits",
    "LocalQueue",
    "Queue",
    "Rekey",
    "Runtime",
    "amqp_advice",
    "analyze_crash_job",
    "analyze_job",
    "find_vmlinux",
    "handlers",
    "install_task",
    "is_amqp",
    "make_app",
    "queue_from_settings",
    "release_queue",
    "stale_algorithms",
    "submit_if_needed",
    "total",
]


__getattr__ = face(globals(), _FACE, _MODULES)
