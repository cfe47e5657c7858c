//! A local fake of Discord's REST + gateway API, for running the REAL serenity 0.12.5 client in
//! end-to-end tests. Point the bot at it with `HttpBuilder::new(token).proxy(fake.api_base())`:
//! serenity then sends REST calls to `{api_base}/api/v10/...` (it replaces `https://discord.com`
//! in every route) and, on start, `GET /api/v10/gateway` (client build) and
//! `GET /api/v10/gateway/bot` (`start_autosharded`); the gateway URL we return gets `?v=10`
//! appended by serenity (`gateway/shard.rs::connect`).
//!
//! Every payload below was checked against serenity 0.12.5's models: ids are sent as strings
//! (snowflakes deserialise from strings or ints, must be non-zero), `Permissions` as decimal
//! strings, other bitflags (`flags`) as integers, timestamps as RFC 3339.
//!
//! Behaviour of real Discord that the fake reproduces, so that bot bugs surface in tests:
//! - a second callback for one interaction: 400 `{"code":40060}` (already acknowledged);
//! - editing/fetching `@original` or sending a followup before the callback: 404 `{"code":10015}`;
//! - creating an empty message: 400 `{"code":50006}`; over-long content/embeds/components:
//!   400 `{"code":50035}` (Invalid Form Body, with the `errors` tree);
//!
//! - a channel message with `enforce_nonce` and a nonce seen before in that channel: the
//!   message posted with it, not a second one.
//!
//! And, when a test asks for it, real Discord's faults: 429s with `retry_after`, 500s and
//! slow responses on chosen REST routes (`inject`), a dropped gateway connection
//! (`drop_gateway`: the client resumes) and an invalid session (`invalidate_session`: it
//! identifies again).
//!
//! Every request, with the status answered, is kept in `requests()`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

pub const APP_ID: u64 = 900_000_000_000_000_001;
pub const BOT_USER_ID: u64 = 900_000_000_000_000_002;
pub const BOT_NAME: &str = "newsqa";

// Permission bits (Discord's values).
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const MANAGE_MESSAGES: u64 = 1 << 13;
pub const EMBED_LINKS: u64 = 1 << 14;
pub const ATTACH_FILES: u64 = 1 << 15;
pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
/// What the bot itself may do in every channel (`app_permissions`, `@everyone` role).
const BOT_PERMISSIONS: u64 = VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS;

/// One HTTP request the fake received. `body`: parsed JSON; for multipart, the parsed
/// `payload_json` part plus `"_files": [{field, filename, content_type, size, text}]`;
/// `Null` when empty; a JSON string of the raw text otherwise.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query as sent, e.g. `/api/v10/interactions/1/tok-1/callback`.
    pub path: String,
    pub body: Value,
    pub at: Instant,
    /// The HTTP status the fake answered with.
    pub status: u16,
}

#[derive(Clone, Debug)]
pub struct FakeUser {
    pub id: u64,
    pub name: String,
    /// Computed member permissions bitfield, sent as `member.permissions`.
    pub permissions: u64,
    pub roles: Vec<u64>,
}

impl FakeUser {
    pub fn member(id: u64, name: &str) -> Self {
        let permissions = SEND_MESSAGES | VIEW_CHANNEL | USE_APPLICATION_COMMANDS;
        FakeUser {
            id,
            name: name.to_string(),
            permissions,
            roles: Vec::new(),
        }
    }
    pub fn moderator(id: u64, name: &str) -> Self {
        let mut u = Self::member(id, name);
        u.permissions |= MANAGE_MESSAGES;
        u
    }
    pub fn with_roles(mut self, roles: &[u64]) -> Self {
        self.roles = roles.to_vec();
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

/// A misbehaviour of Discord's REST API, injected with [`FakeDiscord::inject`].
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 Too Many Requests, with `retry_after` seconds in the header and the body.
    RateLimited { retry_after: f64 },
    /// 500 Internal Server Error; the request is not carried out.
    ServerError,
    /// The normal response, after this delay.
    Slow(Duration),
}

struct Injected {
    method: &'static str,
    path: String,
    fault: Fault,
    times: usize,
}

/// Sent through a gateway connection's queue: close it with code 4000 instead.
const CLOSE_FRAME: &str = "\u{0}close";

#[derive(Default)]
struct Inner {
    faults: Vec<Injected>,
    /// Nonces of enforced-nonce channel messages: (channel, nonce) -> the message.
    nonces: HashMap<(u64, String), Value>,
    requests: Vec<Recorded>,
    /// Roles added per guild: id, name, permissions (`GET /guilds/{g}` and `/roles`).
    roles: HashMap<u64, Vec<(u64, String, u64)>>,
    /// Each guild's owner (`GET /guilds/{g}`); [`NOBODY`] unless set.
    owners: HashMap<u64, u64>,
    files: HashMap<String, Vec<u8>>,
    /// The `d` of the last IDENTIFY, and whether READY was queued after it.
    identify: Option<Value>,
    ready_sent: bool,
    /// Every payload the bot sent over the gateway (heartbeats included).
    gateway_in: Vec<Value>,
    /// The live gateway connection: (connection number, outgoing text frames).
    gw: Option<(u64, UnboundedSender<String>)>,
    seq: u64,
    /// Per interaction token: channel id, and when INTERACTION_CREATE was dispatched.
    interactions: HashMap<String, (u64, Instant)>,
    /// Per component-interaction token: the message the button was on.
    component_msgs: HashMap<String, Value>,
    acked: HashSet<String>,
    /// Per token: the original response message (stable id).
    originals: HashMap<String, Value>,
    /// Messages created through followups / channel messages, by id (for GET and PATCH).
    messages: HashMap<u64, Value>,
    commands: HashMap<Option<u64>, Value>,
    /// The application's flags; `None`: Message Content intent on (below 100 servers).
    app_flags: Option<u64>,
    /// Members' posts per channel, oldest first (`GET /channels/{id}/messages`).
    history: HashMap<u64, Vec<Value>>,
    /// Members who posted, per (guild, user) (`GET /guilds/{g}/members/{u}`).
    members: HashMap<(u64, u64), FakeUser>,
    /// Threads by id (`GET /channels/{id}`), and threads opened on messages.
    channels: HashMap<u64, Value>,
    /// The guild of each channel posted in.
    channel_guild: HashMap<u64, u64>,
    /// Shards recommended by `GET /gateway/bot` (`None`: 1).
    shard_count: Option<u32>,
    /// The bot's guilds, listed in the READY of their shard.
    guilds: Vec<u64>,
    /// Per shard id: the connection that identified for it, its frames, and the total.
    shard_gws: HashMap<u32, (u64, UnboundedSender<String>, u32)>,
}

/// The shard of a guild, as Discord computes it.
pub fn shard_of(guild: u64, total: u32) -> u32 {
    ((guild >> 22) % u64::from(total.max(1))) as u32
}

/// Application flag bits (Discord's values): the Message Content intent switched on.
pub const GATEWAY_MESSAGE_CONTENT: u64 = 1 << 18;
pub const GATEWAY_MESSAGE_CONTENT_LIMITED: u64 = 1 << 19;
/// The MESSAGE_CONTENT gateway intent bit.
pub const MESSAGE_CONTENT_INTENT_BIT: u64 = 1 << 15;

struct Shared {
    base: String,
    inner: Mutex<Inner>,
}

pub struct FakeDiscord {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(1);
static CONN: AtomicU64 = AtomicU64::new(1);
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A fresh, globally unique snowflake whose embedded timestamp is "now".
pub fn next_id() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ((ms - DISCORD_EPOCH_MS) << 22) | (COUNTER.fetch_add(1, Ordering::Relaxed) & 0x3F_FFFF)
}

/// The current time as RFC 3339 with microseconds, as Discord writes it.
pub fn now_iso() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let (secs, micros) = (d.as_secs() as i64, d.subsec_micros());
    // Days-to-civil (H. Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let rem = secs.rem_euclid(86_400);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------------
// JSON builders for serenity models
// ---------------------------------------------------------------------------------------------

/// `User`: required `id`, `username`; the rest optional/defaulted. `discriminator: "0"` maps to
/// `None` (new-style usernames).
pub fn user_json(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(), "username": name, "discriminator": "0", "global_name": name,
        "avatar": null, "bot": bot, "system": false, "public_flags": 0, "flags": 0,
    })
}

