"""The versioned schemas on MariaDB/MySQL: the same versions as
:mod:`parley.storage.sqlite.migrations`, translated. Step ``i`` takes a database from
version i to i+1; steps are only ever appended, never edited, once released.

Translation: ids are ``VARCHAR(64)``, times ``BIGINT`` microseconds, flags ``TINYINT``,
texts ``MEDIUMTEXT`` (a message may hold 1,000,000 characters); every table is InnoDB,
``utf8mb4`` with a binary, no-pad collation (``{options}``), so names compare and sort
exactly as in SQLite. Shards add one table SQLite has no need for: ``channel_tails``,
each channel's last ``seq`` and ``ts``, the row a writer locks to number a channel's
messages (SQLite has a single writer per file instead). Partial indexes become plain
ones (a unique key allows many NULLs).

Each step is a list of statements; DDL commits on its own in MySQL, so a step that
crashed half-way is re-run and what already exists is skipped (errors 1050, 1060, 1061).
"""

DIRECTORY_TABLES = (
    "meta",
    "teams",
    "users",
    "tokens",
    "channels",
    "members",
    "dnd",
    "devices",
    "push_held",
    "push_prefs",
    "retries",
    "dead_letters",
)
SHARD_TABLES = ("messages", "reactions", "channel_tails")

