"""The six compared set-ups. Each module defines `handler(event, context)` around the same work.

Every module is imported in a fresh interpreter by `bench/child.py`; importing two of them in
one process would stack their instrumentations.
"""
