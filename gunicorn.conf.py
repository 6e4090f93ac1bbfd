"""gunicorn's settings for this app; gunicorn reads this file when it starts in the repository.

Why each setting, and how to stop, reload and release a node: docs/deploy.md and web/serving.py.
Command-line options (workers, bind address) still apply: `gunicorn -w 4 -b 0.0.0.0:8000 'app:create_app()'`.
"""

# Load the app once, in the master, before forking the workers: the index and the model are
# built at most once per node, and on a reload (SIGHUP) new workers are ready the moment they fork.
preload_app = True
# Stopping: a worker finishes the request in hand within this many seconds.
graceful_timeout = 30
# No recycling of workers after a number of requests: each restart of a worker is a moment
# without it, and the app does not leak.
max_requests = 0


def post_worker_init(worker):
    """Let go of the listener at once on SIGTERM; catch up with the cluster; start the background thread."""
    from web.serving import worker_started

    worker_started(worker)


def on_reload(server):
    """Before a reload forks new workers, bring the master's knowledge up to date."""
    from web.serving import master_reloading

    master_reloading(server)
