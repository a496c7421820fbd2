"""Objects loaded at start-up are moved out of the garbage collector's sight.

The Rasa server (TensorFlow, the model, the domain) and the action server (torch,
two encoders, the indexes) each hold millions of long-lived objects after start-up.
Python's collector of the oldest generation walks all of them whenever enough new
long-lived objects have piled up, about once every 30 s under load here, and that walk
took 190-265 ms during which the process answers nobody: every conversation in flight
waits (docs/profiling.md). ``gc.freeze()`` moves every object alive now into a
permanent generation that collections skip; objects created later are collected as
before. Called once, when a server has finished loading; collecting first means no
garbage is kept alive by the freeze.
"""

from __future__ import annotations

import gc
import threading

_frozen = threading.Event()


def freeze_startup_objects() -> bool:
    """Collect, then freeze what is alive; False if this process already did."""
    if _frozen.is_set():
        return False
    _frozen.set()
    gc.collect()
    gc.freeze()
    return True
