// Parley's web client: plain ES module, no build step, no asset from another host.
//
// Everything a sender writes is rendered with textContent (links become <a> elements
// whose href is set only for http and https URLs): no message can run script or change
// the page. Sends are optimistic with a client_msg_id, so a retry never doubles a
// message. The WebSocket reconnects with backoff and resumes from the last seq held per
// channel; events are deduplicated by (channel, seq).

const $ = (id) => document.getElementById(id);

// Which of this browser's sessions this tab uses: its user id, kept per tab, so two
// windows can be two people. The session itself is an HttpOnly cookie the page never sees.
const headers = () => ({
  "Content-Type": "application/json",
  "X-Parley-Client": sessionStorage.getItem("parleyUser") || "web",
});

const state = {
  me: null,
  team: null,
  users: new Map(), // id -> user
  channels: new Map(), // id -> channel (+ unread, mentions)
  active: null,
  messages: new Map(), // channel -> Map(ts -> message), top-level and replies
  seen: new Map(), // channel -> Set(seq)
  lastSeq: new Map(), // channel -> highest seq held
  cursor: new Map(), // channel -> cursor for older history ("" = none left)
  pending: new Map(), // client_msg_id -> {channel, text, thread_ts, failed}
  presence: new Map(),
  typing: new Map(), // channel -> Map(user -> expiry)
  statuses: new Map(), // "channel thread_ts" -> an app's status there {user, status, until}
  stale: new Set(), // channels to reconcile when opened (changed while disconnected)
  connectedBefore: false,
  thread: null, // {channel, ts}
  editing: null, // {ts, draft}: the message being edited survives re-renders
  pins: new Map(), // channel -> Set(ts) of its pinned messages (pins.list, then events)
  saved: new Set(), // "channel ts" of the messages this person saved for later (stars.*)
  bookmarks: new Map(), // channel -> its bookmarks, the oldest first (bookmarks.list, events)
  goneFiles: new Set(), // ids of files deleted while shown (file_deleted)
  keptUnread: null, // the channel shown that was marked unread: not read again until left
  groups: new Map(), // id -> user group, with its members (usergroups.list, then events)
  shortcuts: [], // the apps' shortcuts (shortcuts.list): global ones, and on a message
  away: false, // set away by hand (users.setPresence)
  snoozeUntil: 0, // notifications paused until (Unix seconds; dnd.setSnooze), 0: not
  view: null, // the app's modal shown (views.open), until it closes
  below: [], // {view, kept}: the modals under it (views.push), the first first
  home: null, // {app, channel, view, loaded}: an app's home tab shown instead of the messages
  emoji: new Map(), // name -> the standard emoji (/static/emoji.json)
  customEmoji: new Map(), // name -> the workspace's own: an image's URL, or "alias:name"
  ws: null,
  wsId: 0,
  backoff: 500,
  reconnectTimer: null,
  connecting: false,
  lastTyping: 0,
};

// -- Web API -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

// A call that gets no answer within this long fails (a send then shows "Not sent").
const API_TIMEOUT_MS = 15000;

async function api(method, args = {}, attempt = 0) {
  const resp = await fetch(`/api/${method}`, {
    method: "POST",
    headers: headers(),
    credentials: "same-origin",
    body: JSON.stringify(args),
    signal: AbortSignal.timeout(API_TIMEOUT_MS),
  });
  if (resp.status === 429 && attempt < 3) {
    const wait = Number(resp.headers.get("Retry-After") || "1");
    await new Promise((r) => setTimeout(r, wait * 1000));
    return api(method, args, attempt + 1);
  }
  const body = await resp.json();
  if (!body.ok) throw new ApiError(body.error || "error");
  return body;
}

async function post(path, args) {
  const resp = await fetch(path, {
    method: "POST",
    headers: headers(),
    credentials: "same-origin",
    body: JSON.stringify(args),
  });
  return resp.json();
}

// -- sign-in ------------------------------------------------------------------------------

async function start() {
  try {
    const me = await api("auth.test");
    await enter(me);
  } catch {
    showSignin();
  }
}

function showSignin() {
  $("app").hidden = true;
  $("signin").hidden = false;
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const args = { username: form.get("username"), password: form.get("password") };
  if (form.get("workspace")) args.workspace = form.get("workspace");
  $("signin-error").textContent = "";
  const body = await post("/auth/signin", args).catch(() => ({ ok: false, error: "offline" }));
  if (!body.ok) {
    $("signin-error").textContent =
      body.error === "invalid_credentials" ? "Wrong username or password." : body.error;
    return;
  }
  sessionStorage.setItem("parleyUser", body.user.id);
  await enter(await api("auth.test"));
});

// Away, set by hand (users.setPresence): shown away to everyone until set active again,
// connected or not; the server keeps it across sign-ins.
async function loadAway() {
  try {
    const { manual_away } = await api("users.getPresence", { user: state.me.id });
    showAway(manual_away);
  } catch {
    showAway(false);
  }
}

function showAway(away) {
  state.away = away;
  $("away-toggle").textContent = away ? "Set active" : "Set away";
  $("away-toggle").setAttribute("aria-pressed", String(away));
}

$("away-toggle").addEventListener("click", async () => {
  const away = !state.away;
  try {
    await api("users.setPresence", { presence: away ? "away" : "auto" });
    showAway(away);
  } catch (err) {
    notice(`Could not change it: ${err.code || err.message}`);
  }
});

// Notifications paused (dnd.setSnooze): no pushes to one's devices until then, or until
// resumed (dnd.endSnooze).
async function loadSnooze() {
  try {
    showSnooze(await api("dnd.info"));
  } catch {
    showSnooze({ snooze_enabled: false });
  }
}

function showSnooze(info) {
  state.snoozeUntil = info.snooze_enabled ? info.snooze_endtime : 0;
  const until = new Date(state.snoozeUntil * 1000);
  $("snooze").textContent = state.snoozeUntil
    ? `Paused until ${until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`
    : "Pause notifications";
}

const SNOOZES = [
  ["30 minutes", 30],
  ["1 hour", 60],
  ["2 hours", 120],
  ["8 hours", 480],
  ["24 hours", 1440],
];

$("snooze").addEventListener("click", async (e) => {
  e.stopPropagation();
  const change = async (method, args) => {
    try {
      showSnooze(await api(method, args));
    } catch (err) {
      notice(`Could not change it: ${err.code || err.message}`);
    }
  };
  const items = SNOOZES.map(([label, minutes]) => ({
    label: `For ${label}`,
    title: `No notifications for ${label}`,
    run: () => change("dnd.setSnooze", { num_minutes: minutes }),
  }));
  if (state.snoozeUntil > Date.now() / 1000) {
    const resume = () => change("dnd.endSnooze", {});
    items.unshift({ label: "Resume now", title: "Notifications again", run: resume });
  }
  popupMenu(e.currentTarget, items);
});

$("signout").addEventListener("click", async () => {
  await post("/auth/signout", {}).catch(() => {});
  sessionStorage.removeItem("parleyUser");
  location.reload();
});

async function enter(me) {
  state.me = { id: me.user_id, name: me.user };
  state.team = { id: me.team_id, name: me.team };
  $("signin").hidden = true;
  $("app").hidden = false;
  $("team-name").textContent = me.team;
  showMe();
  await Promise.all([
    loadUsers(),
    loadChannels(),
    loadGroups(),
    loadShortcuts(),
    loadAway(),
    loadSnooze(),
    loadEmoji(),
    loadSaved().catch(() => {}),
  ]);
  showMe(); // with the status one set
  showNotifyButton();
  const link = permalink();
  const wanted = link && state.channels.get(link.channel)?.is_member ? link.channel : null;
  const first = wanted || [...state.channels.values()].find((c) => c.is_member)?.id;
  if (wanted) state.linked = link.ts;
  if (first) await openChannel(first);
  if (wanted) document.querySelector("#messages .msg.linked")?.scrollIntoView({ block: "center" });
  connect();
  loadUnread();
}

// What each channel still has unread since this user last read it, anywhere: the
// server's read marks (conversations.mark), asked once at sign-in.
async function loadUnread() {
  const others = [...state.channels.values()].filter((c) => c.is_member && c.id !== state.active);
  await Promise.all(
    others.map(async (c) => {
      const info = await api("conversations.info", { channel: c.id }).catch(() => null);
      const now = state.channels.get(c.id);
      if (!info?.channel || !now || c.id === state.active) return;
      now.unread = Math.max(now.unread, info.channel.unread_count || 0);
    }),
  );
  renderChannels();
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.active) markRead(state.active);
});

// The open channel is read up to its newest message: told to the server (a second
// later, once per burst, or at once when the channel is left), which tells this
// user's other windows and devices.
const marking = new Map(); // channel -> timer
function markRead(channel) {
  if (marking.has(channel) || document.hidden || state.keptUnread === channel) return;
  marking.set(
    channel,
    setTimeout(() => sendReadMark(channel), 1000),
  );
}

function sendReadMark(channel) {
  clearTimeout(marking.get(channel));
  marking.delete(channel);
  if (state.keptUnread === channel) return; // marked unread since: it stays so
  const newest = [...store(channel).values()]
    .filter((m) => !m.is_ephemeral && topLevel(m))
    .map((m) => m.ts)
    .sort((a, b) => Number(a) - Number(b))
    .pop();
  if (newest) markAt(channel, newest).catch(() => {});
}

// conversations.mark, one at a time per channel: the server tells every device the
// unread count of each mark as it finishes, so two in flight at once (a read mark sent
// a second after opening, and "Mark unread" pressed meanwhile) could be told in the
// other order, the last word then the earlier mark's.
const marks = new Map(); // channel -> the last conversations.mark asked
function markAt(channel, ts) {
  const done = (marks.get(channel) || Promise.resolve())
    .catch(() => {})
    .then(() => api("conversations.mark", { channel, ts }));
  marks.set(channel, done);
  const forget = () => {
    if (marks.get(channel) === done) marks.delete(channel);
  };
  done.then(forget, forget);
  return done;
}

// conversations.mark just before a message: it and what follows are unread again, on
// every device; this one keeps the channel unread while it stays open (left and come
// back to, or written in, it is read as usual).
async function markUnread(m) {
  const [s, f] = m.ts.split(".");
  const us = BigInt(s) * 1000000n + BigInt(f || "0") - 1n;
  const before = `${us / 1000000n}.${String(us % 1000000n).padStart(6, "0")}`;
  state.keptUnread = m.channel;
  clearTimeout(marking.get(m.channel)); // a read mark still waiting would undo it
  marking.delete(m.channel);
  try {
    await markAt(m.channel, before);
  } catch (err) {
    state.keptUnread = null;
    notice(`Could not mark it unread: ${err.code || err.message}`);
  }
}

// "Copy link": the message's permalink (chat.getPermalink), on the clipboard.
async function copyLink(m) {
  try {
    const { permalink: url } = await api("chat.getPermalink", {
      channel: m.channel,
      message_ts: m.ts,
    });
    await navigator.clipboard.writeText(url);
    notice("Link copied.");
  } catch (err) {
    notice(`Could not copy the link: ${err.code || err.message}`);
  }
}

// A message's link (chat.getPermalink): /archives/<channel>/p<its ts without the dot>.
function permalink() {
  const m = location.pathname.match(/^\/archives\/([A-Z0-9]+)\/p(\d{7,})$/);
  return m ? { channel: m[1], ts: `${m[2].slice(0, -6)}.${m[2].slice(-6)}` } : null;
}

// The workspace's user groups, with their members: how <!subteam^S…> is shown and
// whether it mentions me; what @handle is sent as.
async function loadGroups() {
  try {
    const { usergroups } = await api("usergroups.list", { include_users: true });
    state.groups = new Map(usergroups.map((g) => [g.id, g]));
  } catch {
    state.groups = new Map(); // a token without usergroups:read: none shown
  }
  renderGroups();
}

// The sidebar's groups: @handle and how many are in it; clicking one sets who is
// (usergroups.users.update). New group makes one (usergroups.create), its handle made
// from its name, then asks who is in it. The team sees both at once (subteam_*).
function renderGroups() {
  const list = $("groups");
  list.replaceChildren();
  for (const g of state.groups.values()) {
    const li = document.createElement("li");
    li.dataset.group = g.id;
    li.title = `${g.name}: set who is in it`;
    const handle = document.createElement("span");
    handle.textContent = `@${g.handle}`;
    const count = document.createElement("span");
    count.className = "status";
    count.textContent = String(g.users?.length || 0);
    li.append(handle, count);
    li.addEventListener("click", () => editGroup(g.id));
    list.append(li);
  }
}

async function editGroup(id) {
  const g = state.groups.get(id);
  if (!g) return;
  const now = (g.users || []).map((u) => `@${state.users.get(u)?.name || u}`).join(" ");
  const typed = await ask(`Who is in @${g.handle}`, now);
  const users = typed && namedPeople(typed);
  if (!users) return;
  try {
    await api("usergroups.users.update", { usergroup: id, users });
  } catch (err) {
    notice(`Could not change the group: ${err.code || err.message}`);
  }
}

