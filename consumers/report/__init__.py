"""consumers/report/: the weekly 专报, made by a process beside the worker (never by Faust): its figures,
heat maps and rendering, and the Monday job of `redwall sink` that makes it once per week and street and
announces it through the routing tree.
"""
