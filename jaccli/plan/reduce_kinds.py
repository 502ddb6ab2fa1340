"""The ``--reduce`` vocabulary, apart from ``plan/reduce.py`` (which computes them, with NumPy) so that the command
line lists the choices without loading NumPy: ``jaccli --help`` stays fast (``plan/order_list.py`` does the same for
``-k``)."""

REDUCE_KINDS = ("det", "logabsdet", "trace", "diag")
