//! Every reply goes out through here: a server error (5xx) or a dropped connection is retried
//! a few times with a short backoff, so that one bad response from Discord does not leave a
//! member with silence. Against discord.com, serenity's rate limiter waits out 429s itself
//! (`retry-after`); through a proxy (`[discord] api_base`) it is off, and a 429 that reaches
//! us is retried here like a 5xx. Other client errors (4xx) are not retried, except that a
//! retried acknowledgement Discord already took counts as done.

use std::future::Future;
use std::time::Duration;

use serenity::all::{
    ChannelId, CommandInteraction, ComponentInteraction, Context, CreateInteractionResponse, Http,
    Message, MessageId, Nonce, ReactionType,
};
use serenity::http::HttpError;

use super::{to_edit, to_message, to_response};
use crate::render::View;

/// Waits before each retry: about 3.75 s in all, within Discord's 3-second acknowledgement
/// window for the first tries and far within the 15 minutes a deferred reply may be edited.
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// "Interaction has already been acknowledged": a retried acknowledgement whose first try
/// reached Discord though its response did not reach us.
const ALREADY_ACKNOWLEDGED: isize = 40060;

fn retryable(e: &serenity::Error) -> bool {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            r.status_code.is_server_error() || r.status_code.as_u16() == 429
        }
        serenity::Error::Http(HttpError::Request(_)) => true,
        _ => false,
    }
}

fn already_acknowledged(e: &serenity::Error) -> bool {
    matches!(e, serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) if r.error.code == ALREADY_ACKNOWLEDGED)
}

/// Runs `send` until it succeeds, fails for good, or the backoff is spent.
async fn with_retries<T, F, Fut>(what: &str, mut send: F) -> serenity::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = serenity::Result<T>>,
{
    let mut waits = BACKOFF.iter();
    loop {
        match send().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) => match waits.next() {
                Some(wait) => {
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "Discord failed to take {what}; retrying");
                    tokio::time::sleep(*wait).await;
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

/// An acknowledgement (`defer`): retried; one that Discord already took is done.
async fn acknowledge<F, Fut>(what: &str, mut send: F) -> serenity::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = serenity::Result<()>>,
{
    let mut first = true;
    with_retries(what, || {
        let retry = !std::mem::replace(&mut first, false);
        let sent = send();
        async move {
            match sent.await {
                Err(e) if retry && already_acknowledged(&e) => Ok(()),
                other => other,
            }
        }
    })
    .await
}

/// Acknowledges a command now, to reply later (a visible "thinking…" or an ephemeral one).
pub(super) async fn defer(ctx: &Context, cmd: &CommandInteraction, ephemeral: bool) -> bool {
    let sent = acknowledge("an acknowledgement", || async {
        match ephemeral {
            true => cmd.defer_ephemeral(&ctx.http).await,
            false => cmd.defer(&ctx.http).await,
        }
    })
    .await;
    if let Err(e) = &sent {
        tracing::warn!(command = %cmd.data.name, error = %e, "could not acknowledge a command");
    }
    sent.is_ok()
}

pub(super) async fn respond(ctx: &Context, cmd: &CommandInteraction, view: View) {
    let sent = acknowledge("a reply", || {
        let r = CreateInteractionResponse::Message(to_response(view.clone()));
        async move { cmd.create_response(&ctx.http, r).await }
    })
    .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not respond to a command");
    }
}

/// Edits a deferred reply into `view`; returns the message, once Discord took it.
pub(super) async fn edit(ctx: &Context, cmd: &CommandInteraction, view: View) -> Option<Message> {
    let sent = with_retries("a reply", || {
        cmd.edit_response(&ctx.http, to_edit(view.clone()))
    })
    .await;
    match sent {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "could not send the reply");
            None
        }
    }
}

pub(super) async fn respond_component(ctx: &Context, press: &ComponentInteraction, view: View) {
    answer_component(ctx, press, view, false).await;
}

pub(super) async fn update_component(ctx: &Context, press: &ComponentInteraction, view: View) {
    answer_component(ctx, press, view, true).await;
}

/// Answers a button press with a new message, or by updating the message it is on.
async fn answer_component(ctx: &Context, press: &ComponentInteraction, view: View, update: bool) {
    let sent = acknowledge("a reply to a button", || {
        let message = to_response(view.clone());
        let r = match update {
            true => CreateInteractionResponse::UpdateMessage(message),
            false => CreateInteractionResponse::Message(message),
        };
        async move { press.create_response(&ctx.http, r).await }
    })
    .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, update, "could not answer a button");
    }
}

/// Posts a message in a channel, optionally as a reply to `to`.
pub(super) async fn post(
    http: &Http,
    channel: ChannelId,
    view: View,
    to: Option<&Message>,
) -> serenity::Result<Message> {
    // The same nonce on every try, enforced: Discord posts a retried message once.
    let nonce = Nonce::String(format!("{:x}", rand_nonce()));
    with_retries("a message", || {
        let mut m = to_message(view.clone())
            .nonce(nonce.clone())
            .enforce_nonce(true);
        if let Some(msg) = to {
            m = m.reference_message(msg);
        }
        channel.send_message(http, m)
    })
    .await
}

/// Reacts to a message with an emoji (adding one twice changes nothing, so retries are safe).
pub(super) async fn react(
    http: &Http,
    channel: ChannelId,
    message: MessageId,
    emoji: &str,
) -> serenity::Result<()> {
    let emoji = ReactionType::Unicode(emoji.to_owned());
    with_retries("a reaction", || {
        http.create_reaction(channel, message, &emoji)
    })
    .await
}

/// A message nonce unique enough for one channel's recent messages (Discord keeps them a
/// few minutes): the clock's nanoseconds mixed with a counter.
fn rand_nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(40)) & ((1 << 62) - 1)
}
