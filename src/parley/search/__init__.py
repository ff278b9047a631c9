"""Message search: the query language (:mod:`.query`), the engines behind one interface
(:mod:`.interface`), and the indexing worker (:mod:`.indexer`)."""