$("usergroup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = String(new FormData(e.target).get("name") || "").trim();
  if (!name) return;
  try {
    const { usergroup } = await api("usergroups.create", { name });
    e.target.reset();
    state.groups.set(usergroup.id, usergroup);
    renderGroups();
    await editGroup(usergroup.id);
  } catch (err) {
    notice(`Could not make the group: ${err.code || err.message}`);
  }
});

// The apps' shortcuts: global ones from the composer's ⚡, message ones from a message's
// More (chat.shortcut; the app may answer with a modal or a reply in the channel).
async function loadShortcuts() {
  try {
    state.shortcuts = (await api("shortcuts.list")).shortcuts;
  } catch {
    state.shortcuts = [];
  }
  $("shortcuts").hidden = !shortcutsOf("global").length;
}

function shortcutsOf(type) {
  return state.shortcuts.filter((s) => s.type === type);
}

// The menu of the shortcuts of a type by anchor, run on the message m if given.
function shortcutMenu(anchor, type, m) {
  const items = shortcutsOf(type).map((s) => ({
    label: s.name,
    title: s.description || `${userName(s.app)}: ${s.name}`,
    run: () => runShortcut(s, m),
  }));
  popupMenu(anchor, items);
}

// A menu of items ({label, title, run}) by anchor; one chosen, or a click elsewhere,
// closes it.
function popupMenu(anchor, items) {
  const menu = $("popup-menu");
  menu.replaceChildren();
  for (const item of items) {
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "menuitem");
    b.textContent = item.label;
    b.title = item.title;
    b.addEventListener("click", () => {
      menu.hidden = true;
      item.run();
    });
    menu.append(b);
  }
  const box = anchor.getBoundingClientRect();
  menu.style.left = `${Math.max(8, box.right - 220)}px`;
  menu.style.top = `${box.bottom + 4}px`;
  menu.hidden = false;
  if (box.bottom + 4 + menu.offsetHeight > window.innerHeight) {
    menu.style.top = `${Math.max(8, box.top - 4 - menu.offsetHeight)}px`;
  }
}

async function runShortcut(s, m) {
  const args = { app: s.app, callback_id: s.callback_id, channel: m ? m.channel : state.active };
  if (m) args.ts = m.ts;
  try {
    await api("chat.shortcut", args);
  } catch (err) {
    notice(`The app did not take it: ${err.code || err.message}`);
  }
}

$("shortcuts").addEventListener("click", (e) => {
  e.stopPropagation();
  shortcutMenu(e.currentTarget, "global");
});
document.addEventListener("click", (e) => {
  if (!$("popup-menu").contains(e.target)) $("popup-menu").hidden = true;
  if (!$("profile-card").contains(e.target)) $("profile-card").hidden = true;
});

