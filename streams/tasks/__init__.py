"""streams/tasks/: tasks to a person (任务) in; their events, with each task's whole state, and the alerts of
their deadlines out. Every module here is pure; the Faust wiring is the wing's agents.py.

The task book (book.py): actions, fixes and the clock to events; the dwell rule that confirms an arrival
by GPS (arrival.py); the warnings and lates of each deadline (timers.py) and their alerts (alerts.py).
"""
