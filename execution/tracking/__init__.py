"""After placement: what the broker says about the orders. ``postbacks`` (Kite's order updates,
verified against the order book), ``reconcile`` (UNKNOWN orders resolved by tag, fills fetched,
positions compared with Kite's), ``equity`` (marks stored over time for the P&L charts)."""
