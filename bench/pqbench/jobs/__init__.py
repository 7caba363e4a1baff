"""The benchmark jobs compare.py runs, in this order.

To add a job, write a module here that defines JOB = Job(...) (see base.py)
and add it to JOBS. A job later in the list may use what an earlier one left
in the Block (shared_search uses the pq job's models).
"""

from __future__ import annotations

from . import opq, pq, shared_search
from .base import Job

JOBS: tuple[Job, ...] = (pq.JOB, shared_search.JOB, opq.JOB)
