"""Link previews (Slack's "classic unfurling"): when a message has links, the server
fetches each page and attaches a preview (its site, title, description and image) or,
for a link to an image, the image, as ``attachments`` carrying ``from_url``; the message
changes (``message_changed``) without being marked edited.

- :mod:`.links`: pure: which links a message's text has, which of them a post wants
  previewed, and which addresses the server may fetch from;
- :mod:`.meta`: pure: a fetched page's preview, and a message's attachments with the
  previews of its links now;
- :mod:`.fetch`: I/O: the guarded HTTP client (public addresses only, bounded time
  and size, a few redirects);
- :mod:`.service`: the :class:`~.service.Unfurler` that runs it after a post or an edit,
  off the send path.
"""
