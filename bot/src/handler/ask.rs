//! `/ask` and mentions: a question in, an answer (or a clear reply) out. A question may follow
//! up an earlier answer: the member's last one in the channel (for `/ask`), the one a message
//! replies to, or the one whose thread it is in.

use super::*;
use crate::question;

/// What asking gave: the view to send, and the answer to remember for follow-ups.
pub(super) struct Replied {
    view: View,
    said: Option<Earlier>,
    /// The message asked nothing ("thanks!").
    chatter: bool,
}

impl Replied {
    /// A reply that is no answer to remember, to a message that asked something.
    fn only(view: View) -> Replied {
        Replied {
            view,
            said: None,
            chatter: false,
        }
    }
}

impl Handler {
    /// Asks the backend and renders the outcome, remembering answers for their buttons.
    pub(super) async fn answer(
        &self,
        guild: u64,
        user: u64,
        question: String,
        after: Option<Earlier>,
    ) -> Replied {
        let started = Instant::now();
        let q = question.clone();
        let result = self.call(move |b| b.ask(guild, &q, after.as_ref())).await;
        let latency_ms = (started.elapsed().as_secs_f64() * 1e3).round() as u64;
        match result {
            Ok(Outcome::Answer(answer)) => {
                tracing::info!(guild, user, latency_ms, article = %answer.article_id, confidence = answer.confidence, follow_up = answer.continues.is_some(), "question answered");
                let key = self.key();
                let view = render::answer(&answer, key);
                let said = answer.earlier();
                self.state().answers.insert(
                    key,
                    Asked {
                        guild,
                        question,
                        answer: *answer,
                    },
                );
                Replied {
                    view,
                    said: Some(said),
                    chatter: false,
                }
            }
            Ok(Outcome::NotFound { reason }) => {
                tracing::info!(
                    guild,
                    user,
                    latency_ms,
                    reason = reason.as_deref().unwrap_or("low confidence"),
                    "question not answered: abstained"
                );
                Replied::only(render::abstain(reason.as_deref()))
            }
            Ok(Outcome::NoArticles) => {
                tracing::info!(guild, user, "question not answered: no articles yet");
                self.lift_cooldown(guild, user);
                Replied::only(render::no_articles())
            }
            Ok(Outcome::NotAQuestion) => {
                self.lift_cooldown(guild, user);
                Replied {
                    view: render::chatter(),
                    said: None,
                    chatter: true,
                }
            }
            Err(BackendError::Busy) => {
                tracing::warn!(guild, user, latency_ms, "question not answered: busy");
                self.lift_cooldown(guild, user);
                Replied::only(render::busy())
            }
            Err(e) => {
                tracing::error!(guild, user, error = format!("{e:#}"), "question failed");
                self.lift_cooldown(guild, user);
                Replied::only(render::failure())
            }
        }
    }

    #[tracing::instrument(skip_all, fields(guild, user = cmd.user.id.get()))]
    pub(super) async fn ask(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let question = string_option(cmd, "question").unwrap_or_default();
        let question = question::plain(&question);
        if !question::has_words(&question) {
            respond(ctx, cmd, render::empty_question()).await;
            return;
        }
        let user = cmd.user.id.get();
        if let Some(left) = self.cooldown(guild, user) {
            respond(ctx, cmd, render::cooldown(left)).await;
            return;
        }
        // Acknowledge at once: the models may take longer than Discord's 3 seconds.
        if !defer(ctx, cmd, false).await {
            return;
        }
        let channel = cmd.channel_id.get();
        let after = self.earlier(guild, channel, user, None, true);
        let replied = self.answer(guild, user, question, after).await;
        let sent = edit(ctx, cmd, replied.view).await;
        if let Some(said) = replied.said {
            self.remember(guild, channel, user, sent.map(|m| m.id.get()), said);
        }
    }

    /// A message addressed to the bot: one that mentions it, replies to one of its answers,
    /// or is posted in a thread opened on one of its answers.
    #[tracing::instrument(skip_all, fields(guild, user = msg.author.id.get()))]
    pub(super) async fn mention(&self, ctx: &Context, msg: &Message) {
        let Some(me) = self.me.get().copied() else {
            return;
        };
        let Some(guild) = msg.guild_id else {
            return;
        };
        if msg.author.bot {
            return;
        }
        let guild = guild.get();
        let channel = msg.channel_id.get();
        let replied_to = msg
            .referenced_message
            .as_ref()
            .filter(|m| m.author.id == me)
            .map(|m| m.id.get());
        let mentioned = msg.mentions.iter().any(|u| u.id == me);
        let addressed = mentioned || replied_to.is_some();
        if !addressed && !self.is_answer_thread(guild, channel) {
            return;
        }
        let user = msg.author.id.get();
        // The bot's own mention goes with the others.
        let question = question::plain(&msg.content);
        let replied = if !question::has_words(&question) {
            if !addressed {
                return;
            }
            Replied::only(render::empty_question())
        } else if let Some(left) = self.cooldown(guild, user) {
            Replied::only(render::cooldown(left))
        } else {
            let after = self.earlier(guild, channel, user, replied_to, addressed);
            self.answer(guild, user, question, after).await
        };
        // Talk in an answer's thread that asks nothing is not for the bot.
        if replied.chatter && !addressed {
            return;
        }
        match post(&ctx.http, msg.channel_id, replied.view, Some(msg)).await {
            Ok(sent) => {
                if let Some(said) = replied.said {
                    self.remember(guild, channel, user, Some(sent.id.get()), said);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not reply to a mention"),
        }
    }
}
