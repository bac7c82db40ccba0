"""schemas/: what travels. Every record declared once, validated, and exported as JSON Schema and OpenAPI;
imports nothing else of Redwall's.

Field types and records, the one JSON module (orjson), the OpenAPI document, the schema export, and the
Chinese names and local times people read (display.py).
"""
