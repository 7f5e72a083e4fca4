"""Background work: enqueueing on commit, retries, the scheduler tick, the sweeper and `bastion worker`.

django-tasks-db runs the tasks; this app adds what it lacks (STACK-NOTES.md): retries with backoff,
periodic jobs, and recovery of tasks left RUNNING by a dead worker. Public entry points:
``bastion.worker.queue`` (``enqueue_on_commit``, ``retryable``) and ``bastion.worker.scheduler``
(``periodic``, ``register_periodic``, ``tick``).
"""
