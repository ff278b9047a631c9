"""Versioned schemas. Step ``i`` takes a file from ``user_version`` i to i+1; steps are
only ever appended, never edited, once released."""

DIRECTORY = [
    # v1
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE teams (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, domain TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY, team_id TEXT NOT NULL, name TEXT NOT NULL,
        real_name TEXT NOT NULL DEFAULT '', is_bot INTEGER NOT NULL, bot_id TEXT,
        rate_limit REAL, created INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
        UNIQUE (team_id, name)
    );
    CREATE TABLE tokens (
        hash BLOB PRIMARY KEY, user_id TEXT NOT NULL, created INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX tokens_by_user ON tokens (user_id);
    CREATE TABLE channels (
        id TEXT PRIMARY KEY, team_id TEXT NOT NULL, name TEXT NOT NULL,
        is_private INTEGER NOT NULL, creator TEXT NOT NULL, created INTEGER NOT NULL,
        is_archived INTEGER NOT NULL DEFAULT 0, topic TEXT NOT NULL DEFAULT '',
        purpose TEXT NOT NULL DEFAULT '',
        UNIQUE (team_id, name)
    );
    CREATE TABLE members (
        channel_id TEXT NOT NULL, user_id TEXT NOT NULL, joined INTEGER NOT NULL,
        PRIMARY KEY (channel_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_by_user ON members (user_id, channel_id);
    """,
    # v2: scopes per token (NULL: the defaults of the user's kind)
    """
    ALTER TABLE tokens ADD COLUMN scopes TEXT;
    """,
    # v3: a password hash for people who sign in to the web client (NULL: none)
    """
    ALTER TABLE users ADD COLUMN password TEXT;
    """,
    # v4: Do Not Disturb: a snooze and a daily schedule per user (parley.notify.dnd)
    """
    CREATE TABLE dnd (
        user_id TEXT PRIMARY KEY, snooze_until INTEGER NOT NULL DEFAULT 0,
        start_min INTEGER, end_min INTEGER, tz TEXT
    );
    """,
    # v5: devices registered for push (parley.notify.devices)
    """
    CREATE TABLE devices (
        platform TEXT NOT NULL, token TEXT NOT NULL, user_id TEXT NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (platform, token)
    );
    CREATE INDEX devices_by_user ON devices (user_id);
    """,
    # v6: pushes held during Do Not Disturb (parley.notify.pusher)
    """
    CREATE TABLE push_held (
        user_id TEXT NOT NULL, channel TEXT NOT NULL, ts TEXT NOT NULL,
        notice BLOB NOT NULL, PRIMARY KEY (user_id, channel, ts)
    );
    """,
    # v7: notification preferences for push (parley.notify.prefs)
    """
    CREATE TABLE push_prefs (
        user_id TEXT PRIMARY KEY, level TEXT NOT NULL, keywords TEXT NOT NULL,
        muted TEXT NOT NULL
    );
    """,
    # v8: direct messages (channels D…, between two users)
    """
    ALTER TABLE channels ADD COLUMN is_im INTEGER NOT NULL DEFAULT 0;
    """,
    # v9: durable retries and dead letters of the delivery steps (parley.resilience)
    """
    CREATE TABLE retries (
        step TEXT NOT NULL, item TEXT NOT NULL, payload BLOB NOT NULL,
        attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, errors TEXT NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (step, item)
    );
    CREATE INDEX retries_due ON retries (step, next_at);
    CREATE TABLE dead_letters (
        step TEXT NOT NULL, item TEXT NOT NULL, payload BLOB NOT NULL,
        attempts INTEGER NOT NULL, errors TEXT NOT NULL, created INTEGER NOT NULL,
        died INTEGER NOT NULL, PRIMARY KEY (step, item)
    );
    """,
    # v10: each member's read mark in the channel (conversations.mark): a message ts
    """
    ALTER TABLE members ADD COLUMN last_read INTEGER NOT NULL DEFAULT 0;
    """,
    # v11: apps that get the Events API over HTTP (parley.apps.events)
    """
    CREATE TABLE event_apps (
        user_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, request_url TEXT NOT NULL,
        signing_secret TEXT NOT NULL, created INTEGER NOT NULL
    );
    """,
    # v12: slash commands and interactivity (parley.apps.commands), their response URLs
    """
    CREATE TABLE app_commands (
        team_id TEXT NOT NULL, command TEXT NOT NULL, user_id TEXT NOT NULL,
        request_url TEXT NOT NULL, signing_secret TEXT NOT NULL,
        description TEXT NOT NULL, usage_hint TEXT NOT NULL, created INTEGER NOT NULL,
        PRIMARY KEY (team_id, command)
    );
    CREATE TABLE command_responses (
        token_hash TEXT PRIMARY KEY, team_id TEXT NOT NULL, channel_id TEXT NOT NULL,
        user_id TEXT NOT NULL, app_user_id TEXT NOT NULL, expires INTEGER NOT NULL,
        message_ts INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX command_responses_expires ON command_responses (expires);
    CREATE TABLE app_interactivity (
        user_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, request_url TEXT NOT NULL,
        signing_secret TEXT NOT NULL, created INTEGER NOT NULL
    );
    """,
    # v13: pinned messages (pins.*): a message by its channel and ts, who pinned it, when
    """
    CREATE TABLE pins (
        channel_id TEXT NOT NULL, ts INTEGER NOT NULL, user_id TEXT NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (channel_id, ts)
    );
    """,
    # v14: a user's email (set by the operator) and the profile they set (JSON); bots by id
    """
    ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN profile TEXT NOT NULL DEFAULT '';
    CREATE INDEX users_email ON users (team_id, email);
    CREATE INDEX users_bot ON users (bot_id);
    """,
    # v15: group direct messages (channels G…, among 3-9 users)
    """
    ALTER TABLE channels ADD COLUMN is_mpim INTEGER NOT NULL DEFAULT 0;
    """,
    # v16: files (parley.files): what was uploaded, its content in chunks, where shared
    """
    CREATE TABLE files (
        id TEXT PRIMARY KEY, team_id TEXT NOT NULL, user_id TEXT NOT NULL,
        name TEXT NOT NULL, title TEXT NOT NULL, mimetype TEXT NOT NULL,
        size INTEGER NOT NULL, created INTEGER NOT NULL, upload_hash TEXT NOT NULL,
        uploaded INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX files_team ON files (team_id, created);
    CREATE INDEX files_user ON files (user_id, completed);
    CREATE TABLE file_chunks (
        file_id TEXT NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (file_id, n)
    );
    CREATE TABLE file_shares (
        file_id TEXT NOT NULL, channel_id TEXT NOT NULL, PRIMARY KEY (file_id, channel_id)
    );
    CREATE INDEX file_shares_channel ON file_shares (channel_id);
    """,
    # v17: apps' modals (parley.apps.views)
    """
    CREATE TABLE views (
        id TEXT PRIMARY KEY, team_id TEXT NOT NULL, user_id TEXT NOT NULL,
        app_user_id TEXT NOT NULL, channel_id TEXT NOT NULL, body TEXT NOT NULL,
        hash TEXT NOT NULL, external_id TEXT NOT NULL, closed INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL
    );
    CREATE INDEX views_external ON views (team_id, external_id);
    CREATE INDEX views_updated ON views (updated);
    """,
    # v18: user groups (usergroups.*) and their members
    """
    CREATE TABLE usergroups (
        id TEXT PRIMARY KEY, team_id TEXT NOT NULL, name TEXT NOT NULL,
        handle TEXT NOT NULL, description TEXT NOT NULL, created_by TEXT NOT NULL,
        created INTEGER NOT NULL, updated INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        UNIQUE (team_id, name), UNIQUE (team_id, handle)
    );
    CREATE TABLE usergroup_members (
        usergroup_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (usergroup_id, user_id)
    );
    """,
    # v19: apps' home tabs (views.publish), kept for each person; stacks of modals
    # (views.push): the view each was pushed onto, and the first of its stack
    """
    ALTER TABLE views ADD COLUMN home INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE views ADD COLUMN previous_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE views ADD COLUMN root_id TEXT NOT NULL DEFAULT '';
    """,
    # v20: apps' shortcuts (parley.apps.shortcuts)
    """
    CREATE TABLE app_shortcuts (
        user_id TEXT NOT NULL, callback_id TEXT NOT NULL, team_id TEXT NOT NULL,
        kind TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (user_id, callback_id)
    );
    CREATE INDEX app_shortcuts_team ON app_shortcuts (team_id);
    """,
    # v21: people who set themselves away (users.setPresence)
    """
    ALTER TABLE users ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
    """,
    # v22: channels' bookmarks (bookmarks.*)
    """
    CREATE TABLE bookmarks (
        id TEXT PRIMARY KEY, channel_id TEXT NOT NULL, title TEXT NOT NULL,
        link TEXT NOT NULL, emoji TEXT NOT NULL, created_by TEXT NOT NULL,
        updated_by TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL
    );
    CREATE INDEX bookmarks_channel ON bookmarks (channel_id, created);
    """,
    # v23: which tokens are web sessions (signing in), so deactivating a user or
    # admin.users.session.reset ends those and leaves their API tokens be
    """
    ALTER TABLE tokens ADD COLUMN session INTEGER NOT NULL DEFAULT 0;
    """,
    # v24: a workspace's own emoji (emoji.list, admin.emoji.*): an image or an alias
    """
    CREATE TABLE emoji (
        team_id TEXT NOT NULL, name TEXT NOT NULL, alias_for TEXT NOT NULL,
        mimetype TEXT NOT NULL, created_by TEXT NOT NULL, created INTEGER NOT NULL,
        data BLOB NOT NULL, PRIMARY KEY (team_id, name)
    );
    """,
    # v25: the domains whose links apps unfurl themselves (parley.apps.unfurls)
    """
    CREATE TABLE app_unfurl_domains (
        user_id TEXT NOT NULL, team_id TEXT NOT NULL, domain TEXT NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (user_id, domain)
    );
    """,
    # v26: the direct and group direct messages each person closed (conversations.close),
    # until they open them again or a message comes after
    """
    CREATE TABLE closed_conversations (
        user_id TEXT NOT NULL, channel_id TEXT NOT NULL, closed_seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, channel_id)
    );
    """,
    # v27: people's photos (users.setPhoto), served to anyone who has the URL
    """
    CREATE TABLE avatars (
        user_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mimetype TEXT NOT NULL,
        data BLOB NOT NULL, updated INTEGER NOT NULL
    );
    """,
    # v28: files' public links (files.sharedPublicURL): the secret each link names
    """
    CREATE TABLE file_links (
        file_id TEXT PRIMARY KEY, secret TEXT NOT NULL, created INTEGER NOT NULL
    );
    """,
    # v29: apps people install with OAuth (parley app oauth), and the codes of their
    # consent pages until the app exchanges them (oauth.v2.access)
    """
    CREATE TABLE oauth_apps (
        user_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE,
        secret_hash BLOB NOT NULL, redirect_urls TEXT NOT NULL, scopes TEXT NOT NULL,
        user_scopes TEXT NOT NULL, created INTEGER NOT NULL
    );
    CREATE TABLE oauth_grants (
        code_hash BLOB PRIMARY KEY, client_id TEXT NOT NULL, installer_id TEXT NOT NULL,
        scopes TEXT NOT NULL, user_scopes TEXT NOT NULL, redirect_uri TEXT NOT NULL,
        expires INTEGER NOT NULL, nonce TEXT NOT NULL, openid INTEGER NOT NULL
    );
    """,
    # v30: which app an installation's token was issued to (its bot's id; '' for the
    # others), so uninstalling the app (apps.uninstall) revokes them
    """
    ALTER TABLE tokens ADD COLUMN app TEXT NOT NULL DEFAULT '';
    CREATE INDEX tokens_by_app ON tokens (app) WHERE app != '';
    """,
    # v31: the message that shared a file in each channel (its ts; 0: shared before this
    # was kept), so a deletion leaves a tombstone there
    """
    ALTER TABLE file_shares ADD COLUMN ts INTEGER NOT NULL DEFAULT 0;
    """,
    # v32: the messages each person saved for later (stars.*)
    """
    CREATE TABLE stars (
        user_id TEXT NOT NULL, channel_id TEXT NOT NULL, ts INTEGER NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (user_id, channel_id, ts)
    );
    CREATE INDEX stars_by_time ON stars (user_id, created);
    """,
    # v33: how long messages are kept, a workspace's and a conversation's own (retention)
    """
    CREATE TABLE retention (
        team_id TEXT NOT NULL, channel_id TEXT NOT NULL, days INTEGER NOT NULL,
        PRIMARY KEY (team_id, channel_id)
    );
    """,
    # v34: Do Not Disturb's window ended by hand until its end (dnd.endDnd)
    """
    ALTER TABLE dnd ADD COLUMN off_until INTEGER NOT NULL DEFAULT 0;
    """,
]

SHARD = [
    # v1
    """
    CREATE TABLE messages (
        channel TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
        id INTEGER NOT NULL, team TEXT NOT NULL, user TEXT NOT NULL, bot_id TEXT,
        text TEXT NOT NULL, thread_ts INTEGER, subtype TEXT, client_msg_id TEXT,
        version INTEGER NOT NULL DEFAULT 0, edited_ts INTEGER, edited_by TEXT,
        deleted INTEGER NOT NULL DEFAULT 0, reply_count INTEGER NOT NULL DEFAULT 0,
        reply_users TEXT NOT NULL DEFAULT '', latest_reply INTEGER,
        PRIMARY KEY (channel, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_ts ON messages (channel, ts);
    CREATE UNIQUE INDEX messages_client_msg_id ON messages (channel, user, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    CREATE INDEX messages_thread ON messages (channel, thread_ts, ts)
        WHERE thread_ts IS NOT NULL;
    CREATE TABLE reactions (
        channel TEXT NOT NULL, ts INTEGER NOT NULL, name TEXT NOT NULL, user TEXT NOT NULL,
        added INTEGER NOT NULL,
        PRIMARY KEY (channel, ts, name, user)
    ) WITHOUT ROWID;
    """,
    # v2: blocks and attachments (JSON), NULL for plain messages
    """
    ALTER TABLE messages ADD COLUMN rich TEXT;
    """,
    # v3: what someone reacted to, newest first (reactions.list)
    """
    CREATE INDEX reactions_user ON reactions (user, added);
    """,
]
