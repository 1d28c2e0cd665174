"""Independent jobs run in this process or in a pool of spawned worker processes.

Spawned, not forked: a worker must not inherit its parent's threads (TensorFlow's
in a notebook, say), which a fork copies in an unusable state. A base module
(standard library only, imported when called), used by `ephys.pipeline` and the
`gfr synth-cells` command.
"""


def run_jobs(function, jobs, workers, worker_function=None):
    """Yield `(job, function(*job))` for each job (a tuple of arguments), in the order the jobs finish.

    Args:
        function: called in this process when `workers` <= 1 or there is at most one job.
        jobs: list of argument tuples.
        workers: processes of the pool (at most one per job).
        worker_function: called in the workers instead of `function` (default `function`); it and
            the jobs must be picklable (module-level functions, `functools.partial` of them).
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, function(*job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = {pool.submit(worker_function or function, *job): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()
