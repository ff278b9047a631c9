"""Background workers (``parley serve --role worker``): consumers of the event log that
do work off the send path."""
