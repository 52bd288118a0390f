"""Messages that cross contexts: commands sent to the core and the events it publishes.

Plain immutable records with no behaviour and no I/O. They are NamedTuples rather
than frozen dataclasses because the core builds several per order on its hot path
and a frozen dataclass costs about ten times as much to construct (docs/adr/0001).
"""
