"""Batches that outgrow one machine, on Dask: ``jaccli.dask.batch_jacobian`` and the ``--engine dask`` run.

Importing this package imports dask (``pip install 'jaccli[dask]'``); ``import jaccli`` never does.
"""
from __future__ import annotations

from jaccli.dask.array import batch_jacobian

__all__ = ["batch_jacobian"]
