"""config/sample/: the ILLUSTRATIVE sample geometry of Xichang'an Street and its sensitive zones, not
official boundaries; generate.py writes them.
"""
