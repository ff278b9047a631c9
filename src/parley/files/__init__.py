"""Files: uploaded as Slack's ``files_upload_v2`` does it (``files.getUploadURLExternal``,
the bytes POSTed to the URL it gives, ``files.completeUploadExternal``), kept in the
directory's database, shared into channels as a message, and downloaded with a token.
:mod:`parley.files.service` holds the rules, :mod:`parley.files.routes` the two HTTP
routes outside ``/api/``."""
