"""The entry point: ``flask`` finds ``create_app`` here without ``--app``, and gunicorn runs ``'app:create_app()'``.

Everything else is in the ``web`` package (the Flask layer) and the domain packages it wires
together: ``kb`` (the knowledge base), ``classifier`` (the intent model), ``mailclient``,
``analytics`` and ``replies``.
"""

import os

# scikit-learn and numpy on a 2-core machine: one thread each is much faster than
# contended pools. Set before numpy is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from web import create_app  # noqa: E402  (after the thread settings)

__all__ = ["create_app"]
