"""Benchmarks and the local Kite emulator's wiring: developer tooling, not product code.

This package sits at the top of the import graph (import-linter checks it): the product apps never
import it, and it is the one place outside ``tests/`` allowed to use ``tests.kite_emulator``.
"""
