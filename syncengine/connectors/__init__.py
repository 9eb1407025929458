"""One package per remote system, each behind the interface in `interface.py`.

- `interface.py`: the `Connector` protocol the engine calls (methods and declared capabilities),
  the `Codec` each connector names (value forms, match keys, error categories), `Meter` and
  `TokenStore`.
- `base.py`: the neutral results and errors connectors return and raise (`RemoteRow`, …).
- `registry.py`: which connector serves which integration kind.
- `values.py`: the value forms every codec shares.

Connectors import no Django and no engine: they speak HTTP to their remote and answer in the
neutral types.
"""
