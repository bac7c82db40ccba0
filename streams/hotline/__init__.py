"""streams/hotline/: 12345 work orders (接诉即办) in; placed orders, the reports they become and their
clocks' alerts out. agents.py is the Faust wiring, clocks.tick claims due clocks in PostgreSQL; every
other module is pure.

Placement of an order in the street and the records it becomes (placement.py); the early warnings and
breaches of its contact and resolve limits (clocks.py).
"""
