"""streams/geofence/: raw input records in, located records or dead letters out. agents.py is the Faust
wiring; registry.py and geofencer.py are pure.

The grid registry answers with one H3 lookup, and an exact point-in-polygon test only on border cells;
the geofencer turns report and ping-batch bytes into located reports, positions or dead letters (the
benchmark's baseline runs the same code).
"""
