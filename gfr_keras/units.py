"""Unit conversions shared by the whole library.

The published model computes rates in spikes per millisecond; people read Hz.
"""

#: Rates: 1 spike/ms = 1000 Hz.
HZ_PER_PER_MS = 1000.0