DIRECTORY: list[list[str]] = [
    # v1
    [
        "CREATE TABLE IF NOT EXISTS meta (`key` VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)"
        " {options}",
        """CREATE TABLE IF NOT EXISTS teams (
            id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL,
            domain VARCHAR(255) NOT NULL, created BIGINT NOT NULL,
            UNIQUE KEY teams_domain (domain)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS users (
            id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL, name VARCHAR(255) NOT NULL,
            real_name VARCHAR(255) NOT NULL DEFAULT '', is_bot TINYINT NOT NULL,
            bot_id VARCHAR(64), rate_limit DOUBLE, created BIGINT NOT NULL,
            deleted TINYINT NOT NULL DEFAULT 0,
            UNIQUE KEY users_name (team_id, name)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS tokens (
            hash VARBINARY(64) PRIMARY KEY, user_id VARCHAR(64) NOT NULL,
            created BIGINT NOT NULL, revoked TINYINT NOT NULL DEFAULT 0,
            KEY tokens_by_user (user_id)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS channels (
            id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL, name VARCHAR(255) NOT NULL,
            is_private TINYINT NOT NULL, creator VARCHAR(64) NOT NULL, created BIGINT NOT NULL,
            is_archived TINYINT NOT NULL DEFAULT 0, topic TEXT NOT NULL, purpose TEXT NOT NULL,
            UNIQUE KEY channels_name (team_id, name)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS members (
            channel_id VARCHAR(64) NOT NULL, user_id VARCHAR(64) NOT NULL,
            joined BIGINT NOT NULL,
            PRIMARY KEY (channel_id, user_id),
            KEY members_by_user (user_id, channel_id)
        ) {options}""",
    ],
    # v2: scopes per token (NULL: the defaults of the user's kind)
    ["ALTER TABLE tokens ADD COLUMN scopes TEXT"],
    # v3: a password hash for people who sign in to the web client (NULL: none)
    ["ALTER TABLE users ADD COLUMN password TEXT"],
    # v4: Do Not Disturb: a snooze and a daily schedule per user (parley.notify.dnd)
    [
        """CREATE TABLE IF NOT EXISTS dnd (
            user_id VARCHAR(64) PRIMARY KEY, snooze_until BIGINT NOT NULL DEFAULT 0,
            start_min INT, end_min INT, tz VARCHAR(64)
        ) {options}"""
    ],
    # v5: devices registered for push (parley.notify.devices)
    [
        """CREATE TABLE IF NOT EXISTS devices (
            platform VARCHAR(8) NOT NULL, token VARCHAR(4096) NOT NULL,
            user_id VARCHAR(64) NOT NULL, created BIGINT NOT NULL,
            token_key VARBINARY(32) NOT NULL,
            PRIMARY KEY (platform, token_key),
            KEY devices_by_user (user_id)
        ) {options}"""
    ],
    # v6: pushes held during Do Not Disturb (parley.notify.pusher)
    [
        """CREATE TABLE IF NOT EXISTS push_held (
            user_id VARCHAR(64) NOT NULL, channel VARCHAR(64) NOT NULL,
            ts VARCHAR(32) NOT NULL, notice BLOB NOT NULL,
            PRIMARY KEY (user_id, channel, ts)
        ) {options}"""
    ],
    # v7: notification preferences for push (parley.notify.prefs)
    [
        """CREATE TABLE IF NOT EXISTS push_prefs (
            user_id VARCHAR(64) PRIMARY KEY, level VARCHAR(16) NOT NULL,
            keywords TEXT NOT NULL, muted MEDIUMTEXT NOT NULL
        ) {options}"""
    ],
    # v8: direct messages (channels D…, between two users)
    ["ALTER TABLE channels ADD COLUMN is_im TINYINT NOT NULL DEFAULT 0"],
    # v9: durable retries and dead letters of the delivery steps (parley.resilience)
    [
        """CREATE TABLE IF NOT EXISTS retries (
            step VARCHAR(32) NOT NULL, item VARCHAR(191) NOT NULL, payload BLOB NOT NULL,
            attempts INT NOT NULL, next_at BIGINT NOT NULL, errors MEDIUMTEXT NOT NULL,
            created BIGINT NOT NULL, PRIMARY KEY (step, item), KEY retries_due (step, next_at)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS dead_letters (
            step VARCHAR(32) NOT NULL, item VARCHAR(191) NOT NULL, payload BLOB NOT NULL,
            attempts INT NOT NULL, errors MEDIUMTEXT NOT NULL, created BIGINT NOT NULL,
            died BIGINT NOT NULL, PRIMARY KEY (step, item)
        ) {options}""",
    ],
    # v10: each member's read mark in the channel (conversations.mark): a message ts
    ["ALTER TABLE members ADD COLUMN last_read BIGINT NOT NULL DEFAULT 0"],
    # v11: apps that get the Events API over HTTP (parley.apps.events)
    [
        """CREATE TABLE IF NOT EXISTS event_apps (
            user_id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            request_url TEXT NOT NULL, signing_secret VARCHAR(128) NOT NULL,
            created BIGINT NOT NULL
        ) {options}"""
    ],
    # v12: slash commands and interactivity (parley.apps.commands), their response URLs
    [
        """CREATE TABLE IF NOT EXISTS app_commands (
            team_id VARCHAR(64) NOT NULL, command VARCHAR(64) NOT NULL,
            user_id VARCHAR(64) NOT NULL, request_url TEXT NOT NULL,
            signing_secret VARCHAR(128) NOT NULL, description TEXT NOT NULL,
            usage_hint TEXT NOT NULL, created BIGINT NOT NULL,
            PRIMARY KEY (team_id, command)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS command_responses (
            token_hash VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            channel_id VARCHAR(64) NOT NULL, user_id VARCHAR(64) NOT NULL,
            app_user_id VARCHAR(64) NOT NULL, expires BIGINT NOT NULL,
            message_ts BIGINT NOT NULL, uses INT NOT NULL DEFAULT 0, INDEX (expires)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS app_interactivity (
            user_id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            request_url TEXT NOT NULL, signing_secret VARCHAR(128) NOT NULL,
            created BIGINT NOT NULL
        ) {options}""",
    ],
    # v13: pinned messages (pins.*): a message by its channel and ts, who pinned it, when
    [
        """CREATE TABLE IF NOT EXISTS pins (
            channel_id VARCHAR(64) NOT NULL, ts BIGINT NOT NULL,
            user_id VARCHAR(64) NOT NULL, created BIGINT NOT NULL,
            PRIMARY KEY (channel_id, ts)
        ) {options}"""
    ],
    # v14: a user's email (set by the operator) and the profile they set (JSON); bots by id
    [
        "ALTER TABLE users ADD COLUMN email VARCHAR(254) NOT NULL DEFAULT ''",
        "ALTER TABLE users ADD COLUMN profile TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX users_email ON users (team_id, email)",
        "CREATE INDEX users_bot ON users (bot_id)",
    ],
    # v15: group direct messages (channels G…, among 3-9 users)
    ["ALTER TABLE channels ADD COLUMN is_mpim TINYINT NOT NULL DEFAULT 0"],
    # v16: files (parley.files): what was uploaded, its content in chunks, where shared
    [
        """CREATE TABLE IF NOT EXISTS files (
            id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            user_id VARCHAR(64) NOT NULL, name VARCHAR(255) NOT NULL, title TEXT NOT NULL,
            mimetype VARCHAR(255) NOT NULL, size BIGINT NOT NULL, created BIGINT NOT NULL,
            upload_hash VARCHAR(64) NOT NULL, uploaded TINYINT NOT NULL DEFAULT 0,
            completed TINYINT NOT NULL DEFAULT 0, INDEX files_team (team_id, created),
            INDEX files_user (user_id, completed)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS file_chunks (
            file_id VARCHAR(64) NOT NULL, n INT NOT NULL, data MEDIUMBLOB NOT NULL,
            PRIMARY KEY (file_id, n)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS file_shares (
            file_id VARCHAR(64) NOT NULL, channel_id VARCHAR(64) NOT NULL,
            PRIMARY KEY (file_id, channel_id), INDEX file_shares_channel (channel_id)
        ) {options}""",
    ],
    # v17: apps' modals (parley.apps.views)
    [
        """CREATE TABLE IF NOT EXISTS views (
            id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            user_id VARCHAR(64) NOT NULL, app_user_id VARCHAR(64) NOT NULL,
            channel_id VARCHAR(64) NOT NULL, body MEDIUMTEXT NOT NULL,
            hash VARCHAR(64) NOT NULL, external_id VARCHAR(255) NOT NULL,
            closed TINYINT NOT NULL DEFAULT 0, updated BIGINT NOT NULL,
            INDEX views_external (team_id, external_id), INDEX views_updated (updated)
        ) {options}"""
    ],
    # v18: user groups (usergroups.*) and their members
    [
        """CREATE TABLE IF NOT EXISTS usergroups (
            id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            name VARCHAR(255) NOT NULL, handle VARCHAR(64) NOT NULL, description TEXT NOT NULL,
            created_by VARCHAR(64) NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL,
            disabled TINYINT NOT NULL DEFAULT 0, UNIQUE KEY usergroups_name (team_id, name),
            UNIQUE KEY usergroups_handle (team_id, handle)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS usergroup_members (
            usergroup_id VARCHAR(64) NOT NULL, user_id VARCHAR(64) NOT NULL,
            PRIMARY KEY (usergroup_id, user_id)
        ) {options}""",
    ],
    # v19: apps' home tabs (views.publish), kept for each person; stacks of modals
    # (views.push): the view each was pushed onto, and the first of its stack
    [
        "ALTER TABLE views ADD COLUMN IF NOT EXISTS home TINYINT NOT NULL DEFAULT 0",
        "ALTER TABLE views ADD COLUMN IF NOT EXISTS previous_id VARCHAR(64) NOT NULL DEFAULT ''",
        "ALTER TABLE views ADD COLUMN IF NOT EXISTS root_id VARCHAR(64) NOT NULL DEFAULT ''",
    ],
    # v20: apps' shortcuts (parley.apps.shortcuts)
    [
        """CREATE TABLE IF NOT EXISTS app_shortcuts (
            user_id VARCHAR(64) NOT NULL, callback_id VARCHAR(255) NOT NULL,
            team_id VARCHAR(64) NOT NULL, kind VARCHAR(16) NOT NULL,
            name VARCHAR(255) NOT NULL, description TEXT NOT NULL, created BIGINT NOT NULL,
            PRIMARY KEY (user_id, callback_id), INDEX app_shortcuts_team (team_id)
        ) {options}"""
    ],
    # v21: people who set themselves away (users.setPresence)
    ["ALTER TABLE users ADD COLUMN IF NOT EXISTS away TINYINT NOT NULL DEFAULT 0"],
    # v22: channels' bookmarks (bookmarks.*)
    [
        """CREATE TABLE IF NOT EXISTS bookmarks (
            id VARCHAR(64) PRIMARY KEY, channel_id VARCHAR(64) NOT NULL,
            title VARCHAR(255) NOT NULL, link TEXT NOT NULL, emoji VARCHAR(100) NOT NULL,
            created_by VARCHAR(64) NOT NULL, updated_by VARCHAR(64) NOT NULL,
            created BIGINT NOT NULL, updated BIGINT NOT NULL,
            INDEX bookmarks_channel (channel_id, created)
        ) {options}"""
    ],
    # v23: which tokens are web sessions (signing in)
    ["ALTER TABLE tokens ADD COLUMN IF NOT EXISTS session TINYINT NOT NULL DEFAULT 0"],
    # v24: a workspace's own emoji
    [
        """CREATE TABLE IF NOT EXISTS emoji (
            team_id VARCHAR(64) NOT NULL, name VARCHAR(100) NOT NULL,
            alias_for VARCHAR(100) NOT NULL, mimetype VARCHAR(64) NOT NULL,
            created_by VARCHAR(64) NOT NULL, created BIGINT NOT NULL, data MEDIUMBLOB NOT NULL,
            PRIMARY KEY (team_id, name)
        ) {options}"""
    ],
    # v25: the domains whose links apps unfurl themselves (parley.apps.unfurls)
    [
        """CREATE TABLE IF NOT EXISTS app_unfurl_domains (
            user_id VARCHAR(64) NOT NULL, team_id VARCHAR(64) NOT NULL,
            domain VARCHAR(253) NOT NULL, created BIGINT NOT NULL,
            PRIMARY KEY (user_id, domain)
        ) {options}"""
    ],
    # v26: the direct and group direct messages each person closed (conversations.close)
    [
        """CREATE TABLE IF NOT EXISTS closed_conversations (
            user_id VARCHAR(64) NOT NULL, channel_id VARCHAR(64) NOT NULL,
            closed_seq BIGINT NOT NULL, PRIMARY KEY (user_id, channel_id)
        ) {options}"""
    ],
    # v27: people's photos (users.setPhoto)
    [
        """CREATE TABLE IF NOT EXISTS avatars (
            user_id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            mimetype VARCHAR(64) NOT NULL, data MEDIUMBLOB NOT NULL, updated BIGINT NOT NULL
        ) {options}"""
    ],
    # v28: files' public links (files.sharedPublicURL)
    [
        """CREATE TABLE IF NOT EXISTS file_links (
            file_id VARCHAR(64) PRIMARY KEY, secret VARCHAR(64) NOT NULL,
            created BIGINT NOT NULL
        ) {options}"""
    ],
    # v29: apps people install with OAuth, and their consent pages' codes
    [
        """CREATE TABLE IF NOT EXISTS oauth_apps (
            user_id VARCHAR(64) PRIMARY KEY, team_id VARCHAR(64) NOT NULL,
            client_id VARCHAR(64) NOT NULL, secret_hash VARBINARY(32) NOT NULL,
            redirect_urls TEXT NOT NULL, scopes TEXT NOT NULL, user_scopes TEXT NOT NULL,
            created BIGINT NOT NULL, UNIQUE KEY oauth_apps_client (client_id)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS oauth_grants (
            code_hash VARBINARY(32) PRIMARY KEY, client_id VARCHAR(64) NOT NULL,
            installer_id VARCHAR(64) NOT NULL, scopes TEXT NOT NULL,
            user_scopes TEXT NOT NULL, redirect_uri TEXT NOT NULL, expires BIGINT NOT NULL,
            nonce TEXT NOT NULL, openid TINYINT NOT NULL
        ) {options}""",
    ],
    # v30: which app an installation's token was issued to (apps.uninstall)
    [
        "ALTER TABLE tokens ADD COLUMN IF NOT EXISTS app VARCHAR(64) NOT NULL DEFAULT ''",
        "CREATE INDEX IF NOT EXISTS tokens_by_app ON tokens (app)",
    ],
    # v31: the message that shared a file in each channel (its ts; 0: unknown)
    ["ALTER TABLE file_shares ADD COLUMN IF NOT EXISTS ts BIGINT NOT NULL DEFAULT 0"],
    # v32: the messages each person saved for later (stars.*)
    [
        """CREATE TABLE IF NOT EXISTS stars (
            user_id VARCHAR(64) NOT NULL, channel_id VARCHAR(64) NOT NULL, ts BIGINT NOT NULL,
            created BIGINT NOT NULL, PRIMARY KEY (user_id, channel_id, ts),
            KEY stars_by_time (user_id, created)
        ) {options}"""
    ],
    # v33: how long messages are kept, a workspace's and a conversation's own (retention)
    [
        """CREATE TABLE IF NOT EXISTS retention (
            team_id VARCHAR(64) NOT NULL, channel_id VARCHAR(64) NOT NULL,
            days INT NOT NULL, PRIMARY KEY (team_id, channel_id)
        ) {options}"""
    ],
    # v34: Do Not Disturb's window ended by hand until its end (dnd.endDnd)
    ["ALTER TABLE dnd ADD COLUMN IF NOT EXISTS off_until BIGINT NOT NULL DEFAULT 0"],
]

