"""streams/escalation/: 小事不出社区，大事不出街道. Located reports and actions in, incident events and
alerts out, by config/escalation.toml. agents.py is the Faust wiring, rebuild.py and control.py's broadcast
the only other I/O; the engine and the rest are pure.

The engine and its actions, incident state and ids, alert and reason texts, control records (major
events, ticks), and the rebuild of a partition's engine from PostgreSQL and the topics. See README.md here.
"""
