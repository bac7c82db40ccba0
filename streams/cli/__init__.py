"""streams/cli/: the `redwall` command (`python -m streams.cli`). It parses, reaches the services and
calls the code that does the work; it holds no domain logic of its own.

main.py (the parser and each command), start.py (settings, the demo's address file, the one-line
failure), credentials.py (`redwall devices|dispatchers`), street.py (street, geometry, roster files).
"""
