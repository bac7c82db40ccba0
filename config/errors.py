"""The one error of configuration: a setting or a config file refused at start-up, naming where and the fix.

Its own module, below every other of config/: settings.py and the modules it runs (kafka_security.py,
pg_security.py, addresses.py) all raise it, so it can live in none of them without an import circle.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting or a config file is wrong; the message names where and how to fix it."""
