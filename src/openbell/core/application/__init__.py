"""The sequencer and recovery: batching, journaling, applying and answering commands."""
