"""Python's cyclic garbage collector held off while a store is read in bulk.

Reading years of tasks makes millions of objects, none of them garbage; each collection the
allocations trigger walks all of them again (measured: about 45 % of opening a large store).
`collector_held` turns the collector off for the load; with `keep`, the objects it made are
then moved out of the collector's sight (`gc.freeze`), so later collections in a long-running
bot do not walk years of history either (they are still freed when nothing refers to them).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_held(keep: bool = False) -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep:
            gc.freeze()
        if enabled:
            gc.enable()