// A person's card, from their name on a message: photo, names, title and status as
// their profile has them (users.list, user_change), and Message, their direct message.
function showProfile(anchor, userId) {
  const u = state.users.get(userId);
  if (!u) return;
  const card = $("profile-card");
  card.replaceChildren();
  const part = (cls, text) => {
    if (!text) return;
    const div = document.createElement("div");
    div.className = cls;
    div.textContent = text;
    card.append(div);
  };
  const face = photoOf(userId, "avatar large");
  if (face) card.append(face);
  part("profile-name", userName(userId));
  const p = u.profile || {};
  if (p.real_name && p.real_name !== userName(userId)) part("profile-real", p.real_name);
  part("profile-title", p.title);
  part("profile-status", [p.status_emoji && emoji(p.status_emoji.slice(1, -1)), p.status_text].filter(Boolean).join(" "));
  const mine = userId === state.me.id;
  if (!u.deleted) {
    const act = document.createElement("button");
    act.type = "button";
    act.textContent = mine ? "Edit profile" : "Message";
    act.addEventListener("click", (e) => {
      e.stopPropagation();
      card.hidden = true;
      if (mine) editProfile();
      else openDm(userId);
    });
    card.append(act);
  }
  const box = anchor.getBoundingClientRect();
  card.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - 260))}px`;
  card.style.top = `${box.bottom + 4}px`;
  card.hidden = false;
  if (box.bottom + 4 + card.offsetHeight > window.innerHeight) {
    card.style.top = `${Math.max(8, box.top - 4 - card.offsetHeight)}px`;
  }
}

function inGroup(id) {
  return Boolean(state.groups.get(id)?.users?.includes(state.me.id));
}

async function loadUsers() {
  let cursor = "";
  do {
    const page = await api("users.list", { limit: 200, cursor });
    for (const u of page.members) state.users.set(u.id, u);
    cursor = page.response_metadata?.next_cursor || "";
  } while (cursor);
  renderPeople();
}

async function loadChannels() {
  let cursor = "";
  const seen = new Set();
  do {
    const page = await api("conversations.list", {
      types: "public_channel,private_channel,im,mpim",
      exclude_archived: true,
      limit: 200,
      cursor,
    });
    for (const c of page.channels) {
      const old = state.channels.get(c.id);
      state.channels.set(c.id, { ...c, unread: old?.unread || 0, mentions: old?.mentions || 0 });
      seen.add(c.id);
    }
    cursor = page.response_metadata?.next_cursor || "";
  } while (cursor);
  for (const id of [...state.channels.keys()]) if (!seen.has(id)) state.channels.delete(id);
  const open = state.channels.get(state.active);
  if (open) $("channel-title").textContent = title(open); // renamed, perhaps
  if (open) showTopic(open);
  renderChannels();
}

function userName(id) {
  const u = state.users.get(id);
  if (!u && id) learnUser(id);
  return u ? u.profile?.display_name || u.name : id;
}

// Someone this page has not heard of (made since it loaded: an app's bot, the
// workspace's Slackbot): asked for once, then everything that names them drawn again.
const asked = new Set();
async function learnUser(id) {
  if (asked.has(id) || !/^U[A-Z0-9]+$/.test(id)) return;
  asked.add(id);
  try {
    const { user } = await api("users.info", { user: id });
    state.users.set(user.id, user);
    renderChannels();
    renderPeople();
    renderMessages();
  } catch {
    // not a user of this workspace: shown by id
  }
}

// How a conversation is named: #name, 🔒 name for a private channel, @person for a DM,
// the others' names for a group DM (its name, mpdm-ann--ben--cy-1, holds the members').
function title(c) {
  if (c.is_im) return `@${userName(c.user)}`;
  if (c.is_mpim) return groupNames(c.name).join(", ");
  return `${c.is_private ? "🔒" : "#"} ${c.name}`;
}

function groupNames(name) {
  const names = name.replace(/^mpdm-/, "").replace(/-\d+$/, "").split("--");
  const byName = new Map([...state.users.values()].map((u) => [u.name, u.id]));
  return names.filter((n) => n !== state.me.name).map((n) => userName(byName.get(n) || n));
}

// A direct conversation: with one person, or a group of them.
function direct(c) {
  return c.is_im || c.is_mpim;
}

// -- sidebar ------------------------------------------------------------------------------

function renderChannels() {
  const mine = $("channels");
  const others = $("other-channels");
  const dms = $("dms");
  mine.replaceChildren();
  others.replaceChildren();
  dms.replaceChildren();
  showTitleCount();
  const sorted = [...state.channels.values()].sort((a, b) => title(a).localeCompare(title(b)));
  for (const c of sorted) {
    // a conversation closed (conversations.close) is left out until it is opened again
    // or a message comes; the one shown stays listed
    if (direct(c) && c.is_open === false && c.id !== state.active) continue;
    const li = document.createElement("li");
    li.dataset.channel = c.id;
    const label = document.createElement("span");
    label.textContent = title(c);
    li.append(label);
    if (c.id === state.active) li.classList.add("active");
    if (c.is_member) {
      if (c.unread && c.id !== state.active) {
        li.classList.add("unread");
        const badge = document.createElement("span");
        badge.className = c.mentions ? "badge" : "count";
        badge.textContent = c.mentions ? String(c.mentions) : String(c.unread);
        li.append(badge);
      }
      li.addEventListener("click", () => openChannel(c.id));
      if (direct(c)) {
        const close = document.createElement("button");
        close.type = "button";
        close.className = "close-dm";
        close.title = "Close this conversation";
        close.textContent = "×";
        close.addEventListener("click", (e) => {
          e.stopPropagation();
          closeDm(c.id);
        });
        li.append(close);
      }
      (direct(c) ? dms : mine).append(li);
    } else {
      li.title = "Join";
      li.addEventListener("click", async () => {
        await api("conversations.join", { channel: c.id });
        await loadChannels();
        await openChannel(c.id);
      });
      others.append(li);
    }
  }
}

function renderPeople() {
  const list = $("people");
  list.replaceChildren();
  for (const u of state.users.values()) {
    if (u.deleted) continue;
    const li = document.createElement("li");
    const dot = document.createElement("span");
    dot.className = "dot" + (state.presence.get(u.id) === "active" ? " active" : "");
    const name = document.createElement("span");
    name.textContent = userName(u.id);
    li.append(dot);
    const face = photoOf(u.id, "avatar small");
    if (face) li.append(face);
    li.append(name);
    const status = [u.profile?.status_emoji, u.profile?.status_text].filter(Boolean).join(" ");
    if (status) {
      const note = document.createElement("span");
      note.className = "status";
      note.textContent = status;
      li.append(note);
    }
    li.dataset.user = u.id;
    li.title = `Message ${u.name}`;
    li.addEventListener("click", () => openDm(u.id));
    list.append(li);
  }
}

// A direct message with a person (a note to self with oneself), opened on first use.
async function openDm(userId) {
  try {
    const { channel } = await api("conversations.open", { users: userId });
    if (!state.channels.has(channel.id)) await loadChannels();
    setOpen(channel.id, true);
    await openChannel(channel.id);
  } catch (err) {
    notice(`Could not open the conversation: ${err.code || err.message}`);
  }
}

// conversations.close: the conversation leaves this person's list (on every device of
// theirs: im_close), and the first channel opens if it was the one shown.
async function closeDm(id) {
  try {
    await api("conversations.close", { channel: id });
    setOpen(id, false);
    if (state.active === id) {
      const next = [...state.channels.values()].find((c) => c.is_member && !direct(c));
      if (next) await openChannel(next.id);
    }
  } catch (err) {
    notice(`Could not close the conversation: ${err.code || err.message}`);
  }
}

// Whether a direct or group conversation is listed (closed, opened again, or written in).
function setOpen(id, open) {
  const c = state.channels.get(id);
  if (!c || c.is_open === open) return;
  c.is_open = open;
  renderChannels();
}

// The ids of the people named in text (@ann @ben, or ann, ben), comma-separated; null
// (after saying why) when it names nobody, or someone nobody is called.
function namedPeople(text) {
  const byName = new Map([...state.users.values()].map((u) => [u.name, u.id]));
  const names = String(text).split(/[\s,@]+/).filter(Boolean);
  const unknown = names.filter((n) => !byName.has(n));
  if (!names.length || unknown.length) {
    notice(names.length ? `Nobody is called ${unknown.join(", ")}` : "Name someone");
    return null;
  }
  return names.map((n) => byName.get(n)).join(",");
}

// A group direct message with the people named, opened on first use; one person is a
// direct message.
$("group-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const users = namedPeople(new FormData(e.target).get("people"));
  if (!users) return;
  try {
    const { channel } = await api("conversations.open", { users });
    e.target.reset();
    if (!state.channels.has(channel.id)) await loadChannels();
    await openChannel(channel.id);
  } catch (err) {
    notice(`Could not open the conversation: ${err.code || err.message}`);
  }
});

$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const { channel } = await api("conversations.create", {
      name: String(form.get("name")).trim().toLowerCase(),
      is_private: form.get("private") === "on",
    });
    e.target.reset();
    await loadChannels();
    await openChannel(channel.id);
  } catch (err) {
    alert(`Could not create the channel: ${err.code || err}`);
  }
});

$("leave").addEventListener("click", async () => {
  if (!state.active) return;
  await api("conversations.leave", { channel: state.active });
  state.active = null;
  await loadChannels();
  const first = [...state.channels.values()].find((c) => c.is_member);
  if (first) await openChannel(first.id);
  else renderMessages();
});

// -- messages -----------------------------------------------------------------------------

function store(channel) {
  if (!state.messages.has(channel)) state.messages.set(channel, new Map());
  return state.messages.get(channel);
}

function hold(channel, seq) {
  if (!state.seen.has(channel)) state.seen.set(channel, new Set());
  state.seen.get(channel).add(seq);
  if (seq > (state.lastSeq.get(channel) || 0)) state.lastSeq.set(channel, seq);
}

// Adds or replaces a message; returns false if this (channel, seq) was held already.
function keep(m, { fresh = false } = {}) {
  const channel = m.channel;
  if (fresh && m.seq && state.seen.get(channel)?.has(m.seq)) return false;
  if (m.seq) hold(channel, m.seq);
  const had = store(channel).get(m.ts);
  // a newer version may be here first (link previews written before a post's answer)
  if (!had || (had.edit_version || 0) <= (m.edit_version || 0)) store(channel).set(m.ts, m);
  if (m.client_msg_id) state.pending.delete(m.client_msg_id);
  return true;
}

async function openChannel(id) {
  // a read mark still waiting for the channel left goes now, before anything done here
  // (another window's "Mark unread" a moment later must come after it)
  if (state.active && state.active !== id && marking.has(state.active)) sendReadMark(state.active);
  if (state.keptUnread !== id) state.keptUnread = null; // left it: read as usual again
  if (state.active && !state.channels.get(state.active)?.is_im) state.context = state.active;
  state.active = id;
  const c = state.channels.get(id);
  if (c) {
    c.unread = 0;
    c.mentions = 0;
  }
  $("channel-title").textContent = c ? title(c) : "";
  $("leave").hidden = !c || direct(c); // a direct message, or a group one, cannot be left
  $("set-topic").hidden = !c || c.is_im;
  $("invite").hidden = !c || direct(c); // a direct conversation's people are fixed
  showTopic(c);
  showHome(null);
  $("new-chat").hidden = !(c?.is_im && state.users.get(c.user)?.is_bot); // an app's chats
  $("home-tab").hidden = !(c?.is_im && state.users.get(c.user)?.is_bot); // an app's
  renderChannels();
  const stale = state.stale.has(id); // changed while disconnected: pins too, perhaps
  if (!state.cursor.has(id)) await loadHistory(id);
  if (stale) await reconcile(id).catch(() => {});
  if (!state.pins.has(id) || stale) await loadPins(id).catch(() => {});
  if (!state.bookmarks.has(id) || stale) await loadBookmarks(id).catch(() => {});
  renderBookmarks();
  markRead(id);
  renderMessages({ bottom: true });
}

async function loadPins(channel) {
  const { items } = await api("pins.list", { channel });
  state.pins.set(channel, new Set(items.map((i) => i.message.ts)));
}

// -- saved for later (stars.*) ----------------------------------------------------------

const savedKey = (channel, ts) => `${channel} ${ts}`;

async function loadSaved() {
  const keys = new Set();
  let cursor = "";
  for (let pages = 0; pages < 10; pages++) {
    const page = await api("stars.list", { limit: 200, cursor });
    for (const i of page.items) keys.add(savedKey(i.channel, i.message.ts));
    cursor = page.response_metadata?.next_cursor || "";
    if (!cursor) break;
  }
  state.saved = keys;
}

function onStar(ev) {
  const { channel, message } = ev.item;
  if (ev.type === "star_added") state.saved.add(savedKey(channel, message.ts));
  else state.saved.delete(savedKey(channel, message.ts));
  rerender(channel, store(channel).get(message.ts)?.thread_ts);
  if (!$("search").hidden && $("search").dataset.view === "saved") showSaved();
}

function toggleSaved(m) {
  const saved = state.saved.has(savedKey(m.channel, m.ts));
  api(saved ? "stars.remove" : "stars.add", { channel: m.channel, timestamp: m.ts }).catch(
    (err) => notice(`Could not ${saved ? "unsave" : "save"} it: ${err.code || err.message}`),
  );
}

// The saved messages as they are now, the newest saved first; a click opens one.
async function showSaved() {
  let items;
  try {
    ({ items } = await api("stars.list", { limit: 200 }));
  } catch (err) {
    notice(`Could not list saved messages: ${err.code || err.message}`);
    return;
  }
  $("search").hidden = false;
  $("search").dataset.view = "saved";
  $("search-title").textContent = items.length ? `Saved for later (${items.length})` : "Nothing saved yet";
  const list = $("search-results");
  list.replaceChildren();
  for (const { channel, message: m } of items) {
    list.append(resultItem(channel, state.channels.get(channel), m.user, m.ts, m.text, m.thread_ts));
  }
}

$("saved").addEventListener("click", showSaved);

function onPin(ev) {
  const pins = state.pins.get(ev.channel_id);
  if (!pins) return; // read with the channel, when it is opened
  if (ev.type === "pin_added") pins.add(ev.item.message.ts);
  else pins.delete(ev.item.message.ts);
  const m = store(ev.channel_id).get(ev.item.message.ts);
  rerender(ev.channel_id, m?.thread_ts);
}

async function loadHistory(channel, cursor = "") {
  const page = await api("conversations.history", { channel, limit: 50, cursor });
  for (const m of page.messages) keep({ ...m, channel });
  state.cursor.set(channel, page.has_more ? page.response_metadata?.next_cursor || "" : "");
}

let loadingOlder = false;
$("messages").addEventListener("scroll", async (e) => {
  const list = e.target;
  const cursor = state.cursor.get(state.active);
  if (list.scrollTop > 40 || !cursor || loadingOlder) return;
  loadingOlder = true;
  const before = list.scrollHeight;
  try {
    await loadHistory(state.active, cursor);
    renderMessages();
    list.scrollTop = list.scrollHeight - before;
  } finally {
    loadingOlder = false;
  }
});

function topLevel(m) {
  return !m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast";
}

function renderMessages({ bottom = false } = {}) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  list.replaceChildren();
  const channel = state.active;
  if (!channel) return;
  const msgs = [...store(channel).values()].filter(topLevel).sort((a, b) => cmp(a.ts, b.ts));
  let day = "";
  for (const m of msgs) {
    const d = new Date(Number(m.ts.split(".")[0]) * 1000).toDateString();
    if (d !== day) {
      day = d;
      const sep = document.createElement("li");
      sep.className = "day";
      sep.textContent = d;
      list.append(sep);
    }
    list.append(messageItem(m));
  }
  for (const [id, p] of state.pending) {
    if (p.channel === channel && !p.thread_ts) list.append(pendingItem(id, p));
  }
  if (bottom || atBottom) list.scrollTop = list.scrollHeight;
  renderTyping();
}

function cmp(a, b) {
  return a.length === b.length ? (a < b ? -1 : a > b ? 1 : 0) : a.length - b.length;
}

// Slack's markup in a text, drawn as DOM nodes (nothing is ever parsed as HTML): <@U…> as
// @name, <#C…|name> as #name, <!here> as @here, <url|label> and bare http(s) URLs as
// links, *bold*, _italic_, ~strike~ and `code` where they stand as words
// (snake_case_names stay as they are), and :name: as its emoji (a custom one's image).
const MARKUP = new RegExp(
  [
    /<([@#!])([^|>\s]+)(?:\|([^>]*))?>/.source, // 1-3: a mention
    /<(https?:\/\/[^|>\s]+)(?:\|([^>]*))?>/.source, // 4-5: a link with a label
    /`([^`\n]+)`/.source, // 6: code
    /(?<![\w*])\*([^*\n]+)\*(?![\w*])/.source, // 7: bold
    /(?<![\w_])_([^_\n]+)_(?![\w_])/.source, // 8: italic
    /(?<![\w~])~([^~\n]+)~(?![\w~])/.source, // 9: strike
    /(https?:\/\/[^\s<>"]+)/.source, // 10: a bare link
    /:([a-z0-9_+'-]+):/.source, // 11: an emoji by name
  ].join("|"),
  "g",
);

function renderText(el, text) {
  let last = 0;
  for (const match of text.matchAll(MARKUP)) {
    el.append(document.createTextNode(text.slice(last, match.index)));
    el.append(markupNode(match));
    last = match.index + match[0].length;
  }
  el.append(document.createTextNode(text.slice(last)));
}

function markupNode(match) {
  const [whole, sigil, ref, label, url, urlLabel, code, bold, italic, strike, bare, short] =
    match;
  const node = (tag, text, cls) => {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  };
  if (sigil === "@") {
    return node("span", `@${userName(ref)}`, ref === state.me.id ? "mention me" : "mention");
  }
  if (sigil === "#") return node("span", `#${label || state.channels.get(ref)?.name || ref}`, "mention");
  if (sigil === "!" && ref.startsWith("subteam^")) {
    const id = ref.slice("subteam^".length);
    const handle = state.groups.get(id)?.handle;
    const shown = handle ? `@${handle}` : label || "@group";
    return node("span", shown.startsWith("@") ? shown : `@${shown}`, inGroup(id) ? "mention me" : "mention");
  }
  if (sigil === "!") return node("span", `@${label || ref}`, "mention me");
  if (url || bare) return link(url || bare, urlLabel || url || bare);
  if (code !== undefined) return node("code", code);
  if (bold !== undefined) return node("strong", bold);
  if (italic !== undefined) return node("em", italic);
  if (strike !== undefined) return node("del", strike);
  if (short !== undefined) return emojiNode(short) || document.createTextNode(whole);
  return document.createTextNode(whole);
}

// An app's suggested prompts for a thread (assistant.threads.setSuggestedPrompts),
// under its first message in the thread's pane: each sends its message into the thread.
function suggestedPrompts(m) {
  const box = document.createElement("div");
  box.className = "suggested-prompts";
  const { suggested_prompts: prompts, prompts_title: heading } = m.assistant_app_thread;
  if (heading) {
    const h = document.createElement("div");
    h.className = "prompts-title";
    h.textContent = heading;
    box.append(h);
  }
  for (const prompt of prompts) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "prompt";
    b.textContent = prompt.title;
    b.title = prompt.message;
    b.addEventListener("click", () => send(m.channel, prompt.message, m.ts));
    box.append(b);
  }
  return box;
}

// Markdown (a streamed reply's, a markdown block's: markdown_text) as the mrkdwn the
// client shows: headings and **bold** bold, *italic* and _italic_ italic, ~~struck~~,
// [label](url) links, "- " and "* " items as bullets; code as it is.
function fromMarkdown(text) {
  return text
    .replace(/^#{1,6} +(.+)$/gm, "**$1**")
    .replace(/^( *)[-*] +/gm, "$1• ")
    .replace(/(^|[^*])\*(?!\*)([^*\n]+)\*(?!\*)/g, "$1_$2_")
    .replace(/\*\*([^*\n]+)\*\*/g, "*$1*")
    .replace(/~~([^~\n]+)~~/g, "~$1~")
    .replace(/\[([^\]\n]+)\]\((https?:\/\/[^)\s]+)\)/g, "<$2|$1>");
}

const TASK_MARKS = { pending: "○", in_progress: "◐", complete: "✓", error: "✕" };
// Slack ends a stream five minutes after it began, stopped or not.
const STREAM_LIFE_US = 300e6;

// A streamed reply's plan and tasks, and while it streams a mark that it is being
// written, and for the person it answers a Stop (chat.stopStream with their own token:
// the app hears stopped_by_user).
function streamPart(m) {
  const stream = m.stream;
  const part = document.createElement("div");
  part.className = "stream";
  if (stream.plan) {
    const plan = document.createElement("div");
    plan.className = "plan";
    plan.textContent = stream.plan;
    part.append(plan);
  }
  if (stream.tasks?.length) {
    const list = document.createElement("ul");
    list.className = "tasks";
    for (const task of stream.tasks) {
      const item = document.createElement("li");
      item.className = `task ${task.status}`;
      item.dataset.task = task.id;
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = TASK_MARKS[task.status] || "○";
      const name = document.createElement("span");
      name.className = "title";
      name.textContent = task.title || task.id;
      item.append(mark, name);
      for (const [key, value] of [["details", task.details], ["output", task.output]]) {
        if (!value) continue;
        const more = document.createElement("div");
        more.className = key;
        renderText(more, fromMarkdown(value));
        item.append(more);
      }
      list.append(item);
    }
    part.append(list);
  }
  const young = Date.now() * 1000 - Number(stream.started) < STREAM_LIFE_US;
  if (stream.state === "streaming" && young) {
    const writing = document.createElement("span");
    writing.className = "streaming";
    writing.textContent = "writing…";
    part.append(writing);
    const direct = state.channels.get(m.channel)?.is_im && !stream.recipient_user_id;
    if (m.user !== state.me.id && (stream.recipient_user_id === state.me.id || direct)) {
      const stop = document.createElement("button");
      stop.type = "button";
      stop.className = "stream-stop";
      stop.textContent = "Stop";
      stop.addEventListener("click", async () => {
        stop.disabled = true;
        try {
          await api("chat.stopStream", { channel: m.channel, ts: m.ts });
        } catch (err) {
          notice(`Could not stop it: ${err.code || err.message}`);
        }
      });
      part.append(stop);
    }
  } else if (stream.stopped_by) {
    const stopped = document.createElement("span");
    stopped.className = "streaming";
    stopped.textContent = `stopped by ${userName(stream.stopped_by)}`;
    part.append(stopped);
  }
  return part;
}

function link(href, text) {
  const a = document.createElement("a");
  try {
    const url = new URL(href);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("scheme");
    a.href = url.href;
    a.rel = "noopener noreferrer nofollow";
    a.target = "_blank";
  } catch {
    // not a URL after all: shown as text
  }
  a.textContent = text;
  return a;
}

// What is typed, with @name (a person of the workspace), @handle (a user group) and
// @here / @channel / @everyone written as Slack's mentions, so that they notify (and
// reach apps) as such.
function toMarkup(text) {
  return text.replace(/(^|[^\w@<])@([a-z0-9][a-z0-9._-]*)/gi, (whole, before, name) => {
    if (["here", "channel", "everyone"].includes(name.toLowerCase())) {
      return `${before}<!${name.toLowerCase()}>`;
    }
    const user = [...state.users.values()].find((u) => u.name === name && !u.deleted);
    if (user) return `${before}<@${user.id}>`;
    const group = [...state.groups.values()].find((g) => g.handle === name.toLowerCase());
    return group ? `${before}<!subteam^${group.id}|@${group.handle}>` : whole;
  });
}

// Block Kit, the parts a chat client shows: texts as text (never as markup), buttons and
// menus (static_select, overflow) that act through chat.action (the app whose bot posted
// the message gets it). Other blocks and elements are left out; when none could be
// shown, the message's text is.
function renderBlocks(m) {
  const box = document.createElement("div");
  box.className = "blocks";
  const textOf = (t) => (t && typeof t.text === "string" ? t.text : "");
  const part = (cls, text) => {
    const div = document.createElement("div");
    div.className = cls;
    renderText(div, text);
    return div;
  };
  const button = (el, blockId) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "block-button";
    if (el.style === "primary" || el.style === "danger") b.classList.add(el.style);
    b.textContent = textOf(el.text) || el.action_id;
    b.dataset.actionId = el.action_id;
    // an ephemeral message is not stored: there is nothing to press it against
    if (m.onPress) b.addEventListener("click", () => m.onPress(el.action_id, blockId));
    else if (m.is_ephemeral || m.inert) b.disabled = true;
    else b.addEventListener("click", () => press(m, el.action_id, blockId));
    return b;
  };
  const menu = (el, blockId) => {
    const s = document.createElement("select");
    s.className = "block-select";
    s.dataset.actionId = el.action_id;
    const none = document.createElement("option");
    none.value = "";
    none.disabled = none.selected = true;
    none.textContent = el.type === "overflow" ? "⋯" : textOf(el.placeholder) || "Choose…";
    s.append(none);
    for (const o of el.options || []) {
      const option = document.createElement("option");
      option.value = o.value;
      option.textContent = textOf(o.text) || o.value;
      s.append(option);
    }
    if (el.initial_option && el.type !== "overflow") s.value = el.initial_option.value;
    s.disabled = !m.onPress && (m.is_ephemeral || m.inert);
    s.addEventListener("change", () => {
      const value = s.value;
      if (el.type === "overflow") s.value = ""; // a menu of actions: none stays chosen
      if (m.onPress) m.onPress(el.action_id, blockId, value);
      else press(m, el.action_id, blockId, value);
    });
    return s;
  };
  const element = (el, blockId) =>
    el?.type === "button"
      ? button(el, blockId)
      : el?.type === "static_select" || el?.type === "overflow"
        ? menu(el, blockId)
        : null;
  for (const block of m.blocks) {
    if (block.type === "header") box.append(part("block-header", textOf(block.text)));
    else if (block.type === "markdown") box.append(part("block-markdown", fromMarkdown(textOf(block))));
    else if (block.type === "divider") box.append(document.createElement("hr"));
    else if (block.type === "section") {
      if (block.text) box.append(part("block-section", textOf(block.text)));
      for (const field of block.fields || []) box.append(part("block-field", textOf(field)));
      const accessory = element(block.accessory, block.block_id);
      if (accessory) box.append(accessory);
    } else if (block.type === "context") {
      const texts = (block.elements || []).map(textOf).filter(Boolean);
      if (texts.length) box.append(part("block-context", texts.join("  ")));
    } else if (block.type === "actions") {
      const row = document.createElement("div");
      row.className = "block-actions";
      for (const el of block.elements || []) {
        const shown = element(el, block.block_id);
        if (shown) row.append(shown);
      }
      box.append(row);
    }
  }
  return box.childNodes.length ? box : null;
}

async function press(m, action_id, block_id, value) {
  const args = { channel: m.channel, ts: m.ts, action_id };
  if (block_id) args.block_id = block_id;
  if (value !== undefined) args.value = value;
  try {
    await api("chat.action", args);
  } catch (err) {
    notice(`The app did not take it: ${err.code || err.message}`);
  }
}

// Messages the server writes when a channel's topic, purpose or name changes.
const NOTICES = new Set(["channel_topic", "channel_purpose", "channel_name"]);

// -- modals -------------------------------------------------------------------------------

// An app's modal (views.open): shown over the page, its inputs submitted with
// views.submit (Parley's); the app's answer comes back as view_errors, view_updated or
// view_closed. Closing it (its close button, Escape) tells the server (views.close).
// A modal pushed onto the one shown (views.push: its previous_view_id) hides it until
// the pushed one closes; what was typed into it is kept meanwhile.
function showView(view, kept) {
  const top = state.view;
  if (top && view.previous_view_id === top.id && $("modal").open) {
    state.below.push({ view: top, kept: viewValues() });
    kept = {};
  } else if (top?.id === view.id) {
    // an update of the view shown keeps what was typed into the inputs it still has
    kept = kept ?? ($("modal").open ? viewValues() : {});
  } else {
    const under = state.below.find((e) => e.view.id === view.id);
    if (under) {
      under.view = view; // updated while under another: shown when that one closes
      return;
    }
    if (!view.previous_view_id) state.below = []; // a new modal: a stack of its own
    kept = kept ?? {};
  }
  state.view = view;
  const form = $("modal-form");
  form.replaceChildren();
  const heading = document.createElement("h2");
  heading.textContent = view.title?.text || "";
  const body = document.createElement("div");
  body.className = "modal-body";
  for (const block of view.blocks || []) {
    if (block.type === "input") body.append(inputBlock(block, kept[block.block_id]));
    else {
      const onPress = (action_id, block_id, value) =>
        pressInView(view, action_id, block_id, value);
      const shown = renderBlocks({ blocks: [block], onPress });
      if (shown) body.append(shown);
    }
  }
  const bar = document.createElement("div");
  bar.className = "modal-actions";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = view.close?.text || "Cancel";
  cancel.addEventListener("click", () => back(false));
  bar.append(cancel);
  if (view.submit) {
    const submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "primary";
    submit.textContent = view.submit.text;
    bar.append(submit);
  }
  form.append(heading, body, bar);
  if (!$("modal").open) $("modal").showModal();
}

function inputBlock(block, kept = {}) {
  const wrap = document.createElement("label");
  wrap.className = "modal-input";
  wrap.dataset.block = block.block_id;
  const label = document.createElement("span");
  label.className = "modal-label";
  label.textContent = (block.label?.text || "") + (block.optional ? " (optional)" : "");
  const el = block.element;
  let field;
  if (el.type === "static_select") {
    field = document.createElement("select");
    const none = document.createElement("option");
    none.value = "";
    none.textContent = el.placeholder?.text || "Choose…";
    field.append(none);
    for (const o of el.options || []) {
      const option = document.createElement("option");
      option.value = o.value;
      option.textContent = o.text?.text || o.value;
      field.append(option);
    }
    if (el.initial_option) field.value = el.initial_option.value;
  } else {
    field = document.createElement(el.multiline ? "textarea" : "input");
    if (el.initial_value) field.value = el.initial_value;
    if (el.placeholder?.text) field.placeholder = el.placeholder.text;
  }
  field.dataset.action = el.action_id;
  if (kept[el.action_id]) field.value = kept[el.action_id];
  const error = document.createElement("span");
  error.className = "modal-error";
  wrap.append(label, field, error);
  return wrap;
}

// The modal's inputs as filled in: {block_id: {action_id: value}}.
function viewValues() {
  const values = {};
  for (const wrap of $("modal-form").querySelectorAll(".modal-input")) {
    const field = wrap.querySelector("[data-action]");
    values[wrap.dataset.block] = { [field.dataset.action]: field.value };
  }
  return values;
}

// A button or a menu's option of the modal (with its inputs so far), or of a home tab:
// the app gets it (views.action).
async function pressInView(view, action_id, block_id, value, values = viewValues()) {
  const args = { view_id: view.id, action_id, values };
  if (block_id) args.block_id = block_id;
  if (value !== undefined) args.value = value;
  try {
    await api("views.action", args);
  } catch (err) {
    notice(`The app did not take it: ${err.code || err.message}`);
  }
}

function viewErrors(errors) {
  for (const wrap of $("modal-form").querySelectorAll(".modal-input")) {
    wrap.querySelector(".modal-error").textContent = errors[wrap.dataset.block] || "";
  }
}

$("modal-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const view = state.view;
  if (!view) return;
  viewErrors({});
  try {
    const answer = await api("views.submit", { view_id: view.id, values: viewValues() });
    if (answer.errors) viewErrors(answer.errors);
  } catch (err) {
    notice(`The app did not take it: ${err.code || err.message}`);
  }
});

