"""consumers/: the processes beside the worker, on plain aiokafka consumers: an offset is committed only
once what was read is durable (the console commits none). No Faust.

The sink (`redwall sink`: batch consumers into PostgreSQL, lag, state gauges, retention), alert delivery
(`redwall deliver`: the routing engine and one consumer group per channel), and console/. See README.md.
"""
