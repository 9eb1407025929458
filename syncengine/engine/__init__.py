"""The sync engine: cycles that bring Concord and a remote system (through its connector) into
agreement. Where things live:

- `cycles.py`: start a cycle (at most one active per integration), claim it (leases), run it,
  schedule due cycles, prune old ones. The entry points tasks, the API and the admin call.
- `runner.py`: `CycleRunner`, one cycle's context (integration, mappings, connector, meter)
  and the order of its stages; each stage is a SyncStage row (`stage()` bookkeeping).
- `schema.py`: the sync-schema stage: describe remote objects, check every field mapping.
- `pull.py`: pull updates, deletes and conversions: remote rows into Concord records.
- `matching.py`: link remote records seen for the first time to Concord records (no duplicates).
- `merge.py`: the pure per-field two-way merge against the last agreed values: who wins.
- `push.py`: push new and changed records; where the push is decided (what is sent, how).
- `references.py`: reference fields and junction objects (e.g. contact roles) ↔ associations.
- `junction_reads.py`: the remote's junction records, read incrementally (a watermark per
  junction reference; a mirror of each parent's records on its link).
- `dormant.py`: links of records that left the remote-side filter (nothing syncs until back).
- `errors.py`: how remote and local failures become SyncError rows.
- `links.py`: the set-based writer of RecordLink rows the stages share.
- `usable.py`: which directions pull or push, which rules send, the usable mappings.

The engine reaches the remote only through the connector interface
(`syncengine/connectors/interface.py`): it imports no connector package and asks for no remote
object by name (conversions and junctions are capabilities the connector declares). A few
stage messages still say "Bulk API" and "Salesforce", as the admin has always shown them.
"""