// The modal shown is gone (closed by the person, told the server, or by the app): the
// one under it shows again, with what was typed into it, else the dialog closes.
function back(byApp) {
  const view = state.view;
  state.view = null;
  if (view && !byApp) api("views.close", { view_id: view.id }).catch(() => {});
  const under = state.below.pop();
  if (under) showView(under.view, under.kept);
  else if ($("modal").open) $("modal").close();
}

$("modal").addEventListener("close", () => {
  if (state.view) back(false); // Escape
});

// -- an app's home tab ---------------------------------------------------------------------

// In a direct message with an app's bot, Home shows the tab the app published for this
// person (views.home, which tells the app: it may publish it then), in place of the
// messages; Messages goes back. The app's view_updated replaces it while shown, also
// when it comes before views.home's answer (an app that publishes as it hears of it).
function showHome(home) {
  state.home = home;
  $("home").hidden = !home;
  $("messages").hidden = $("composer").hidden = $("typing").hidden = !!home;
  $("bookmarks").hidden = !!home || !state.active;
  $("home-tab").textContent = home ? "Messages" : "Home";
  if (home) renderHome();
}

function renderHome() {
  const { view, loaded } = state.home;
  const pane = $("home");
  if (!view) {
    pane.textContent = loaded ? "This app has nothing here yet." : "Opening…";
    return;
  }
  const onPress = (action_id, block_id, value) =>
    pressInView(view, action_id, block_id, value, {});
  pane.replaceChildren(renderBlocks({ blocks: view.blocks || [], onPress }) || "");
}

// A new chat with the app of this direct message (assistant.threads.start, Parley's):
// its bot begins a thread, the app hears assistant_thread_started with the channel
// looked at before, and the thread opens here.
$("new-chat").addEventListener("click", async () => {
  const channel = state.active;
  const args = { channel };
  if (state.context) args.context_channel_id = state.context;
  try {
    const { thread_ts } = await api("assistant.threads.start", args);
    await openThread(channel, thread_ts);
  } catch (err) {
    notice(`Could not start a chat: ${err.code || err.message}`);
  }
});

$("home-tab").addEventListener("click", async () => {
  const c = state.channels.get(state.active);
  if (state.home || !c) {
    showHome(null);
    return;
  }
  const home = { app: c.user, channel: c.id, view: null, loaded: false };
  showHome(home);
  try {
    const { view } = await api("views.home", { app: c.user });
    home.view = home.view || view; // a view_updated that came first is newer
    home.loaded = true;
    if (state.home === home) renderHome();
  } catch (err) {
    if (state.home === home) showHome(null);
    notice(`Could not open the app's home: ${err.code || err.message}`);
  }
});

// -- files --------------------------------------------------------------------------------

// A file's content as a blob URL, fetched once with this tab's session (an <img> or a
// plain link could not send the header that names it).
const fileUrls = new Map(); // file id -> Promise<blob URL>

function fileBlob(f) {
  if (!fileUrls.has(f.id)) {
    const path = new URL(f.url_private, location.href).pathname;
    const load = fetch(path, { headers: headers(), credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error(r.status === 404 ? "deleted" : `HTTP ${r.status}`);
      return r.blob().then((b) => URL.createObjectURL(b));
    });
    load.catch(() => fileUrls.delete(f.id)); // tried again next time
    fileUrls.set(f.id, load);
  }
  return fileUrls.get(f.id);
}

const SHOWN_INLINE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

// -- attachments and link previews ----------------------------------------------------

// Another site's image, through this server (/files/proxy: the reader's browser never
// contacts that site), fetched once per URL with this tab's session; this server's own
// (a custom emoji as an app's icon) as it is.
const proxied = new Map(); // url -> Promise<blob URL>

function remoteImage(src, alt, cls) {
  const img = document.createElement("img");
  img.alt = alt || "";
  img.className = cls;
  let url;
  try {
    url = new URL(src, location.href);
  } catch {
    return null;
  }
  if (url.origin === location.origin) {
    img.src = url.pathname + url.search;
    return img;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (!proxied.has(url.href)) {
    const load = fetch(`/files/proxy?url=${encodeURIComponent(url.href)}`, {
      headers: headers(),
      credentials: "same-origin",
    }).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.blob().then((b) => URL.createObjectURL(b));
    });
    load.catch(() => proxied.delete(url.href));
    proxied.set(url.href, load);
  }
  proxied.get(url.href).then((blob) => (img.src = blob)).catch(() => img.remove());
  return img;
}

