"""streams/geofence/: raw input records in, located records or dead letters out. agents.py is the Faust
wiring; registry.py and geofencer.py are pure.

The grid registry answers with one H3 cell looked up in two indexes of one kind (grids, courtyards), and
an exact point-in-polygon test only on cells near an edge; the geofencer turns report and ping-batch
bytes into located reports, positions or dead letters, with the courtyard when the point is in one (the
benchmark's baseline runs the same code).
"""
