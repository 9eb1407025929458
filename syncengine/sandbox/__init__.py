"""Local stand-ins for the remote systems Concord syncs with (see DESIGN.md §5).

Each sandbox is a standalone server that imports nothing from Concord: it plays the remote side.
"""