const ATTACHMENT_COLORS = { good: "#2eb886", warning: "#daa038", danger: "#a30200" };

// Slack's attachments: an app's (colour, pretext, author, title, text, fields, image,
// footer) and the server's link previews (``from_url``: the site, the page's title and
// description, its image). Texts as text, with the messages' markup; links open apart.
function renderAttachments(items) {
  const box = document.createElement("div");
  box.className = "attachments";
  const str = (v) => (typeof v === "string" ? v : "");
  for (const a of items) {
    if (!a || typeof a !== "object") continue;
    if (str(a.pretext)) {
      const pre = document.createElement("div");
      pre.className = "attachment-pretext";
      renderText(pre, a.pretext);
      box.append(pre);
    }
    const card = document.createElement("div");
    const unfurled = str(a.from_url) || (a.is_app_unfurl && str(a.app_unfurl_url));
    card.className = unfurled ? "attachment preview" : "attachment";
    if (unfurled) card.dataset.url = unfurled;
    const color = ATTACHMENT_COLORS[a.color] || str(a.color);
    if (/^#?[0-9a-f]{6}$/i.test(color)) card.style.borderLeftColor = color.startsWith("#") ? color : `#${color}`;
    const by = str(a.service_name) || str(a.author_name);
    if (by) {
      const row = document.createElement("div");
      row.className = "attachment-by";
      const icon = str(a.service_icon) || str(a.author_icon);
      const img = icon && remoteImage(icon, "", "attachment-icon");
      if (img) row.append(img);
      row.append(str(a.author_link) ? link(a.author_link, by) : by);
      card.append(row);
    }
    if (str(a.title)) {
      const title = document.createElement("div");
      title.className = "attachment-title";
      title.append(str(a.title_link) ? link(a.title_link, a.title) : a.title);
      card.append(title);
    }
    if (str(a.text)) {
      const body = document.createElement("div");
      body.className = "attachment-text";
      renderText(body, a.text);
      card.append(body);
    }
    // an attachment's blocks (an app's unfurl of a link): shown, their controls inert
    const blocks = Array.isArray(a.blocks) && a.blocks.length && renderBlocks({ blocks: a.blocks, inert: true });
    if (blocks) card.append(blocks);
    if (Array.isArray(a.fields) && a.fields.length) {
      const fields = document.createElement("div");
      fields.className = "attachment-fields";
      for (const f of a.fields) {
        if (!f || typeof f !== "object") continue;
        const field = document.createElement("div");
        field.className = f.short ? "attachment-field short" : "attachment-field";
        const name = document.createElement("div");
        name.className = "attachment-field-title";
        name.textContent = str(f.title);
        const value = document.createElement("div");
        renderText(value, str(f.value));
        field.append(name, value);
        fields.append(field);
      }
      card.append(fields);
    }
    const image = str(a.image_url) || str(a.thumb_url);
    const img = image && remoteImage(image, str(a.title) || str(a.fallback), a.image_url ? "attachment-image" : "attachment-thumb");
    if (img) card.append(img);
    if (str(a.footer)) {
      const footer = document.createElement("div");
      footer.className = "attachment-footer";
      renderText(footer, a.footer);
      card.append(footer);
    }
    if (card.childElementCount) box.append(card);
  }
  return box;
}

function renderFiles(files) {
  const box = document.createElement("div");
  box.className = "files";
  for (const f of files) {
    const item = document.createElement("div");
    item.className = "file";
    item.dataset.file = f.id;
    if (f.mode === "tombstone" || state.goneFiles.has(f.id)) {
      item.append(missing(f));
      box.append(item);
      continue;
    }
    if (SHOWN_INLINE.has(f.mimetype)) {
      const img = document.createElement("img");
      img.alt = f.title || f.name;
      fileBlob(f).then((url) => (img.src = url)).catch(() => img.replaceWith(missing(f)));
      item.append(img);
    }
    const link = document.createElement("button");
    link.type = "button";
    link.className = "file-link";
    link.textContent = `${f.title || f.name} (${sizeOf(f.size)})`;
    link.title = `Download ${f.name}`;
    link.addEventListener("click", () => download(f));
    item.append(link);
    box.append(item);
  }
  return box;
}

function download(f) {
  fileBlob(f)
    .then((url) => {
      const a = document.createElement("a");
      a.href = url;
      a.download = f.name;
      a.click();
    })
    .catch((err) => notice(`Could not download ${f.name}: ${err.message}`));
}

// A file deleted (its tombstone, or file_deleted before its message changed), or one
// that could not be read.
function missing(f) {
  const gone = document.createElement("span");
  gone.className = "file-gone";
  gone.textContent = f.name ? `${f.name} is no longer available` : "This file was deleted.";
  return gone;
}

function sizeOf(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

// Uploads files as slack_sdk's files_upload_v2 does (each announced, then its bytes
// sent), then shares them all into the open channel in one message, with what the
// composer holds as its comment.
async function upload(files) {
  const channel = state.active;
  if (!channel || !files.length) return;
  const box = $("composer").querySelector("textarea");
  const comment = box.value;
  try {
    const done = [];
    for (const file of files) {
      const { upload_url, file_id } = await api("files.getUploadURLExternal", {
        filename: file.name,
        length: file.size,
      });
      const sent = await fetch(new URL(upload_url, location.href).pathname, {
        method: "POST",
        body: file,
      });
      if (!sent.ok) throw new ApiError((await sent.json()).error || `HTTP ${sent.status}`);
      done.push({ id: file_id, title: file.name });
    }
    await api("files.completeUploadExternal", {
      files: done,
      channel_id: channel,
      initial_comment: comment,
    });
    if (box.value === comment) box.value = "";
  } catch (err) {
    notice(`Could not upload: ${err.code || err.message}`);
  }
}

$("attach").addEventListener("change", (e) => {
  upload([...e.target.files]);
  e.target.value = "";
});

// A person's photo (users.setPhoto), from this server's path whatever host its URL
// names; null when they have none.
function photoOf(userId, cls = "avatar") {
  const url = state.users.get(userId)?.profile?.image_48;
  if (!url) return null;
  let path;
  try {
    path = new URL(url, location.href).pathname;
  } catch {
    return null;
  }
  if (!path.startsWith("/files/avatars/")) return null; // the server's own, never elsewhere
  const img = document.createElement("img");
  img.className = cls;
  img.src = path;
  img.alt = "";
  return img;
}

function messageItem(m, { inThread = false } = {}) {
  const li = document.createElement("li");
  li.className = "msg";
  li.dataset.ts = m.ts;
  li.dataset.seq = String(m.seq || "");
  if (m.ts === state.linked && m.channel === state.active) li.classList.add("linked");
  const who = document.createElement("span");
  who.className = "who";
  // a bot's post may show another name and icon (chat:write.customize): always tagged APP
  const glyph = m.icons?.emoji && emojiOf(m.icons.emoji.slice(1, -1))?.glyph;
  const icon = glyph ? `${glyph} ` : "";
  who.textContent = icon + (m.bot_id && m.username ? m.username : userName(m.user));
  if (!(m.bot_id && m.username) && m.user) {
    who.classList.add("clickable");
    who.title = "Profile";
    who.addEventListener("click", (e) => {
      e.stopPropagation();
      showProfile(who, m.user);
    });
  }
  if (m.bot_id || state.users.get(m.user)?.is_bot) {
    const tag = document.createElement("span");
    tag.className = "app-tag";
    tag.textContent = "APP";
    who.append(tag);
  }
  const when = document.createElement("span");
  when.className = "when";
  when.textContent = new Date(Number(m.ts.split(".")[0]) * 1000).toLocaleTimeString();
  const text = document.createElement("div");
  text.className = "text";
  if (m.subtype === "tombstone") {
    // deleted, kept for its thread: no author, no actions, only the way to the replies
    li.classList.add("deleted");
    text.textContent = m.text;
    li.append(text);
    if (!inThread && m.reply_count) li.append(repliesButton(m));
    return li;
  }
  if (m.subtype === "me_message") li.classList.add("me");
  if (m.assistant_app_thread?.title) {
    const titled = document.createElement("div");
    titled.className = "assistant-title";
    titled.textContent = m.assistant_app_thread.title;
    text.append(titled);
  }
  const blocks = m.blocks?.length ? renderBlocks(m) : null;
  if (m.stream) {
    // an app's streamed reply: its markdown, its plan and tasks, then its blocks
    renderText(text, fromMarkdown(m.text || ""));
    text.append(streamPart(m));
    if (blocks) text.append(blocks);
  } else if (blocks) text.append(blocks);
  else renderText(text, m.text || "");
  if (m.files?.length) text.append(renderFiles(m.files));
  if (m.attachments?.length) text.append(renderAttachments(m.attachments));
  if (inThread && m.assistant_app_thread?.suggested_prompts?.length) {
    text.append(suggestedPrompts(m));
  }
  const face = m.bot_id && m.username ? null : photoOf(m.user);
  if (face) li.append(face);
  li.append(who, when, state.editing?.ts === m.ts ? editor(m) : text);
  if (NOTICES.has(m.subtype)) {
    // the server's note of a topic, purpose or name changed: who did it, no actions
    li.classList.add("notice");
    text.textContent = `${userName(m.user)} ${m.text.replace(/^<@[A-Z0-9]+> /, "")}`;
    return li;
  }
  if (m.is_ephemeral) {
    // chat.postEphemeral: for this user only, not stored, gone on reload; nothing to act on
    li.classList.add("ephemeral");
    const only = document.createElement("span");
    only.className = "only-you";
    only.textContent = "Only visible to you";
    text.append(only);
    return li;
  }
  if (m.edited) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = "(edited)";
    text.append(edited);
  }
  if (state.saved.has(savedKey(m.channel, m.ts))) {
    li.classList.add("saved");
    const mark = document.createElement("span");
    mark.className = "saved-mark";
    mark.textContent = "Saved";
    who.after(mark);
  }
  const pinned = state.pins.get(m.channel)?.has(m.ts);
  if (pinned) {
    li.classList.add("pinned");
    const mark = document.createElement("span");
    mark.className = "pinned-mark";
    mark.textContent = "Pinned";
    who.after(mark);
  }
  if (m.reactions?.length) {
    const bar = document.createElement("div");
    bar.className = "reactions";
    for (const r of m.reactions) {
      const b = document.createElement("button");
      b.type = "button";
      b.append(emojiNode(r.name) || `:${r.name}:`, ` ${r.count}`);
      b.title = `:${r.name}:`;
      b.dataset.reaction = r.name;
      if (r.users.includes(state.me.id)) b.classList.add("mine");
      b.addEventListener("click", () => react(m, r.name));
      bar.append(b);
    }
    li.append(bar);
  }
  if (!inThread && m.reply_count) li.append(repliesButton(m));
  const actions = document.createElement("div");
  actions.className = "actions";
  const add = (label, title, fn) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", fn);
    actions.append(b);
  };
  add("+1", "React", () => react(m, "thumbsup"));
  add("☺", "More reactions", (e) => {
    e.stopPropagation();
    const items = [...EMOJI].map(([name, glyph]) => ({
      label: `${glyph} :${name}:`,
      title: `React with :${name}:`,
      run: () => react(m, name),
    }));
    for (const name of state.customEmoji.keys()) {
      items.push({ label: `:${name}:`, title: `React with :${name}:`, run: () => react(m, name) });
    }
    items.push({
      label: "Other…",
      title: "React with any emoji, by its name",
      run: async () => {
        const name = (await ask("Emoji name (e.g. rocket)"))?.replace(/^:|:$/g, "").toLowerCase();
        if (name && emojiOf(name)) await react(m, name);
        else if (name) alert(`No emoji called :${name}:`);
      },
    });
    popupMenu(e.currentTarget, items);
  });
  add(pinned ? "Unpin" : "Pin", pinned ? "Unpin from the channel" : "Pin to the channel", () =>
    api(pinned ? "pins.remove" : "pins.add", { channel: m.channel, timestamp: m.ts }).catch(
      (err) => notice(`Could not ${pinned ? "unpin" : "pin"}: ${err.code || err.message}`),
    ),
  );
  if (!inThread) add("Reply", "Reply in thread", () => openThread(m.channel, m.ts));
  if (!m.is_ephemeral) add("Link", "Copy link to message", () => copyLink(m));
  if (!inThread && !m.is_ephemeral) add("Mark unread", "Mark unread from here", () => markUnread(m));
  if (!m.is_ephemeral) {
    const saved = state.saved.has(savedKey(m.channel, m.ts));
    add(saved ? "Unsave" : "Save", saved ? "Remove from saved items" : "Save for later", () =>
      toggleSaved(m),
    );
  }
  if (shortcutsOf("message").length) {
    add("More", "The apps' shortcuts", (e) => {
      e.stopPropagation();
      shortcutMenu(e.currentTarget, "message", m);
    });
  }
  if (m.user === state.me.id) {
    add("Edit", "Edit", () => {
      state.editing = { ts: m.ts, draft: m.text };
      rerender(m.channel, m.thread_ts);
      document.querySelector("textarea.edit")?.focus();
    });
    add("Delete", "Delete", () =>
      api("chat.delete", { channel: m.channel, ts: m.ts }).catch((err) =>
        notice(`Could not delete: ${err.code || err.message}`),
      ),
    );
  }
  li.append(actions);
  return li;
}