SHARD: list[list[str]] = [
    # v1
    [
        """CREATE TABLE IF NOT EXISTS messages (
            channel VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, ts BIGINT NOT NULL,
            id BIGINT NOT NULL, team VARCHAR(64) NOT NULL, user VARCHAR(64) NOT NULL,
            bot_id VARCHAR(64), text MEDIUMTEXT NOT NULL, thread_ts BIGINT,
            subtype VARCHAR(64), client_msg_id VARCHAR(255),
            version INT NOT NULL DEFAULT 0, edited_ts BIGINT, edited_by VARCHAR(64),
            deleted TINYINT NOT NULL DEFAULT 0, reply_count INT NOT NULL DEFAULT 0,
            reply_users MEDIUMTEXT NOT NULL, latest_reply BIGINT,
            PRIMARY KEY (channel, seq),
            UNIQUE KEY messages_ts (channel, ts),
            UNIQUE KEY messages_client_msg_id (channel, user, client_msg_id),
            KEY messages_thread (channel, thread_ts, ts)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS reactions (
            channel VARCHAR(64) NOT NULL, ts BIGINT NOT NULL, name VARCHAR(255) NOT NULL,
            user VARCHAR(64) NOT NULL, added BIGINT NOT NULL,
            PRIMARY KEY (channel, ts, name, user)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS channel_tails (
            channel VARCHAR(64) PRIMARY KEY, seq BIGINT NOT NULL, ts BIGINT NOT NULL
        ) {options}""",
    ],
    # v2: blocks and attachments (JSON), NULL for plain messages
    ["ALTER TABLE messages ADD COLUMN rich MEDIUMTEXT"],
    # v3: the search engine's documents (``parley.storage.mysql.search``): a FULLTEXT
    # index, case- and accent-insensitive, built without a stopword list
    [
        "SET SESSION innodb_ft_enable_stopword = OFF",
        """CREATE TABLE IF NOT EXISTS search_docs (
            id BIGINT NOT NULL PRIMARY KEY, channel VARCHAR(64) NOT NULL,
            ts BIGINT NOT NULL, user VARCHAR(64) NOT NULL,
            text MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
            has_link TINYINT NOT NULL,
            KEY search_docs_channel_ts (channel, ts),
            FULLTEXT KEY search_docs_text (text)
        ) {options}""",
        """CREATE TABLE IF NOT EXISTS search_state (
            name VARCHAR(32) PRIMARY KEY, value BIGINT NOT NULL
        ) {options}""",
    ],
    # v4: what someone reacted to, newest first (reactions.list)
    ["CREATE INDEX reactions_user ON reactions (user, added)"],
]

#: Bookkeeping in every database, outside the versions: which steps each component
#: (``directory``, ``shard``) has applied, and facts such as a shard's own index.
BOOKKEEPING = [
    """CREATE TABLE IF NOT EXISTS parley_migrations (
        component VARCHAR(32) NOT NULL, version INT NOT NULL, applied BIGINT NOT NULL,
        PRIMARY KEY (component, version)
    ) {options}""",
    """CREATE TABLE IF NOT EXISTS parley_info (
        name VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL
    ) {options}""",
]
