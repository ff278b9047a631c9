"""The send path as explicit stages, each a small class with one job:

auth (token -> user, cached) -> access (channel and membership, cached) ->
limits (rate limit; a pass-through until the limiter lands) -> id (Snowflake) ->
durable write (group-committed) -> after commit: recent-message buffer, bus event ->
response.
"""