function repliesButton(m) {
  const more = document.createElement("button");
  more.type = "button";
  more.className = "replies";
  more.textContent = `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`;
  more.addEventListener("click", () => openThread(m.channel, m.ts));
  return more;
}

// A short-lived note for a failure that has no better place (an edit or delete refused).
function notice(text) {
  const el = $("notice");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => (el.hidden = true), 5000);
}

function pendingItem(id, p) {
  const li = document.createElement("li");
  li.className = "msg " + (p.failed ? "failed" : "pending");
  li.dataset.clientMsgId = id;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = state.me.name;
  const text = document.createElement("div");
  text.className = "text";
  renderText(text, p.text);
  li.append(who, text);
  const note = document.createElement("span");
  note.className = "state";
  note.textContent = p.failed ? "Not sent." : "Sending…";
  li.append(note);
  if (p.failed) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => deliver(id));
    li.append(retry);
  }
  return li;
}

function editor(m) {
  const box = document.createElement("textarea");
  box.className = "edit";
  box.value = state.editing.draft;
  box.addEventListener("input", () => {
    if (state.editing) state.editing.draft = box.value;
  });
  box.addEventListener("keydown", async (e) => {
    if (e.key === "Escape") {
      state.editing = null;
      rerender(m.channel, m.thread_ts);
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      try {
        const text = toMarkup(box.value);
        const edited = await api("chat.update", { channel: m.channel, ts: m.ts, text });
        keep(edited.message);
      } catch (err) {
        notice(`Could not edit: ${err.code || err.message}`);
      }
      state.editing = null;
      rerender(m.channel, m.thread_ts);
    }
  });
  return box;
}

// The reactions offered on a message, and how a reaction's name shows (others as :name:).
const EMOJI = new Map([
  ["thumbsup", "👍"],
  ["heart", "❤️"],
  ["joy", "😂"],
  ["tada", "🎉"],
  ["eyes", "👀"],
  ["white_check_mark", "✅"],
  ["pray", "🙏"],
  ["fire", "🔥"],
]);

// Emoji by name: the standard ones and the workspace's own (emoji.list), kept current
// by emoji_changed.
async function loadEmoji() {
  const [standard, custom] = await Promise.all([
    fetch("/static/emoji.json", { credentials: "same-origin" })
      .then((r) => r.json())
      .catch(() => ({})),
    api("emoji.list").catch(() => ({ emoji: {} })),
  ]);
  state.emoji = new Map(Object.entries(standard));
  state.customEmoji = new Map(Object.entries(custom.emoji || {}));
}

// What a name stands for: {url} for a custom emoji's image, {glyph} for a standard one
// (an alias followed, a few steps at most), or null.
function emojiOf(name, depth = 0) {
  const custom = state.customEmoji.get(name);
  if (custom?.startsWith("alias:")) return depth < 3 ? emojiOf(custom.slice(6), depth + 1) : null;
  if (custom) return { url: custom };
  const glyph = EMOJI.get(name) || state.emoji.get(name);
  return glyph ? { glyph } : null;
}

function emoji(name) {
  return emojiOf(name)?.glyph || `:${name}:`;
}

// An emoji as a node: a custom one's image, a standard one's character; null for a name
// that is neither.
function emojiNode(name) {
  const found = emojiOf(name);
  if (!found) return null;
  if (found.glyph) return document.createTextNode(found.glyph);
  const img = document.createElement("img");
  img.className = "emoji";
  // this server's image by its path: an emoji_changed names it as whoever added it
  // reached the server (another host name, behind a proxy)
  const url = new URL(found.url, location.href);
  img.src = url.pathname.startsWith("/files/emoji/") ? url.pathname : found.url;
  img.alt = img.title = `:${name}:`;
  return img;
}

async function react(m, name) {
  const mine = m.reactions?.find((r) => r.name === name)?.users.includes(state.me.id);
  await api(mine ? "reactions.remove" : "reactions.add", {
    channel: m.channel,
    timestamp: m.ts,
    name,
  }).catch(() => {});
}

// -- composing ----------------------------------------------------------------------------

function composer(form, target) {
  const box = form.querySelector("textarea");
  box.addEventListener("keydown", (e) => {
    // ↑ in an empty composer edits one's last message here, as in Slack
    if (e.key === "ArrowUp" && !box.value && !e.isComposing) {
      const { channel, thread_ts } = target();
      const mine = [...store(channel).values()]
        .filter((m) => m.user === state.me.id && !m.is_ephemeral && m.subtype !== "tombstone")
        .filter((m) => (thread_ts ? m.thread_ts === thread_ts && m.ts !== thread_ts : topLevel(m)))
        .sort((a, b) => Number(a.ts) - Number(b.ts))
        .pop();
      if (!mine) return;
      e.preventDefault();
      state.editing = { ts: mine.ts, draft: mine.text };
      rerender(channel, mine.thread_ts);
      document.querySelector("textarea.edit")?.focus();
      return;
    }
    if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    const text = box.value;
    const { channel, thread_ts, broadcast } = target();
    if (!text.trim() || !channel) return;
    box.value = "";
    if (broadcast) $("broadcast").checked = false;
    // "/name" or "/name args" is a command, as in Slack ("/usr/bin" is not: a message)
    const command = /^(\/[^\s/]+)(?:\s+([\s\S]*))?$/.exec(text);
    if (command?.[1] === "/me" && command[2] && !thread_ts) meMessage(channel, command[2]);
    else if (command?.[1] === "/remind") remind(command[2] || "", box, text);
    else if (command && !thread_ts) runCommand(channel, command[1], command[2] || "", box, text);
    else send(channel, text, thread_ts, broadcast);
  });
  box.addEventListener("input", () => {
    const { channel } = target();
    const now = Date.now();
    if (!channel || now - state.lastTyping < 3000) return;
    state.lastTyping = now;
    wsSend({ type: "typing", channel });
  });
}

composer($("composer"), () => ({ channel: state.active }));
composer($("thread-composer"), () => ({
  channel: state.thread?.channel,
  thread_ts: state.thread?.ts,
  broadcast: $("broadcast").checked, // "Also send to the channel": reply_broadcast
}));

// A slash command (`/deploy staging`): its app answers, most often "only visible to you".
// One the workspace does not have gives the typed text back, to edit or send with a space
// before the slash.
async function runCommand(channel, command, text, box, typed) {
  try {
    await api("chat.command", { channel, command, text });
  } catch (err) {
    const code = err.code || err.message;
    if (code !== "invalid_command") {
      notice(`${command} failed: ${code}`);
      return;
    }
    notice(`${command} is not a command here. To send it as a message, start with a space.`);
    if (!box.value) box.value = typed;
  }
}

// "/remind me to stretch in 10 minutes": Slackbot says it in its direct message then
// (reminders.add reads the time from the end of the text, at this browser's UTC offset).
async function remind(text, box, typed) {
  const what = text.replace(/^me\s+/i, "").trim();
  try {
    const { reminder } = await api("reminders.add", {
      text: what,
      tz_offset: -new Date().getTimezoneOffset(),
    });
    const every = { daily: "day", weekly: "week", monthly: "month", yearly: "year" };
    const at = reminder.recurring
      ? `every ${reminder.recurrence.weekdays?.join(", ") || every[reminder.recurrence.frequency]}`
      : new Date(reminder.time * 1000).toLocaleString();
    notice(`I will remind you “${reminder.text}” — ${at}.`);
  } catch (err) {
    notice(`Try /remind me to stretch in 10 minutes (${err.code || err.message}).`);
    if (!box.value) box.value = typed;
  }
}

// ⏰ Send later: the composer's text, sent by the server at the time chosen
// (chat.scheduleMessage); Scheduled lists one's waiting messages, each with Cancel.
$("send-later").addEventListener("click", async () => {
  const box = $("composer").querySelector("textarea");
  const text = box.value;
  if (!text.trim() || !state.active) {
    notice("Write the message first, then choose when to send it.");
    return;
  }
  const dialog = $("schedule-dialog");
  const input = $("schedule-form").elements.at;
  const soon = new Date(Date.now() + 3600_000 - new Date().getTimezoneOffset() * 60_000);
  input.value = soon.toISOString().slice(0, 16); // an hour from now, local time
  dialog.returnValue = "";
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
  if (dialog.returnValue !== "ok" || !input.value) return;
  const when = new Date(input.value); // local time
  try {
    await api("chat.scheduleMessage", {
      channel: state.active,
      text: toMarkup(text),
      post_at: Math.floor(when.getTime() / 1000),
    });
    if (box.value === text) box.value = "";
    notice(`Scheduled for ${when.toLocaleString()}.`);
  } catch (err) {
    notice(`Not scheduled: ${err.code || err.message}`);
  }
});

async function showScheduled() {
  let list;
  try {
    ({ scheduled_messages: list } = await api("chat.scheduledMessages.list", { limit: 100 }));
  } catch (err) {
    notice(`Could not list scheduled messages: ${err.code || err.message}`);
    return;
  }
  $("search").hidden = false;
  $("search").dataset.view = "scheduled";
  $("search-title").textContent = list.length ? `Scheduled (${list.length})` : "Nothing scheduled";
  const items = $("search-results");
  items.replaceChildren();
  for (const s of list.sort((a, b) => a.post_at - b.post_at)) {
    const li = document.createElement("li");
    li.className = "result scheduled";
    const c = state.channels.get(s.channel_id);
    const where = document.createElement("div");
    where.className = "where";
    where.textContent = `${c ? title(c) : s.channel_id} · ${new Date(s.post_at * 1000).toLocaleString()}`;
    const body = document.createElement("div");
    body.className = "text";
    renderText(body, s.text);
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.title = "Do not send it";
    cancel.addEventListener("click", async () => {
      try {
        await api("chat.deleteScheduledMessage", {
          channel: s.channel_id,
          scheduled_message_id: s.id,
        });
      } catch (err) {
        notice(`Could not cancel it: ${err.code || err.message}`);
      }
      showScheduled();
    });
    li.append(where, body, cancel);
    items.append(li);
  }
}

$("scheduled").addEventListener("click", showScheduled);

// Ctrl+K (⌘K): jump to one of one's conversations, or a person's direct message, by
// typing part of its name; ↑/↓ choose, Enter goes.
let switcherPicked = 0;

function switcherMatches(query) {
  const q = query.trim().toLowerCase().replace(/^[#@]/, "");
  const out = [];
  for (const c of state.channels.values()) {
    if (!c.is_member || c.is_archived) continue;
    const name = title(c);
    if (name.toLowerCase().includes(q)) out.push({ label: name, go: () => openChannel(c.id) });
  }
  for (const u of state.users.values()) {
    if (u.deleted || u.id === state.me.id) continue;
    const names = [u.name, u.profile?.display_name, u.real_name].filter(Boolean);
    if (!names.some((n) => n.toLowerCase().includes(q))) continue;
    const dm = [...state.channels.values()].some((c) => c.is_im && c.user === u.id);
    if (!dm) out.push({ label: `@${userName(u.id)}`, go: () => openDm(u.id) });
  }
  return out.slice(0, 8);
}

function renderSwitcher() {
  const list = $("switcher-results");
  const found = switcherMatches($("switcher-form").elements.q.value);
  switcherPicked = Math.min(switcherPicked, Math.max(found.length - 1, 0));
  list.replaceChildren(
    ...found.map((f, i) => {
      const li = document.createElement("li");
      li.textContent = f.label;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === switcherPicked));
      li.addEventListener("click", () => pickSwitcher(f));
      return li;
    }),
  );
  return found;
}

function pickSwitcher(found) {
  $("switcher").close();
  found?.go();
}

document.addEventListener("keydown", (e) => {
  if (!(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== "k" || $("app").hidden) return;
  e.preventDefault();
  $("switcher-form").elements.q.value = "";
  switcherPicked = 0;
  renderSwitcher();
  $("switcher").showModal();
  $("switcher-form").elements.q.focus();
});

$("switcher-form").elements.q.addEventListener("input", () => {
  switcherPicked = 0;
  renderSwitcher();
});

$("switcher-form").elements.q.addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    switcherPicked = Math.max(0, switcherPicked + (e.key === "ArrowDown" ? 1 : -1));
    renderSwitcher();
  } else if (e.key === "Enter") {
    e.preventDefault();
    pickSwitcher(renderSwitcher()[switcherPicked]);
  }
});

// "/me waves": a message about oneself, shown as "alice waves".
async function meMessage(channel, text) {
  try {
    await api("chat.meMessage", { channel, text });
  } catch (err) {
    notice(`Not sent: ${err.code || err.message}`);
  }
}

