"""The send path as explicit stages, each a small class with one job:

auth (token -> user and scopes, cached) -> scopes (per method) -> access (channel and
membership, cached) -> limits (token buckets) -> id (Snowflake) -> durable write
(group-committed) -> after commit: recent-message buffer, bus event -> response.
"""
