"""The parts of bench/compare.py, one job a module.

compare.py imports this package from its own folder: Python puts a script's
folder first on sys.path, so `python bench/compare.py` finds it from any
working directory, without installing anything.

Modules depend in one direction: each imports only modules listed above it.

    libraries     which of faiss, nanopq and threadpoolctl are installed, library names
    data          the vectors: synthetic clusters or a user's .npy, split into sets
    accuracy      exact neighbours, recall@k, reconstruction error
    adapters      one class per library, so jobs call every library the same way
    background    how many cores other processes keep busy
    environment   CPU, versions and build configuration of each library
    timing        best-of timing and per-library thread limits
    results       what a run records: times, accuracy scores, speed-ups
    jobs          the benchmark jobs (jobs/base.py: what a job is; jobs/__init__.py: the list)
    runner        every job at one thread count
    checks        the sanity checks that make a broken run fail
    notes, report, results_json, plot   the output
    options       the command line
"""
