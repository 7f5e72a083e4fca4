"""Disclosure's background work: importing these modules registers their tasks and periodic jobs."""

from bastion.disclosure import (  # noqa: F401  (imported for their @periodic registrations)
    handoff_tasks,
    publish_tasks,
    securitytxt_tasks,
)