pub fn bot_user_json() -> Value {
    // `CurrentUser` is `#[serde(transparent)]` over `User`.
    let mut u = user_json(BOT_USER_ID, BOT_NAME, true);
    u["verified"] = json!(true);
    u["mfa_enabled"] = json!(false);
    u
}

/// Guild `Member` (interactions): required `user`, `roles`, `deaf`, `mute`, `flags`; `joined_at`
/// etc. are `Option`. `permissions` is only sent by Discord inside interactions.
pub fn member_json(user: &FakeUser) -> Value {
    json!({
        "user": user_json(user.id, &user.name, false),
        "nick": null, "avatar": null, "banner": null,
        "roles": user.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false,
        "permissions": user.permissions.to_string(),
        "communication_disabled_until": null, "unusual_dm_activity_until": null,
    })
}

/// `Message`: required `id`, `channel_id`, `author`, `content`, `timestamp`, `tts`,
/// `mention_everyone`, `mentions`, `mention_roles`, `attachments`, `embeds`, `pinned`, `type`
/// (`edited_timestamp` and the other `Option`s may be null/absent).
fn message_json(id: u64, channel: u64, author: Value, content: &str, webhook: bool) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel.to_string(), "author": author,
        "content": content, "timestamp": now_iso(), "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "mention_channels": [], "attachments": [], "embeds": [], "reactions": [],
        "pinned": false, "type": 0, "flags": 0, "components": [], "sticker_items": [],
        "webhook_id": if webhook { Value::String(APP_ID.to_string()) } else { Value::Null },
        "application_id": if webhook { Value::String(APP_ID.to_string()) } else { Value::Null },
    })
}

/// `Role`: required `id`, `color`, `colors` (`RoleColours`, 0.12.5 has it non-optional),
/// `hoist`, `managed`, `name`, `permissions`, `position` (custom deserializer, so not optional).
/// The owner of a guild whose owner a test did not set: no test user.
pub const NOBODY: u64 = 1;

/// `PartialGuild` (`GET /guilds/{id}`): its required fields, an owner and roles.
fn guild_json(id: u64, owner: u64, roles: Vec<Value>) -> Value {
    json!({
        "id": id.to_string(), "name": "Test server", "icon": null, "icon_hash": null,
        "splash": null, "discovery_splash": null, "owner_id": owner.to_string(),
        "afk_channel_id": null, "afk_timeout": 300, "verification_level": 0,
        "default_message_notifications": 0, "explicit_content_filter": 0, "roles": roles,
        "emojis": [], "features": [], "mfa_level": 0, "application_id": null,
        "system_channel_id": null, "system_channel_flags": 0, "rules_channel_id": null,
        "vanity_url_code": null, "description": null, "banner": null, "premium_tier": 0,
        "preferred_locale": "en-US", "public_updates_channel_id": null, "nsfw_level": 0,
        "stickers": [], "premium_progress_bar_enabled": false, "safety_alerts_channel_id": null,
    })
}

fn role_json(id: u64, name: &str, position: u64, permissions: u64) -> Value {
    json!({
        "id": id.to_string(), "name": name, "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false, "managed": false, "mentionable": false, "icon": null,
        "unicode_emoji": null, "position": position, "permissions": permissions.to_string(),
        "flags": 0, "tags": {},
    })
}

/// The fields common to every guild interaction (`CommandInteraction` / `ComponentInteraction`):
/// `id`, `application_id`, `type`, `guild_id`, `channel` (`PartialChannel`: id, type, ...),
/// `channel_id`, `member`, `token`, `version`, `app_permissions`, `locale`, `guild_locale`,
/// `entitlements`, `authorizing_integration_owners` ({"0": guild}), `context` (0 = guild),
/// `attachment_size_limit` (required u32 in 0.12.5). `user` is left out: serenity copies it
/// from `member.user` (its `#[serde(default)]`).
fn interaction_base(kind: u8, guild: u64, channel: u64, user: &FakeUser) -> Value {
    let id = next_id();
    json!({
        "id": id.to_string(), "application_id": APP_ID.to_string(), "type": kind,
        "guild_id": guild.to_string(),
        "channel": {"id": channel.to_string(), "type": 0, "name": "general",
                    "guild_id": guild.to_string(), "permissions": BOT_PERMISSIONS.to_string(),
                    "parent_id": null},
        "channel_id": channel.to_string(),
        "member": member_json(user),
        "token": format!("tok-{id}"), "version": 1,
        "app_permissions": BOT_PERMISSIONS.to_string(),
        "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
        "authorizing_integration_owners": {"0": guild.to_string()},
        "context": 0, "attachment_size_limit": 26_214_400,
    })
}

/// INTERACTION_CREATE data for a slash command (type 2) in a guild. `options`: array of
/// `{name,type,value}` (or null); `resolved`: e.g. `{"attachments": {"<id>": attachment(..)}}`.
pub fn slash_command(
    name: &str,
    options: Value,
    resolved: Option<Value>,
    guild: u64,
    channel: u64,
    user: &FakeUser,
) -> Value {
    let mut v = interaction_base(2, guild, channel, user);
    let options = if options.is_null() {
        json!([])
    } else {
        options
    };
    // `CommandData`: required `id`, `name`, `type` (1 = chat input); `resolved`/`options` default.
    let mut data =
        json!({"id": next_id().to_string(), "name": name, "type": 1, "options": options});
    if let Some(r) = resolved {
        data["resolved"] = r;
    }
    v["data"] = data;
    v
}