function send(channel, text, thread_ts, broadcast = false) {
  const id = crypto.randomUUID();
  state.pending.set(id, { channel, text, thread_ts, broadcast, failed: false });
  rerender(channel, thread_ts);
  deliver(id);
}

async function deliver(id) {
  const p = state.pending.get(id);
  if (!p) return;
  p.failed = false;
  rerender(p.channel, p.thread_ts);
  const args = { channel: p.channel, text: toMarkup(p.text), client_msg_id: id };
  if (p.thread_ts) args.thread_ts = p.thread_ts;
  if (p.broadcast) args.reply_broadcast = true;
  try {
    const sent = await api("chat.postMessage", args);
    keep(sent.message);
    state.pending.delete(id);
  } catch {
    if (state.pending.has(id)) p.failed = true;
  }
  rerender(p.channel, p.thread_ts);
}

function rerender(channel, thread_ts) {
  if (channel === state.active) renderMessages();
  if (state.thread && thread_ts === state.thread.ts) renderThread();
}

// -- threads ------------------------------------------------------------------------------

async function openThread(channel, ts) {
  state.thread = { channel, ts };
  $("thread").hidden = false;
  const page = await api("conversations.replies", { channel, ts, limit: 200 });
  if (!page.has_more) {
    // every reply up to the page's newest is here: one held that is not was deleted
    // meanwhile (a newer one came live after the page was read, and stays)
    const now = new Set(page.messages.map((m) => m.ts));
    const newest = page.messages.reduce((a, m) => (cmp(a, m.ts) < 0 ? m.ts : a), ts);
    for (const [key, m] of store(channel)) {
      const judged = cmp(key, newest) <= 0;
      if (m.thread_ts === ts && key !== ts && judged && !now.has(key)) store(channel).delete(key);
    }
  }
  for (const m of page.messages) keep({ ...m, channel });
  renderThread();
}

// -- asking for one line ------------------------------------------------------------------

// A small dialog asking for one line of text: what was typed, or null when cancelled.
function ask(label, initial = "") {
  const dialog = $("ask");
  $("ask-label").textContent = label;
  const input = $("ask-form").elements.value;
  input.value = initial;
  dialog.returnValue = "";
  dialog.showModal();
  input.select();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" ? input.value.trim() : null),
      { once: true },
    );
  });
}

// One's own profile (users.profile.set: the fields changed only; an empty one clears it);
// everyone's cards and lists follow by user_change.
async function editProfile() {
  const dialog = $("profile-dialog");
  const form = $("profile-form");
  const p = state.users.get(state.me.id)?.profile || {};
  const fields = ["display_name", "real_name", "title", "phone"];
  for (const f of fields) form.elements[f].value = p[f] || "";
  dialog.returnValue = "";
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
  if (dialog.returnValue !== "ok") return;
  const changed = {};
  for (const f of fields) {
    const value = form.elements[f].value.trim();
    if (value !== (p[f] || "")) changed[f] = value;
  }
  if (!Object.keys(changed).length) return;
  try {
    await api("users.profile.set", { profile: changed });
  } catch (err) {
    notice(`Could not save your profile: ${err.code || err.message}`);
  }
}

// -- the channel's topic, its people, and one's status --------------------------------------

function showTopic(c) {
  $("channel-topic").textContent = c?.topic?.value || "";
}

$("set-topic").addEventListener("click", async () => {
  const c = state.channels.get(state.active);
  const topic = c && (await ask("Topic", c.topic?.value || ""));
  if (topic === null || !c) return;
  try {
    await api("conversations.setTopic", { channel: c.id, topic });
  } catch (err) {
    notice(`Could not set the topic: ${err.code || err.message}`);
  }
});

// People named as @ann @ben (or ann, ben) join the channel open now.
$("invite").addEventListener("click", async () => {
  const channel = state.active;
  const typed = await ask("Invite (@ann @ben)");
  const users = typed && channel && namedPeople(typed);
  if (!users) return;
  try {
    await api("conversations.invite", { channel, users });
  } catch (err) {
    notice(`Could not invite: ${err.code || err.message}`);
  }
});

// One's name in the sidebar, with the status one set; clicking it sets the status
// (users.profile.set: everyone's people list shows it, by user_change).
function showMe() {
  const status = state.users.get(state.me.id)?.profile?.status_text;
  $("me").textContent = `@${state.me.name}` + (status ? ` · ${status}` : "");
  $("photo-remove").hidden = !state.users.get(state.me.id)?.profile?.image_48;
}

$("me").addEventListener("click", async () => {
  const now = state.users.get(state.me.id)?.profile?.status_text || "";
  const status = await ask("Your status", now);
  if (status === null) return;
  try {
    await api("users.profile.set", { profile: { status_text: status, status_emoji: "" } });
  } catch (err) {
    notice(`Could not set your status: ${err.code || err.message}`);
  }
});

// One's photo: Photo picks an image (users.setPhoto, a multipart upload), Remove photo
// takes it away (users.deletePhoto); everyone sees it by user_change.
$("photo").addEventListener("click", () => $("photo-file").click());

$("photo-remove").addEventListener("click", () =>
  api("users.deletePhoto").catch((err) => notice(`Could not remove your photo: ${err.code || err.message}`)),
);

$("photo-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const resp = await fetch("/api/users.setPhoto", {
      method: "POST",
      headers: { "X-Parley-Client": headers()["X-Parley-Client"] },
      credentials: "same-origin",
      body: form,
    });
    const body = await resp.json();
    if (!body.ok) throw new ApiError(body.error || "error");
  } catch (err) {
    notice(`Could not set your photo: ${err.code || err.message}`);
  }
});

// -- bookmarks ------------------------------------------------------------------------------

// A channel's bookmarks: links above its messages, opened in a new tab; + Bookmark adds
// one (bookmarks.add), × removes one; every member's page follows (bookmark_* events).
async function loadBookmarks(channel) {
  const { bookmarks } = await api("bookmarks.list", { channel_id: channel });
  state.bookmarks.set(channel, bookmarks);
}

