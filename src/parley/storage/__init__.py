"""Durable state: the directory (workspaces, users, tokens, channels, members) and the
sharded message store. :mod:`parley.storage.interface` is the contract; the SQLite
backend in :mod:`parley.storage.sqlite` is the embedded default, the MariaDB/MySQL one in
:mod:`parley.storage.mysql` is shared by a fleet (``PARLEY_SHARDS``)."""
