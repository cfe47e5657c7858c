//! `/ask` and mentions: a question in, an answer (or a clear reply) out.

use super::*;
use crate::question;

impl Handler {
    /// Asks the backend and renders the outcome, remembering answers for their buttons.
    pub(super) async fn answer(&self, guild: u64, user: u64, question: String) -> View {
        let started = Instant::now();
        let q = question.clone();
        let result = self.call(move |b| b.ask(guild, &q)).await;
        let latency_ms = (started.elapsed().as_secs_f64() * 1e3).round() as u64;
        match result {
            Ok(Outcome::Answer(answer)) => {
                tracing::info!(guild, user, latency_ms, article = %answer.article_id, confidence = answer.confidence, "question answered");
                let key = self.key();
                let view = render::answer(&answer, key);
                self.state().answers.insert(
                    key,
                    Asked {
                        guild,
                        question,
                        answer: *answer,
                    },
                );
                view
            }
            Ok(Outcome::NotFound { reason }) => {
                tracing::info!(
                    guild,
                    user,
                    latency_ms,
                    reason = reason.as_deref().unwrap_or("low confidence"),
                    "question not answered: abstained"
                );
                render::abstain(reason.as_deref())
            }
            Err(BackendError::Busy) => {
                tracing::warn!(guild, user, latency_ms, "question not answered: busy");
                self.lift_cooldown(guild, user);
                render::busy()
            }
            Err(e) => {
                tracing::error!(guild, user, error = format!("{e:#}"), "question failed");
                self.lift_cooldown(guild, user);
                render::failure()
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
        let view = self.answer(guild, user, question).await;
        edit(ctx, cmd, view).await;
    }

    #[tracing::instrument(skip_all, fields(guild, user = msg.author.id.get()))]
    pub(super) async fn mention(&self, ctx: &Context, msg: &Message) {
        let Some(me) = self.me.get().copied() else {
            return;
        };
        if msg.author.bot || !msg.mentions.iter().any(|u| u.id == me) {
            return;
        }
        let Some(guild) = msg.guild_id else {
            return;
        };
        let guild = guild.get();
        let user = msg.author.id.get();
        // The bot's own mention goes with the others.
        let question = question::plain(&msg.content);
        let view = if !question::has_words(&question) {
            render::empty_question()
        } else if let Some(left) = self.cooldown(guild, user) {
            render::cooldown(left)
        } else {
            self.answer(guild, user, question).await
        };
        if let Err(e) = post(&ctx.http, msg.channel_id, view, Some(msg)).await {
            tracing::warn!(error = %e, "could not reply to a mention");
        }
    }
}
