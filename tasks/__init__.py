"""Units of work: plain typed functions, each also wrapped as a Prefect task.

Convention: ``do_thing(...)`` does the work and is what tests call; ``do_thing_task =
stage_task(do_thing)`` is what flows call. Tasks that write files are never cached by Prefect
(DVC owns caching and deletes outputs before a stage runs).
"""
