"""streams/: the Faust worker (`redwall worker`) and the Kafka plumbing every Redwall process shares.

Here: the Faust app (app.py) and its safer consumer (faust_consumer.py), topics, the broker's epoch, clocks,
metrics, the ops listener, the credential cache. One wing per domain (http/, geofence/, escalation/,
patrol/), where agents.py is the Faust wiring and the domain logic is pure; cli/ and demo/ beside them.
"""
