"""Benchmarks behind `openbell bench`: `engine.run_engine_bench` times the core state machine."""