/// INTERACTION_CREATE data for a button press (type 3, component_type 2) on `message`. Missing
/// `Message` fields are filled in, so a minimal `{"id": ..}` works as well as a full message.
pub fn button_press(
    custom_id: &str,
    message: &Value,
    guild: u64,
    channel: u64,
    user: &FakeUser,
) -> Value {
    let mut v = interaction_base(3, guild, channel, user);
    let id = message["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(next_id);
    let mut msg = message_json(id, channel, bot_user_json(), "", true);
    if let Some(obj) = message.as_object() {
        for (k, val) in obj {
            msg[k] = val.clone();
        }
    }
    v["message"] = msg;
    v["data"] = json!({"custom_id": custom_id, "component_type": 2});
    v
}

/// A resolved attachment (`Attachment`: required `id`, `filename`, `proxy_url`, `size` (u32!),
/// `url`; `content_type` optional).
pub fn attachment(id: u64, filename: &str, size: u64, url: &str, content_type: &str) -> Value {
    json!({
        "id": id.to_string(), "filename": filename, "size": size, "url": url, "proxy_url": url,
        "content_type": content_type, "height": null, "width": null, "ephemeral": false,
    })
}

/// MESSAGE_CREATE data in a guild channel from `user`, mentioning `mentions` (full users; the
/// bot's id gives the bot user). `member` is a `PartialMember` (requires `roles`).
pub fn message_create(
    content: &str,
    guild: u64,
    channel: u64,
    user: &FakeUser,
    mentions: &[u64],
) -> Value {
    let mut m = message_json(
        next_id(),
        channel,
        user_json(user.id, &user.name, false),
        content,
        false,
    );
    m["guild_id"] = json!(guild.to_string());
    let mut member = member_json(user);
    member.as_object_mut().unwrap().remove("user");
    member.as_object_mut().unwrap().remove("permissions");
    m["member"] = member;
    m["mentions"] = mentions
        .iter()
        .map(|&id| {
            if id == BOT_USER_ID {
                bot_user_json()
            } else {
                user_json(id, &format!("user{id}"), false)
            }
        })
        .collect();
    m
}

/// MESSAGE_CREATE data of a member's Discord reply to `to` (a message of the bot's):
/// `message_reference` and the whole `referenced_message`, as Discord sends them. A reply
/// pings its author unless the member turns that off: `ping` says whether it mentions the bot.
pub fn reply_to(to: &Value, content: &str, guild: u64, user: &FakeUser, ping: bool) -> Value {
    let channel: u64 = to["channel_id"].as_str().unwrap().parse().unwrap();
    let mentions: &[u64] = if ping { &[BOT_USER_ID] } else { &[] };
    let mut m = message_create(content, guild, channel, user, mentions);
    m["type"] = json!(19);
    m["message_reference"] = json!({
        "message_id": to["id"], "channel_id": to["channel_id"], "guild_id": guild.to_string()
    });
    m["referenced_message"] = to.clone();
    m
}

pub fn interaction_token(data: &Value) -> String {
    data["token"]
        .as_str()
        .expect("interaction without token")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------------------------

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake discord");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            base: format!("http://127.0.0.1:{port}"),
            inner: Mutex::default(),
        });
        let app = Router::new()
            .route("/gateway", get(gateway))
            .route("/attachments/:name", get(serve_attachment))
            .fallback(api)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake discord server");
        });
        FakeDiscord { shared, server }
    }

    pub fn api_base(&self) -> String {
        self.shared.base.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }

    pub fn add_role(&self, guild: u64, role_id: u64, name: &str) {
        self.add_role_with(guild, role_id, name, 0);
    }

    /// A role that grants `permissions` server-wide.
    pub fn add_role_with(&self, guild: u64, role_id: u64, name: &str, permissions: u64) {
        self.lock()
            .roles
            .entry(guild)
            .or_default()
            .push((role_id, name.to_string(), permissions));
    }

    /// Makes `user` the owner of `guild`.
    pub fn set_owner(&self, guild: u64, user: u64) {
        self.lock().owners.insert(guild, user);
    }

    /// Gives a text channel of `guild` these permission overwrites (`GET /channels/{id}`):
    /// each `(role or member id, 0 for a role or 1 for a member, allow, deny)`.
    pub fn set_overwrites(&self, guild: u64, channel: u64, overwrites: &[(u64, u8, u64, u64)]) {
        let overwrites: Vec<Value> = overwrites
            .iter()
            .map(|(id, kind, allow, deny)| {
                json!({"id": id.to_string(), "type": kind, "allow": allow.to_string(), "deny": deny.to_string()})
            })
            .collect();
        let mut inner = self.lock();
        inner.channels.insert(
            channel,
            json!({"id": channel.to_string(), "type": 0, "name": "news",
                   "guild_id": guild.to_string(), "permission_overwrites": overwrites}),
        );
        inner.channel_guild.insert(channel, guild);
    }

    pub fn serve_file(&self, name: &str, bytes: Vec<u8>) -> String {
        self.lock().files.insert(name.to_string(), bytes);
        format!("{}/attachments/{name}", self.shared.base)
    }

    pub async fn wait_ready(&self, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            {
                let inner = self.lock();
                if inner.ready_sent && inner.gw.is_some() {
                    return inner.identify.clone().unwrap();
                }
            }
            if start.elapsed() > timeout {
                panic!(
                    "fake discord: no IDENTIFY/READY within {timeout:?}; requests:\n{}",
                    self.dump()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Send an op 0 dispatch (next `s`) to the connected gateway client; waits up to 10 s for one.
    pub async fn dispatch(&self, event: &str, data: Value) {
        self.wait_ready(Duration::from_secs(10)).await;
        let mut inner = self.lock();
        if event == "INTERACTION_CREATE" {
            let token = interaction_token(&data);
            let channel = data["channel_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            inner
                .interactions
                .insert(token.clone(), (channel, Instant::now()));
            if !data["message"].is_null() {
                inner.component_msgs.insert(token, data["message"].clone());
            }
        }
        inner.seq += 1;
        let frame = json!({"op": 0, "s": inner.seq, "t": event, "d": data}).to_string();
        // A guild's events go to the connection of its shard, once the bot shards.
        let guild = data["guild_id"]
            .as_str()
            .and_then(|g| g.parse::<u64>().ok());
        let sharded = inner.shard_gws.values().any(|(_, _, total)| *total > 1);
        let tx = match (guild, sharded) {
            (Some(g), true) => {
                let total = inner.shard_gws.values().next().map_or(1, |(_, _, t)| *t);
                let (_, tx, _) = inner
                    .shard_gws
                    .get(&shard_of(g, total))
                    .unwrap_or_else(|| panic!("no connection runs the shard of guild {g}"));
                tx
            }
            _ => &inner.gw.as_ref().expect("no gateway connection").1,
        };
        tx.send(frame).expect("gateway connection closed");
    }

    /// Sets the shard count `GET /gateway/bot` recommends.
    pub fn set_shard_count(&self, shards: u32) {
        self.lock().shard_count = Some(shards);
    }

    /// Adds a guild the bot is in (listed in its shard's READY).
    pub fn add_guild(&self, guild: u64) {
        self.lock().guilds.push(guild);
    }

    /// Waits until a connection has identified for `shard` (of `total`); returns the guilds
    /// its READY listed.
    pub async fn wait_shard(&self, shard: u32, total: u32) -> Vec<u64> {
        let start = Instant::now();
        loop {
            {
                let inner = self.lock();
                if inner
                    .shard_gws
                    .get(&shard)
                    .is_some_and(|(_, _, t)| *t == total)
                {
                    return inner
                        .guilds
                        .iter()
                        .copied()
                        .filter(|&g| shard_of(g, total) == shard)
                        .collect();
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "fake discord: shard {shard}/{total} never identified:\n{}",
                self.dump()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sets the application's flags (0: its Message Content intent is off; Discord then
    /// closes a gateway connection that asks for it with 4014).
    pub fn set_app_flags(&self, flags: u64) {
        self.lock().app_flags = Some(flags);
    }

    /// Makes `thread` a thread of `parent` in `guild` (`GET /channels/{thread}`).
    pub fn add_thread(&self, guild: u64, thread: u64, parent: u64) {
        let mut inner = self.lock();
        inner
            .channels
            .insert(thread, thread_json(thread, parent, guild, "discussion"));
        inner.channel_guild.insert(thread, guild);
        inner.channel_guild.insert(parent, guild);
    }

    /// A member's post in a channel, kept in the channel's history; with the bot connected
    /// (`live`), dispatched as MESSAGE_CREATE. Returns the message.
    pub async fn post(
        &self,
        guild: u64,
        channel: u64,
        user: &FakeUser,
        content: &str,
        attachments: Vec<Value>,
        live: bool,
    ) -> Value {
        let mut m = message_create(content, guild, channel, user, &[]);
        m["attachments"] = Value::Array(attachments);
        {
            let mut inner = self.lock();
            inner.members.insert((guild, user.id), user.clone());
            inner.channel_guild.insert(channel, guild);
            let mut stored = m.clone();
            // The history has no member (as Discord's); the bot asks for it.
            stored.as_object_mut().unwrap().remove("member");
            inner.history.entry(channel).or_default().push(stored);
        }
        if live {
            self.dispatch("MESSAGE_CREATE", m.clone()).await;
        }
        m
    }

    /// The author edits a post: its content becomes `content` (MESSAGE_UPDATE, the whole
    /// message, as Discord sends it now).
    pub async fn edit_post(&self, message: &Value, content: &str) -> Value {
        let m = Self::edit_json(message, content);
        let mid = message["id"].as_str().unwrap().to_owned();
        let channel: u64 = message["channel_id"].as_str().unwrap().parse().unwrap();
        {
            let mut inner = self.lock();
            if let Some(h) = inner.history.get_mut(&channel) {
                for stored in h.iter_mut().filter(|s| s["id"] == json!(mid)) {
                    stored["content"] = json!(content);
                }
            }
        }
        self.dispatch("MESSAGE_UPDATE", m.clone()).await;
        m
    }

    /// The MESSAGE_UPDATE of an edit made now, not sent (a test sends it late with
    /// `dispatch`, as Discord's events may arrive out of order).
    pub fn edit_json(message: &Value, content: &str) -> Value {
        let mut m = message.clone();
        m["content"] = json!(content);
        m["edited_timestamp"] = json!(now_iso());
        m
    }

    /// The post is deleted (MESSAGE_DELETE).
    pub async fn delete_post(&self, message: &Value) {
        let mid = message["id"].clone();
        let channel: u64 = message["channel_id"].as_str().unwrap().parse().unwrap();
        if let Some(h) = self.lock().history.get_mut(&channel) {
            h.retain(|m| m["id"] != mid);
        }
        let data = json!({"id": mid, "channel_id": message["channel_id"], "guild_id": message["guild_id"]});
        self.dispatch("MESSAGE_DELETE", data).await;
    }

    /// The reactions the bot added to a message, in order.
    pub fn reactions(&self, message: &Value) -> Vec<String> {
        let mid = message["id"].as_str().unwrap();
        self.requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.status < 300)
            .filter_map(|r| {
                let rest = r
                    .path
                    .split(&format!("/messages/{mid}/reactions/"))
                    .nth(1)?;
                Some(percent_decode(rest.trim_end_matches("/@me")))
            })
            .collect()
    }

    /// The original response of the interaction `token`, as the fake holds it (its id is the
    /// message a member replies to, or opens a thread on).
    pub fn original(&self, token: &str) -> Value {
        self.lock()
            .originals
            .get(token)
            .cloned()
            .unwrap_or_else(|| panic!("no original response for {token}"))
    }

    /// The messages the bot posted in a channel (or thread), oldest first.
    pub fn posted_in(&self, channel: u64) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| {
                r.method == "POST"
                    && r.status < 300
                    && r.path == format!("/api/v10/channels/{channel}/messages")
            })
            .map(|r| r.body.clone())
            .collect()
    }

    /// Threads the bot opened, as (parent channel, thread json).
    pub fn threads_opened(&self) -> Vec<Value> {
        let inner = self.lock();
        inner
            .channels
            .values()
            .filter(|c| c["name"] != json!("discussion"))
            .cloned()
            .collect()
    }

    /// The next `times` requests whose method is `method` and whose path contains `path` get
    /// `fault` instead of (or, for `Slow`, before) their normal response.
    pub fn inject(&self, method: &'static str, path: &str, fault: Fault, times: usize) {
        self.lock().faults.push(Injected {
            method,
            path: path.to_owned(),
            fault,
            times,
        });
    }

    /// Closes the live gateway connection with code 4000, as Discord does on its side's
    /// errors: the client reconnects and resumes its session.
    pub fn drop_gateway(&self) {
        let inner = self.lock();
        let (_, tx) = inner.gw.as_ref().expect("no gateway connection");
        tx.send(CLOSE_FRAME.to_owned())
            .expect("gateway connection closed");
    }

    /// Sends an invalid session (op 9, not resumable): the client must identify again.
    pub fn invalidate_session(&self) {
        let inner = self.lock();
        let (_, tx) = inner.gw.as_ref().expect("no gateway connection");
        tx.send(json!({"op": 9, "s": null, "t": null, "d": false}).to_string())
            .expect("gateway connection closed");
    }

    /// How many RESUMEs the gateway has received.
    pub fn resume_count(&self) -> usize {
        self.lock()
            .gateway_in
            .iter()
            .filter(|v| v["op"] == 6)
            .count()
    }

    /// How many IDENTIFYs the gateway has received (one per session started).
    pub fn identify_count(&self) -> usize {
        self.lock()
            .gateway_in
            .iter()
            .filter(|v| v["op"] == 2)
            .count()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    fn dump(&self) -> String {
        let mut out = String::new();
        for r in self.requests() {
            let mut body = r.body.to_string();
            if body.len() > 600 {
                body = format!("{}…", body.chars().take(600).collect::<String>());
            }
            out += &format!("  {} {} -> {} {}\n", r.method, r.path, r.status, body);
        }
        out
    }

    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Recorded {
        self.wait_for_count(what, timeout, 1, pred).await.remove(0)
    }

    pub async fn wait_for_count(
        &self,
        what: &str,
        timeout: Duration,
        n: usize,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Vec<Recorded> {
        let start = Instant::now();
        loop {
            let found: Vec<Recorded> = self
                .lock()
                .requests
                .iter()
                .filter(|r| pred(r))
                .cloned()
                .collect();
            if found.len() >= n {
                return found.into_iter().take(n).collect();
            }
            if start.elapsed() > timeout {
                panic!(
                    "fake discord: timed out after {timeout:?} waiting for {n} x {what} (saw {}); requests:\n{}",
                    found.len(),
                    self.dump()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway: HELLO -> IDENTIFY -> READY, heartbeats acked, RESUME answered with RESUMED
// ---------------------------------------------------------------------------------------------

/// The heartbeat interval sent in HELLO (Discord's is about 41 s).
const HEARTBEAT_MS: u64 = 45_000;

async fn gateway(ws: WebSocketUpgrade, State(s): State<Arc<Shared>>) -> Response {
    ws.on_upgrade(move |socket| run_gateway(s, socket))
}

async fn run_gateway(s: Arc<Shared>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let conn = CONN.fetch_add(1, Ordering::Relaxed);
    {
        let mut inner = s.inner.lock().unwrap();
        inner.gw = Some((conn, tx.clone()));
        inner.ready_sent = false; // until this connection's READY / RESUMED
    }
    // All frames go through `tx`, so replies and test dispatches keep their order.
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if let Some(rest) = text.strip_prefix(CLOSE_FRAME) {
                let code = rest.trim_start_matches(':').parse().unwrap_or(4000);
                let frame = axum::extract::ws::CloseFrame {
                    code,
                    reason: match code {
                        4014 => "Disallowed intent(s).".into(),
                        _ => "fake: dropped".into(),
                    },
                };
                let _ = sink.send(WsMessage::Close(Some(frame))).await;
                break;
            }
            if sink.send(WsMessage::Text(text)).await.is_err() {
                break;
            }
        }
    });
    let hello = json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": HEARTBEAT_MS}});
    let _ = tx.send(hello.to_string());

    while let Some(Ok(msg)) = stream.next().await {
        let text = match msg {
            WsMessage::Text(t) => t,
            WsMessage::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            WsMessage::Close(_) => break,
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let mut inner = s.inner.lock().unwrap();
        inner.gateway_in.push(v.clone());
        match v["op"].as_u64() {
            // Heartbeat -> HEARTBEAT_ACK.
            Some(1) => {
                let _ = tx.send(json!({"op": 11, "s": null, "t": null, "d": null}).to_string());
            }
            // IDENTIFY -> READY (`Ready`: v, user, guilds, session_id, resume_gateway_url,
            // shard [id, total], application {id, flags}). The application id is what serenity
            // stores as the Http's application id, used in webhook routes.
            Some(2) => {
                let d = v["d"].clone();
                // Discord refuses a privileged intent the application has not switched on.
                let flags = inner.app_flags.unwrap_or(GATEWAY_MESSAGE_CONTENT_LIMITED);
                let wants_content =
                    d["intents"].as_u64().unwrap_or(0) & MESSAGE_CONTENT_INTENT_BIT != 0;
                if wants_content
                    && flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED) == 0
                {
                    inner.identify = Some(d);
                    let _ = tx.send(format!("{CLOSE_FRAME}:4014"));
                    continue;
                }
                let shard = if d["shard"].is_array() {
                    d["shard"].clone()
                } else {
                    json!([0, 1])
                };
                inner.identify = Some(d);
                inner.seq = 1;
                let (id, total) = (
                    shard[0].as_u64().unwrap_or(0) as u32,
                    shard[1].as_u64().unwrap_or(1) as u32,
                );
                inner.shard_gws.insert(id, (conn, tx.clone(), total));
                let guilds: Vec<Value> = inner
                    .guilds
                    .iter()
                    .filter(|&&g| shard_of(g, total) == id)
                    .map(|g| json!({"id": g.to_string(), "unavailable": true}))
                    .collect();
                let ready = json!({
                    "v": 10, "user": bot_user_json(), "guilds": guilds,
                    "session_id": format!("fake-session-{conn}"),
                    "resume_gateway_url": format!("{}/gateway", s.base.replacen("http", "ws", 1)),
                    "shard": shard, "application": {"id": APP_ID.to_string(), "flags": flags},
                });
                let _ = tx.send(json!({"op": 0, "s": 1, "t": "READY", "d": ready}).to_string());
                inner.ready_sent = true;
            }
            // RESUME -> RESUMED (`ResumedEvent` is an empty struct).
            Some(6) => {
                inner.seq += 1;
                let _ =
                    tx.send(json!({"op": 0, "s": inner.seq, "t": "RESUMED", "d": {}}).to_string());
                inner.ready_sent = true;
            }
            _ => {}
        }
    }
    let mut inner = s.inner.lock().unwrap();
    if inner.gw.as_ref().map(|(c, _)| *c) == Some(conn) {
        inner.gw = None;
    }
    inner.shard_gws.retain(|_, (c, _, _)| *c != conn);
    drop(inner);
    writer.abort();
}

// ---------------------------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------------------------

async fn serve_attachment(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let file = s.inner.lock().unwrap().files.get(&name).cloned();
    let status = if file.is_some() { 200 } else { 404 };
    s.inner.lock().unwrap().requests.push(Recorded {
        method: "GET".into(),
        path: format!("/attachments/{name}"),
        body: Value::Null,
        at: Instant::now(),
        status,
    });
    let content_type = if name.ends_with(".html") {
        "text/html; charset=utf-8"
    } else if name.ends_with(".txt") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    match file {
        Some(bytes) => ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn api(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (json_body, files) = parse_body(&ctype, &body);
    let fault = {
        let mut inner = s.inner.lock().unwrap();
        inner
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method.as_str() && uri.path().contains(&f.path))
            .map(|f| {
                f.times -= 1;
                f.fault.clone()
            })
    };
    let mut headers_out: Vec<(&'static str, String)> = Vec::new();
    let (status, resp) = match fault {
        Some(Fault::RateLimited { retry_after }) => {
            for (k, v) in [
                ("retry-after", retry_after.to_string()),
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset-after", retry_after.to_string()),
            ] {
                headers_out.push((k, v));
            }
            (
                429,
                Some(
                    json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false}),
                ),
            )
        }
        Some(Fault::ServerError) => (
            500,
            Some(json!({"message": "500: Internal Server Error", "code": 0})),
        ),
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            s.route(
                method.as_str(),
                uri.path(),
                uri.query().unwrap_or(""),
                &json_body,
                &files,
            )
        }
        None => s.route(
            method.as_str(),
            uri.path(),
            uri.query().unwrap_or(""),
            &json_body,
            &files,
        ),
    };
    let mut recorded = json_body;
    if !files.is_empty() {
        let listed: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({"field": f.field, "filename": f.filename, "content_type": f.content_type,
                            "size": f.bytes.len(), "text": String::from_utf8(f.bytes.clone()).ok()})
            })
            .collect();
        if !recorded.is_object() {
            recorded = json!({});
        }
        recorded["_files"] = Value::Array(listed);
    }
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    s.inner.lock().unwrap().requests.push(Recorded {
        method: method.to_string(),
        path,
        body: recorded,
        at,
        status,
    });
    let code = StatusCode::from_u16(status).unwrap();
    let mut response = match resp {
        Some(v) => (code, axum::Json(v)).into_response(),
        None => code.into_response(),
    };
    for (k, v) in headers_out {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

/// A file part of a multipart body.
struct FilePart {
    field: String,
    filename: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// JSON -> parsed; multipart -> the `payload_json` part parsed, plus the file parts (serenity
/// names them `files[N]`, or `file`); empty -> Null; anything else -> raw text as a JSON string.
fn parse_body(ctype: &str, body: &[u8]) -> (Value, Vec<FilePart>) {
    if body.is_empty() {
        return (Value::Null, vec![]);
    }
    let Some(boundary) = ctype
        .split("boundary=")
        .nth(1)
        .filter(|_| ctype.starts_with("multipart/"))
    else {
        let text = String::from_utf8_lossy(body);
        return (
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned())),
            vec![],
        );
    };
    let delim = format!("--{}", boundary.trim_matches('"'));
    let (mut payload, mut files) = (Value::Null, Vec::new());
    for part in split_bytes(body, delim.as_bytes()) {
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(hdr_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..hdr_end]).to_string();
        let content = &part[hdr_end + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let header = |name: &str| {
            headers.lines().find_map(|l| {
                l.get(..name.len())
                    .filter(|h| h.eq_ignore_ascii_case(name))
                    .map(|_| l[name.len()..].trim().to_string())
            })
        };
        let disposition = header("content-disposition:").unwrap_or_default();
        let param = |key: &str| {
            disposition.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix(key)
                    .map(|v| v.trim_matches('"').to_string())
            })
        };
        let field = param("name=").unwrap_or_default();
        let content_type = header("content-type:").unwrap_or_default();
        if field == "payload_json" {
            payload = serde_json::from_slice(content).unwrap_or(Value::Null);
        } else if let Some(filename) = param("filename=") {
            files.push(FilePart {
                field,
                filename,
                content_type,
                bytes: content.to_vec(),
            });
        }
    }
    (payload, files)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(mut hay: &'a [u8], delim: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(hay, delim) {
        out.push(&hay[..i]);
        hay = &hay[i + delim.len()..];
    }
    out.push(hay);
    out
}

/// A numeric query parameter (`after=123&limit=100`).
fn query_param(query: &str, name: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// A thread (`GuildChannel`, type 11) of `parent`.
fn thread_json(id: u64, parent: u64, guild: u64, name: &str) -> Value {
    json!({"id": id.to_string(), "type": 11, "name": name, "guild_id": guild.to_string(),
           "parent_id": parent.to_string(),
           "thread_metadata": {"archived": false, "auto_archive_duration": 1440,
                               "archive_timestamp": now_iso(), "locked": false}})
}

/// Decodes `%E2%9C%85` into "✅".
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn error(status: u16, code: u64, message: &str) -> (u16, Option<Value>) {
    (status, Some(json!({"message": message, "code": code})))
}

/// Discord's length/count limits on messages: a string's chars or an array's items, at a path
/// where `*` means every element of an array.
const LIMITS: &[(&str, usize)] = &[
    ("content", 2000),
    ("embeds", 10),
    ("embeds.*.title", 256),
    ("embeds.*.description", 4096),
    ("embeds.*.footer.text", 2048),
    ("embeds.*.author.name", 256),
    ("embeds.*.fields", 25),
    ("embeds.*.fields.*.name", 256),
    ("embeds.*.fields.*.value", 1024),
    ("components", 5),
    ("components.*.components", 5),
    ("components.*.components.*.custom_id", 100),
    ("components.*.components.*.label", 80),
];

fn over_limit(v: &Value, segs: &[&str], path: String, max: usize, errs: &mut Vec<(String, usize)>) {
    match segs.split_first() {
        None => {
            let len = v
                .as_str()
                .map(|s| s.chars().count())
                .or(v.as_array().map(Vec::len));
            if len.unwrap_or(0) > max {
                errs.push((path, max));
            }
        }
        Some((&"*", rest)) => {
            for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                over_limit(item, rest, format!("{path}.{i}"), max, errs);
            }
        }
        Some((key, rest)) => {
            let path = if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            };
            over_limit(&v[*key], rest, path, max, errs);
        }
    }
}

/// 400 Invalid Form Body (50035, with Discord's nested `errors` tree) when over a limit;
/// 400 Cannot send an empty message (50006) when creating a message with nothing in it.
fn validate_message(body: &Value, creating: bool, has_files: bool) -> Option<(u16, Option<Value>)> {
    let mut errs = Vec::new();
    for (path, max) in LIMITS {
        let segs: Vec<&str> = path.split('.').collect();
        over_limit(body, &segs, String::new(), *max, &mut errs);
    }
    if !errs.is_empty() {
        let mut tree = json!({});
        for (path, max) in errs {
            let mut node = &mut tree;
            for seg in path.split('.') {
                node = node
                    .as_object_mut()
                    .unwrap()
                    .entry(seg)
                    .or_insert_with(|| json!({}));
            }
            let message = format!("Must be {max} or fewer in length.");
            node["_errors"] = json!([{"code": "BASE_TYPE_MAX_LENGTH", "message": message}]);
        }
        let err = json!({"message": "Invalid Form Body", "code": 50035, "errors": tree});
        return Some((400, Some(err)));
    }
    let nonempty = |k: &&str| match &body[*k] {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        v => !v.is_null(),
    };
    let keys = ["content", "embeds", "components", "sticker_ids", "poll"];
    if creating && !has_files && !keys.iter().any(nonempty) {
        return Some(error(400, 50006, "Cannot send an empty message"));
    }
    None
}

impl Shared {
    /// Apply a message create/edit body to `msg` (Discord edit semantics: absent keys are kept).
    fn apply(&self, msg: &mut Value, body: &Value, files: &[FilePart], edit: bool) {
        if let Some(c) = body.get("content") {
            msg["content"] = json!(c.as_str().unwrap_or(""));
        }
        if let Some(e) = body.get("embeds") {
            msg["embeds"] = if e.is_array() { e.clone() } else { json!([]) };
        }
        if let Some(f) = body.get("flags").and_then(Value::as_u64) {
            msg["flags"] = json!(f);
        }
        if !files.is_empty() {
            let mut inner = self.inner.lock().unwrap();
            let list: Vec<Value> = files
                .iter()
                .map(|f| {
                    let id = next_id();
                    let name = format!("up-{id}-{}", f.filename);
                    inner.files.insert(name.clone(), f.bytes.clone());
                    let url = format!("{}/attachments/{name}", self.base);
                    attachment(id, &f.filename, f.bytes.len() as u64, &url, &f.content_type)
                })
                .collect();
            msg["attachments"] = Value::Array(list);
        } else if body
            .get("attachments")
            .is_some_and(|a| a.as_array().is_some_and(Vec::is_empty))
        {
            msg["attachments"] = json!([]);
        }
        // Components are recorded in the request but answered as [] (see module docs).
        msg["components"] = json!([]);
        if edit {
            msg["edited_timestamp"] = json!(now_iso());
        }
    }

    fn new_message(&self, channel: u64, body: &Value, files: &[FilePart], webhook: bool) -> Value {
        let id = next_id();
        let mut msg = message_json(id, channel, bot_user_json(), "", webhook);
        self.apply(&mut msg, body, files, false);
        self.inner.lock().unwrap().messages.insert(id, msg.clone());
        msg
    }

    fn channel_of(&self, token: &str) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .interactions
            .get(token)
            .map_or(1, |(c, _)| *c)
    }

    /// Edit (or create, with `body`) the original response of `token`; its id is stable.
    fn edit_original(&self, token: &str, body: &Value, files: &[FilePart], edit: bool) -> Value {
        let existing = self.inner.lock().unwrap().originals.get(token).cloned();
        let mut msg = existing.unwrap_or_else(|| {
            message_json(next_id(), self.channel_of(token), bot_user_json(), "", true)
        });
        self.apply(&mut msg, body, files, edit);
        self.inner
            .lock()
            .unwrap()
            .originals
            .insert(token.to_string(), msg.clone());
        msg
    }

    fn acked(&self, token: &str) -> bool {
        self.inner.lock().unwrap().acked.contains(token)
    }

    fn route(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &Value,
        files: &[FilePart],
    ) -> (u16, Option<Value>) {
        let Some(rest) = path.strip_prefix("/api/v10/") else {
            return error(404, 0, "Unknown route");
        };
        let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let id = |s: &str| s.parse::<u64>().unwrap_or(0);
        let app_ok = |s: &str| s == APP_ID.to_string();
        let unknown_webhook = || error(404, 10015, "Unknown Webhook");
        match (method, segs.as_slice()) {
            ("GET", ["gateway"]) => (
                200,
                Some(json!({"url": format!("{}/gateway", self.base.replacen("http", "ws", 1))})),
            ),
            ("GET", ["gateway", "bot"]) => (
                200,
                Some(json!({
                    "url": format!("{}/gateway", self.base.replacen("http", "ws", 1)),
                    "shards": self.inner.lock().unwrap().shard_count.unwrap_or(1),
                    "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
                })),
            ),
            ("GET", ["users", "@me"]) => (200, Some(bot_user_json())),
            // `CurrentApplicationInfo`: required id, name, description, bot_public,
            // bot_require_code_grant, verify_key (+ owner, flags).
            ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]) => (
                200,
                Some(json!({
                    "id": APP_ID.to_string(), "name": BOT_NAME, "icon": null, "description": "",
                    "bot_public": false, "bot_require_code_grant": false, "verify_key": "00",
                    "owner": user_json(1, "owner", false), "team": null,
                    "flags": self.app_flags(), "bot": bot_user_json(),
                })),
            ),
            // Interaction callback: 204 without body (serenity `wind(204)`).
            ("POST", ["interactions", _iid, token, "callback"]) => {
                let token = token.to_string();
                let already = self.inner.lock().unwrap().acked.contains(&token);
                if already {
                    return error(400, 40060, "Interaction has already been acknowledged.");
                }
                let data = body["data"].clone();
                let kind = body["type"].as_u64().unwrap_or(0);
                if matches!(kind, 4 | 7) {
                    if let Some(e) = validate_message(&data, kind == 4, !files.is_empty()) {
                        return e;
                    }
                }
                match kind {
                    4 => {
                        self.edit_original(&token, &data, files, false);
                    }
                    5 => {
                        // Deferred: a "thinking" message (LOADING 128, plus e.g. EPHEMERAL 64).
                        let flags = data["flags"].as_u64().unwrap_or(0) | 128;
                        self.edit_original(
                            &token,
                            &json!({"content": "", "flags": flags}),
                            &[],
                            false,
                        );
                    }
                    6 | 7 => {
                        // The original of a component interaction is the message it was on.
                        let mut inner = self.inner.lock().unwrap();
                        if let Some(m) = inner.component_msgs.get(&token).cloned() {
                            inner.originals.entry(token.clone()).or_insert(m);
                        }
                        drop(inner);
                        if kind == 7 {
                            self.edit_original(&token, &data, files, true);
                        }
                    }
                    _ => {}
                }
                self.inner.lock().unwrap().acked.insert(token);
                (204, None)
            }
            (m, ["webhooks", app, token, "messages", "@original"]) => {
                if !app_ok(app) || !self.acked(token) {
                    return unknown_webhook();
                }
                match m {
                    "GET" => {
                        let original = self.inner.lock().unwrap().originals.get(*token).cloned();
                        (
                            200,
                            Some(original.unwrap_or_else(|| {
                                self.edit_original(token, &json!({}), &[], false)
                            })),
                        )
                    }
                    "PATCH" => {
                        if let Some(e) = validate_message(body, false, !files.is_empty()) {
                            return e;
                        }
                        let mut msg = self.edit_original(token, body, files, true);
                        // The "thinking" flag goes once the deferred response is edited.
                        let flags = msg["flags"].as_u64().unwrap_or(0) & !128;
                        msg["flags"] = json!(flags);
                        self.inner
                            .lock()
                            .unwrap()
                            .originals
                            .insert(token.to_string(), msg.clone());
                        (200, Some(msg))
                    }
                    "DELETE" => {
                        self.inner.lock().unwrap().originals.remove(*token);
                        (204, None)
                    }
                    _ => error(404, 0, "Unknown route"),
                }
            }
            ("POST", ["webhooks", app, token]) => {
                if !app_ok(app) || !self.acked(token) {
                    return unknown_webhook();
                }
                if let Some(e) = validate_message(body, true, !files.is_empty()) {
                    return e;
                }
                (
                    200,
                    Some(self.new_message(self.channel_of(token), body, files, true)),
                )
            }
            (m, ["webhooks", app, token, "messages", mid]) => {
                if !app_ok(app) || !self.acked(token) {
                    return unknown_webhook();
                }
                self.message_by_id(m, self.channel_of(token), id(mid), body, files, true)
            }
            (m, ["channels", channel, "messages", mid]) => {
                self.message_by_id(m, id(channel), id(mid), body, files, false)
            }
            ("POST", ["channels", channel, "messages"]) => {
                if let Some(e) = validate_message(body, true, !files.is_empty()) {
                    return e;
                }
                let nonce = body["nonce"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| body["nonce"].as_u64().map(|n| n.to_string()))
                    .filter(|_| body["enforce_nonce"] == json!(true))
                    .map(|n| (id(channel), n));
                if let Some(key) = &nonce {
                    if let Some(m) = self.inner.lock().unwrap().nonces.get(key) {
                        return (200, Some(m.clone()));
                    }
                }
                let m = self.new_message(id(channel), body, files, false);
                if let Some(key) = nonce {
                    self.inner.lock().unwrap().nonces.insert(key, m.clone());
                }
                (200, Some(m))
            }
            ("GET", ["channels", channel, "messages"]) => {
                let after = query_param(query, "after").unwrap_or(0);
                let limit = query_param(query, "limit").unwrap_or(50).min(100) as usize;
                let inner = self.inner.lock().unwrap();
                let mut page: Vec<Value> = inner
                    .history
                    .get(&id(channel))
                    .map(|h| {
                        h.iter()
                            .filter(|m| id(m["id"].as_str().unwrap_or("0")) > after)
                            .take(limit)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                // Discord lists the newest first.
                page.reverse();
                (200, Some(Value::Array(page)))
            }
            ("POST", ["channels", channel, "messages", mid, "threads"]) => {
                let thread = next_id();
                let parent = id(channel);
                let guild = self.guild_of_channel(parent);
                let json = thread_json(thread, parent, guild, body["name"].as_str().unwrap_or(""));
                self.inner
                    .lock()
                    .unwrap()
                    .channels
                    .insert(thread, json.clone());
                let _ = mid;
                (201, Some(json))
            }
            ("GET", ["channels", channel]) => {
                let c = id(channel);
                let known = self.inner.lock().unwrap().channels.get(&c).cloned();
                (
                    200,
                    Some(known.unwrap_or_else(|| {
                        json!({"id": c.to_string(), "type": 0, "name": "general",
                               "guild_id": self.guild_of_channel(c).to_string()})
                    })),
                )
            }
            ("GET", ["guilds", g, "members", u]) => {
                let member = self
                    .inner
                    .lock()
                    .unwrap()
                    .members
                    .get(&(id(g), id(u)))
                    .cloned();
                match member {
                    Some(m) => {
                        let mut v = member_json(&m);
                        v.as_object_mut().unwrap().remove("permissions");
                        (200, Some(v))
                    }
                    None => error(404, 10007, "Unknown Member"),
                }
            }
            ("POST", ["channels", _, "typing"]) => (204, None),
            ("PUT" | "DELETE", ["channels", _, "messages", _, "reactions", ..]) => (204, None),
            ("PUT", ["applications", app, "commands"]) if app_ok(app) => {
                self.put_commands(None, body)
            }
            ("PUT", ["applications", app, "guilds", g, "commands"]) if app_ok(app) => {
                self.put_commands(Some(id(g)), body)
            }
            ("GET", ["applications", app, "commands"]) if app_ok(app) => {
                (200, Some(self.commands(None)))
            }
            ("GET", ["applications", app, "guilds", g, "commands"]) if app_ok(app) => {
                (200, Some(self.commands(Some(id(g)))))
            }
            ("POST", ["applications", app, "commands"]) if app_ok(app) => {
                (200, Some(command_json(body, None, next_id())))
            }
            // Roles of a guild: `@everyone` (id = guild id, as Discord does) + those added.
            ("GET", ["guilds", g, "roles"]) => (200, Some(Value::Array(self.roles_of(id(g))))),
            ("GET", ["guilds", g]) => {
                let g = id(g);
                let owner = self
                    .inner
                    .lock()
                    .unwrap()
                    .owners
                    .get(&g)
                    .copied()
                    .unwrap_or(NOBODY);
                (200, Some(guild_json(g, owner, self.roles_of(g))))
            }
            _ => error(404, 0, "Unknown route"),
        }
    }

    /// A guild's roles: @everyone, then those added.
    fn roles_of(&self, g: u64) -> Vec<Value> {
        let added = self
            .inner
            .lock()
            .unwrap()
            .roles
            .get(&g)
            .cloned()
            .unwrap_or_default();
        let mut roles = vec![role_json(g, "@everyone", 0, BOT_PERMISSIONS)];
        for (i, (rid, name, permissions)) in added.iter().enumerate() {
            roles.push(role_json(*rid, name, i as u64 + 1, *permissions));
        }
        roles
    }

    fn app_flags(&self) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .app_flags
            .unwrap_or(GATEWAY_MESSAGE_CONTENT_LIMITED)
    }

    fn guild_of_channel(&self, channel: u64) -> u64 {
        let inner = self.inner.lock().unwrap();
        inner.channel_guild.get(&channel).copied().unwrap_or(1)
    }

    /// GET / PATCH / DELETE of a followup or channel message by id (unknown ids are made up).
    fn message_by_id(
        &self,
        m: &str,
        channel: u64,
        mid: u64,
        body: &Value,
        files: &[FilePart],
        webhook: bool,
    ) -> (u16, Option<Value>) {
        let existing = self.inner.lock().unwrap().messages.get(&mid).cloned();
        let mut msg = existing
            .unwrap_or_else(|| message_json(mid.max(1), channel, bot_user_json(), "", webhook));
        match m {
            "GET" => (200, Some(msg)),
            "PATCH" => {
                if let Some(e) = validate_message(body, false, !files.is_empty()) {
                    return e;
                }
                self.apply(&mut msg, body, files, true);
                self.inner.lock().unwrap().messages.insert(mid, msg.clone());
                (200, Some(msg))
            }
            "DELETE" => {
                self.inner.lock().unwrap().messages.remove(&mid);
                (204, None)
            }
            _ => error(404, 0, "Unknown route"),
        }
    }

    /// Bulk overwrite: echo the list as `Command`s (required: id, type, application_id, name,
    /// description, version).
    /// The commands registered globally (`None`) or in a guild; `[]` when none were.
    fn commands(&self, guild: Option<u64>) -> Value {
        let inner = self.inner.lock().unwrap();
        inner.commands.get(&guild).cloned().unwrap_or(json!([]))
    }

    fn put_commands(&self, guild: Option<u64>, body: &Value) -> (u16, Option<Value>) {
        let Some(list) = body.as_array() else {
            return error(400, 50035, "Invalid Form Body");
        };
        let mut inner = self.inner.lock().unwrap();
        // Like Discord, a command keeps its id when re-registered under the same name.
        let prev = inner.commands.get(&guild).cloned().unwrap_or(json!([]));
        let id_of = |name: &Value| {
            let old = prev
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == *name);
            old.and_then(|p| p["id"].as_str()?.parse().ok())
                .unwrap_or_else(next_id)
        };
        let out: Vec<Value> = list
            .iter()
            .map(|c| command_json(c, guild, id_of(&c["name"])))
            .collect();
        inner.commands.insert(guild, Value::Array(out.clone()));
        (200, Some(Value::Array(out)))
    }
}

/// A `Command` (required: id, type, application_id, name, description, version) from the
/// request's command object.
fn command_json(c: &Value, guild: Option<u64>, id: u64) -> Value {
    let mut cmd = if c.is_object() { c.clone() } else { json!({}) };
    cmd["id"] = json!(id.to_string());
    cmd["application_id"] = json!(APP_ID.to_string());
    cmd["version"] = json!(next_id().to_string());
    cmd["guild_id"] = guild.map_or(Value::Null, |g| json!(g.to_string()));
    for (k, default) in [
        ("type", json!(1)),
        ("description", json!("")),
        ("options", json!([])),
        ("default_member_permissions", Value::Null),
        ("nsfw", json!(false)),
    ] {
        if cmd.get(k).is_none_or(Value::is_null) {
            cmd[k] = default;
        }
    }
    if cmd.get("dm_permission").is_none() {
        cmd["dm_permission"] = json!(true);
    }
    cmd
}
