"""The MariaDB/MySQL backend: the directory in one database, messages in N shard databases
shared by every node of a fleet (``PARLEY_SHARDS``). See ``docs/storage.md``.

Modules: :mod:`.urls` (pure: parsing and redacting URLs), :mod:`.db` (connections, pools,
error translation, migrations), :mod:`.migrations` (the versioned schemas), :mod:`.plan`
(pure: what a batch of writes does), :mod:`.writer` (group commit per shard),
:mod:`.messages` and :mod:`.directory` (the two interfaces), :mod:`.reshard`
(``parley shards list | add``), :mod:`.open` (start-up and the recorded shard map).
"""
