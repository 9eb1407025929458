"""What tests share: sandbox processes and their clients, workers, browsers, waiting, roles.

Modules with fixtures are pytest plugins, registered once in tests/conftest.py; tests import
the helpers from here, never from a conftest.
"""