function renderBookmarks() {
  const bar = $("bookmarks");
  bar.replaceChildren();
  const channel = state.active;
  bar.hidden = !channel || $("messages").hidden;
  for (const b of state.bookmarks.get(channel) || []) {
    if (!/^https?:\/\//.test(b.link)) continue; // the server's rule, kept here too
    const a = document.createElement("a");
    a.className = "bookmark";
    a.href = b.link;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = b.title;
    a.title = b.link;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "bookmark-remove";
    remove.textContent = "×";
    remove.title = `Remove ${b.title}`;
    remove.addEventListener("click", () =>
      api("bookmarks.remove", { channel_id: channel, bookmark_id: b.id }).catch((err) =>
        notice(`Could not remove it: ${err.code || err.message}`),
      ),
    );
    const item = document.createElement("span");
    item.className = "bookmark-item";
    item.append(a, remove);
    bar.append(item);
  }
  const add = document.createElement("button");
  add.type = "button";
  add.id = "bookmark-add";
  add.textContent = "+ Bookmark";
  add.addEventListener("click", async () => {
    const link = await ask("Link (https://…)");
    if (!link) return;
    const title = await ask("Title", link.replace(/^https?:\/\//, "").split("/")[0]);
    if (!title) return;
    try {
      await api("bookmarks.add", { channel_id: channel, title, link });
    } catch (err) {
      notice(`Could not add it: ${err.code || err.message}`);
    }
  });
  bar.append(add);
}

function onBookmark(ev) {
  const list = (state.bookmarks.get(ev.channel_id) || []).filter((b) => b.id !== ev.bookmark.id);
  if (ev.type !== "bookmark_removed") list.push(ev.bookmark);
  list.sort((a, b) => a.date_created - b.date_created || (a.id < b.id ? -1 : 1));
  state.bookmarks.set(ev.channel_id, list);
  if (ev.channel_id === state.active) renderBookmarks();
}

// -- search ---------------------------------------------------------------------------------

// search.all over what this person may read, the newest first: files by name or title (a
// result downloads it), then messages (a result opens its channel at the message, older
// history loaded until it is there, or its thread).
$("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const query = String(new FormData(e.target).get("q") || "").trim();
  if (!query) return;
  try {
    const found = await api("search.all", { query, count: 50, sort: "timestamp" });
    showResults(query, found.messages, found.files);
  } catch (err) {
    notice(`Could not search: ${err.code || err.message}`);
  }
});

function showResults(query, found, files) {
  $("search").hidden = false;
  $("search").dataset.view = "search";
  const what = files.total ? ` and ${files.total} ${files.total === 1 ? "file" : "files"}` : "";
  $("search-title").textContent = `${found.total} found${what} for “${query}”`;
  const list = $("search-results");
  list.replaceChildren();
  for (const f of files.matches) {
    const li = document.createElement("li");
    li.className = "result file-result";
    li.tabIndex = 0;
    const where = document.createElement("div");
    where.className = "where";
    const at = new Date(f.timestamp * 1000).toLocaleString();
    where.textContent = `${userName(f.user)} · ${at}`;
    const name = document.createElement("div");
    name.className = "text";
    name.textContent = `📎 ${f.title || f.name} (${sizeOf(f.size)})`;
    li.title = `Download ${f.name}`;
    li.append(where, name);
    li.addEventListener("click", () => download(f));
    li.addEventListener("keydown", (e) => e.key === "Enter" && download(f));
    list.append(li);
  }
  for (const r of found.matches) {
    const c = state.channels.get(r.channel.id) || { name: r.channel.name };
    list.append(resultItem(r.channel.id, c, r.user, r.ts, r.text, r.thread_ts));
  }
}

// One message in the results pane: where, who and when, its text; a click opens it.
function resultItem(channel, c, user, ts, text, thread_ts) {
  const li = document.createElement("li");
  li.className = "result";
  li.tabIndex = 0;
  const where = document.createElement("div");
  where.className = "where";
  const at = new Date(Number(ts.split(".")[0]) * 1000).toLocaleString();
  const place = c?.id ? title(c) : `# ${c?.name || channel}`;
  where.textContent = `${place} · ${userName(user)} · ${at}`;
  const body = document.createElement("div");
  body.className = "text";
  renderText(body, text);
  li.append(where, body);
  const go = () => jumpTo(channel, ts, thread_ts);
  li.addEventListener("click", go);
  li.addEventListener("keydown", (e) => e.key === "Enter" && go());
  return li;
}

async function jumpTo(channel, ts, thread_ts) {
  try {
    if (!state.channels.has(channel)) await loadChannels();
    state.linked = ts;
    await openChannel(channel);
    if (thread_ts && thread_ts !== ts) {
      await openThread(channel, thread_ts);
      document.querySelector("#thread-messages .msg.linked")?.scrollIntoView({ block: "center" });
      return;
    }
    for (let pages = 0; pages < 20 && !store(channel).has(ts) && state.cursor.get(channel); pages++) {
      await loadHistory(channel, state.cursor.get(channel));
    }
    renderMessages();
    document.querySelector("#messages .msg.linked")?.scrollIntoView({ block: "center" });
  } catch (err) {
    notice(`Could not open it: ${err.code || err.message}`);
  }
}

$("search-close").addEventListener("click", () => {
  $("search").hidden = true;
});

$("thread-close").addEventListener("click", () => {
  state.thread = null;
  $("thread").hidden = true;
});

function renderThread() {
  const list = $("thread-messages");
  list.replaceChildren();
  if (!state.thread) return;
  const { channel, ts } = state.thread;
  const msgs = [...store(channel).values()]
    .filter((m) => m.ts === ts || m.thread_ts === ts)
    .sort((a, b) => cmp(a.ts, b.ts));
  for (const m of msgs) list.append(messageItem(m, { inThread: true }));
  for (const [id, p] of state.pending) {
    if (p.channel === channel && p.thread_ts === ts) list.append(pendingItem(id, p));
  }
  const status = state.statuses.get(`${channel} ${ts}`);
  if (status && status.until > Date.now()) {
    const item = document.createElement("li");
    item.className = "thread-status";
    item.textContent = statusLine(status);
    list.append(item);
  }
  list.scrollTop = list.scrollHeight;
}

// -- real time ----------------------------------------------------------------------------

// The banner says when the connection is down; body[data-connection] says it to tests.
function banner(text) {
  $("banner").hidden = !text;
  $("banner").textContent = text || "";
  document.body.dataset.connection = text ? "down" : "open";
}

function wsSend(obj) {
  if (state.ws?.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify({ id: ++state.wsId, ...obj }));
  }
}

// One connection attempt at a time; a socket already open is kept.
async function connect() {
  clearTimeout(state.reconnectTimer);
  if (state.connecting || state.ws) return;
  if (!navigator.onLine) return banner("Offline. Waiting for the network…");
  state.connecting = true;
  try {
    await openSocket();
  } finally {
    state.connecting = false;
  }
}

async function openSocket() {
  const resume = {};
  for (const [channel, seq] of state.lastSeq) {
    if (state.channels.get(channel)?.is_member) resume[channel] = seq;
  }
  let url;
  try {
    ({ url } = await api("rtm.connect", { resume }));
  } catch (err) {
    if (["not_authed", "invalid_auth", "token_revoked", "account_inactive"].includes(err.code)) {
      return showSignin();
    }
    return reconnectLater();
  }
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.addEventListener("message", (e) => onEvent(JSON.parse(e.data)));
  ws.addEventListener("close", () => {
    if (state.ws === ws) reconnectLater();
  });
}

function reconnectLater() {
  state.ws = null;
  banner("Connection lost. Reconnecting…");
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(connect, state.backoff);
  state.backoff = Math.min(state.backoff * 2, 10000);
}

window.addEventListener("offline", () => {
  banner("Offline. Waiting for the network…");
  const ws = state.ws;
  state.ws = null;
  ws?.close();
});
window.addEventListener("online", () => {
  state.backoff = 500;
  connect();
});

function onEvent(ev) {
  switch (ev.type) {
    case "hello":
      state.backoff = 500;
      banner("");
      if (state.connectedBefore) refreshAll();
      state.connectedBefore = true;
      wsSend({ type: "presence_sub", ids: [...state.users.keys()].slice(0, 5000) });
      break;
    case "resume_done":
      banner("");
      break;
    case "resume_gap":
      state.cursor.delete(ev.channel); // reload its history when opened
      if (ev.channel === state.active) openChannel(ev.channel);
      break;
    case "goodbye":
      state.ws?.close();
      break;
    case "message":
      onMessage(ev);
      break;
    case "reaction_added":
    case "reaction_removed":
      onReaction(ev);
      break;
    case "user_typing":
      onTyping(ev);
      break;
    case "assistant_thread_status":
      onStatus(ev);
      break;
    case "pin_added":
    case "pin_removed":
      onPin(ev);
      break;
    case "star_added":
    case "star_removed":
      onStar(ev);
      break;
    case "emoji_changed":
      // the workspace's own emoji: added (or an alias), or removed
      if (ev.subtype === "add") state.customEmoji.set(ev.name, ev.value);
      for (const name of ev.subtype === "remove" ? ev.names || [] : []) {
        state.customEmoji.delete(name);
      }
      renderMessages();
      break;
    case "team_join":
    case "user_change":
      // someone new, or a profile changed: names and statuses shown anew
      state.users.set(ev.user.id, ev.user);
      renderPeople();
      renderMessages();
      if (ev.user.id === state.me.id) showMe();
      break;
    case "presence_change":
      state.presence.set(ev.user, ev.presence);
      renderPeople();
      break;
    case "member_joined_channel":
    case "member_left_channel":
    case "channel_created":
    case "channel_rename":
    case "group_rename":
    case "channel_archive":
    case "channel_unarchive":
    case "group_archive":
    case "group_unarchive":
      loadChannels();
      break;
    case "subteam_created":
    case "subteam_updated":
      // a disabled group mentions nobody: forgotten until it is enabled again
      if (ev.subteam.date_delete) state.groups.delete(ev.subteam.id);
      else state.groups.set(ev.subteam.id, ev.subteam);
      renderGroups();
      renderMessages();
      break;
    case "bookmark_added":
    case "bookmark_changed":
    case "bookmark_removed":
      onBookmark(ev);
      break;
    case "im_close":
    case "mpim_close":
    case "im_open":
    case "mpim_open":
      setOpen(ev.channel, ev.type.endsWith("_open"));
      break;
    case "file_deleted": {
      // no longer a download; its messages then change to show its tombstone
      state.goneFiles.add(ev.file_id);
      const shown = fileUrls.get(ev.file_id);
      fileUrls.delete(ev.file_id);
      if (shown) shown.then((url) => URL.revokeObjectURL(url)).catch(() => {});
      renderMessages();
      if (state.thread) renderThread();
      break;
    }
    case "view_opened":
    case "view_updated":
      if (ev.view.type !== "home") showView(ev.view);
      else if (state.home?.channel === ev.channel) {
        state.home.view = ev.view;
        renderHome();
      }
      break;
    case "view_errors":
      if (state.view?.id === ev.view_id) viewErrors(ev.errors || {});
      break;
    case "view_closed": {
      const under = state.below.findIndex((e) => e.view.id === ev.view_id);
      if (under >= 0) state.below.splice(under, 1);
      else if (state.view?.id === ev.view_id) back(true);
      break;
    }
    case "channel_marked":
    case "group_marked":
    case "im_marked":
    case "mpim_marked": {
      const c = state.channels.get(ev.channel);
      if (c && (ev.channel !== state.active || state.keptUnread === ev.channel)) {
        c.unread = ev.unread_count || 0;
        if (!c.unread) c.mentions = 0;
        renderChannels();
      }
      break;
    }
  }
}

function onMessage(ev) {
  if (ev.subtype === "message_changed") {
    keep({ ...ev.message, channel: ev.channel });
  } else if (ev.subtype === "message_deleted") {
    forget(ev.channel, ev.deleted_ts);
    if (ev.seq) hold(ev.channel, ev.seq);
  } else {
    if (!keep(ev, { fresh: true })) return; // a duplicate: shown once
    if (!ev.is_ephemeral) setOpen(ev.channel, true); // a closed conversation written in
    if (ev.user === state.me.id && state.keptUnread === ev.channel) state.keptUnread = null;
    if (ev.channel === state.active && !ev.is_ephemeral) markRead(ev.channel);
    if (NOTICES.has(ev.subtype)) loadChannels(); // a new name (or topic) to show
    const counted = ev.channel !== state.active && ev.user !== state.me.id && topLevel(ev);
    const tell = () => {
      if (counted) count(ev);
      notifyOf(ev);
    };
    if (state.channels.has(ev.channel) || ev.user === state.me.id) tell();
    else loadChannels().then(tell); // a direct message someone just opened
    state.typing.get(ev.channel)?.delete(ev.user);
    const said = `${ev.channel} ${ev.thread_ts}`;
    if (state.statuses.get(said)?.user === ev.user) state.statuses.delete(said); // it answered
    renderTyping();
  }
  rerender(ev.channel, ev.thread_ts || (ev.message && ev.message.thread_ts));
  if (state.thread && ev.channel === state.thread.channel) renderThread();
}

// A desktop notification of a new message for me (a direct message, or one that
// mentions me, a thread reply too) that I am not looking at: this tab hidden, or another
// conversation open; none while notifications are paused (dnd.setSnooze), none of my
// own. A click opens it.
function notifyOf(ev) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (ev.user === state.me.id || ev.is_ephemeral || NOTICES.has(ev.subtype)) return;
  if (state.snoozeUntil > Date.now() / 1000) return;
  const c = state.channels.get(ev.channel);
  if (!c || !(direct(c) || mentionsMe(ev.text || ""))) return;
  if (!document.hidden && ev.channel === state.active) return;
  const body = `${userName(ev.user)}: ${plainText(ev.text || "").slice(0, 200)}`;
  try {
    const shown = new Notification(title(c), { body, tag: `${ev.channel}/${ev.ts}` });
    shown.onclick = () => {
      window.focus();
      jumpTo(ev.channel, ev.ts, ev.thread_ts);
      shown.close();
    };
  } catch {
    // a browser that shows notifications only from a service worker: none here
  }
}

// Slack's markup read as words, for a notification: <@U…> as @name, <!here> as @here,
// <#C…|name> as #name, <https://x|label> as label.
function plainText(text) {
  return text.replace(/<([@#!])([^>|]+)(?:\|([^>]*))?>|<([^>|]+)\|([^>]*)>|<([^>]+)>/g, (all, sigil, id, label, url, text2, bare) => {
    if (sigil === "@") return `@${label || userName(id)}`;
    if (sigil === "#") return `#${label || state.channels.get(id)?.name || id}`;
    if (sigil === "!") return `@${(label || id).replace(/^subteam\^\w+$/, "group").replace(/^@/, "")}`;
    if (url) return text2 || url;
    return bare || all;
  });
}

$("notify-enable").addEventListener("click", async () => {
  await Notification.requestPermission();
  showNotifyButton();
});

// Offered while this browser has not been asked: it must ask on a click.
function showNotifyButton() {
  $("notify-enable").hidden = !("Notification" in window) || Notification.permission !== "default";
}

// The tab's title counts what is for me and unread: mentions, and direct messages.
function showTitleCount() {
  let total = 0;
  for (const c of state.channels.values()) if (c.is_member) total += c.mentions || 0;
  const base = state.team ? `${state.team.name} · Parley` : "Parley";
  document.title = total ? `(${total}) ${base}` : base;
}

// An unread message in a channel not open (every one in a direct message is for you).
function count(ev) {
  const c = state.channels.get(ev.channel);
  if (!c || ev.channel === state.active) return;
  c.unread += 1;
  if (direct(c) || mentionsMe(ev.text || "")) c.mentions += 1;
  renderChannels();
}

// <@U123>, or @name as a whole word (not @bobby for bob), or @channel / @everyone / @here,
// or a user group I am in.
function mentionsMe(text) {
  if (text.includes(`<@${state.me.id}>`) || /<!(channel|everyone|here)>/.test(text)) return true;
  for (const m of text.matchAll(/<!subteam\^([A-Z0-9]+)/g)) if (inGroup(m[1])) return true;
  const name = state.me.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w@])@${name}(?![\\w.-])`, "i").test(text);
}

// A message deleted: gone, or a tombstone while it keeps a thread (as the server says).
function forget(channel, ts) {
  const m = store(channel).get(ts);
  if (m?.reply_count) {
    store(channel).set(ts, { ...m, subtype: "tombstone", text: "This message was deleted.", reactions: [] });
  } else {
    store(channel).delete(ts);
  }
}

// After a reconnect: resume replays new messages by seq, but an edit, a deletion or a
// reaction made meanwhile keeps its message's seq. So the newest page of each channel
// held is read again and reconciled (what it lacks was deleted), and so is the open
// thread; a channel not open reloads its history when it is opened.
async function refreshAll() {
  for (const channel of state.messages.keys()) {
    if (channel === state.active) {
      await reconcile(channel).catch(() => {});
    } else {
      state.stale.add(channel);
    }
  }
  if (state.thread) await openThread(state.thread.channel, state.thread.ts).catch(() => {});
}

async function reconcile(channel) {
  state.stale.delete(channel);
  const page = await api("conversations.history", { channel, limit: 50 });
  const fresh = new Map(page.messages.map((m) => [m.ts, { ...m, channel }]));
  const oldest = page.has_more ? page.messages.at(-1)?.ts : null;
  for (const [ts, m] of store(channel)) {
    const inPage = !oldest || cmp(ts, oldest) >= 0;
    if (inPage && topLevel(m) && !fresh.has(ts)) store(channel).delete(ts);
  }
  for (const m of fresh.values()) keep(m);
  rerender(channel);
}

function onReaction(ev) {
  const m = store(ev.item.channel).get(ev.item.ts);
  if (!m) return;
  const reactions = (m.reactions || []).map((r) => ({ ...r, users: [...r.users] }));
  let r = reactions.find((x) => x.name === ev.reaction);
  if (ev.type === "reaction_added") {
    if (!r) reactions.push((r = { name: ev.reaction, users: [], count: 0 }));
    if (!r.users.includes(ev.user)) r.users.push(ev.user);
  } else if (r) {
    r.users = r.users.filter((u) => u !== ev.user);
  }
  for (const x of reactions) x.count = x.users.length;
  store(ev.item.channel).set(m.ts, { ...m, reactions: reactions.filter((x) => x.count) });
  rerender(ev.item.channel, m.thread_ts);
}

function onTyping(ev) {
  if (!state.typing.has(ev.channel)) state.typing.set(ev.channel, new Map());
  state.typing.get(ev.channel).set(ev.user, Date.now() + 5000);
  renderTyping();
  setTimeout(renderTyping, 5100);
}

function renderTyping() {
  const now = Date.now();
  const who = [...(state.typing.get(state.active) || new Map())]
    .filter(([, until]) => until > now)
    .map(([user]) => userName(user));
  const lines = who.length ? [`${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…`] : [];
  for (const [key, s] of state.statuses) {
    if (key.startsWith(`${state.active} `) && s.until > now) lines.push(statusLine(s));
  }
  $("typing").textContent = lines.join(" · ");
}

// An app's status in a thread (assistant.threads.setStatus): shown under the thread and
// in its channel until the app writes there, clears it, or two minutes pass.
const STATUS_MS = 120_000;

function onStatus(ev) {
  const key = `${ev.channel} ${ev.thread_ts}`;
  if (ev.status) state.statuses.set(key, { user: ev.user, status: ev.status, until: Date.now() + STATUS_MS });
  else state.statuses.delete(key);
  renderTyping();
  if (state.thread) renderThread();
  setTimeout(() => {
    renderTyping();
    if (state.thread) renderThread();
  }, STATUS_MS + 100);
}

function statusLine(s) {
  return `${userName(s.user)} ${s.status}`;
}

start();
