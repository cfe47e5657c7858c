//! Buttons: "Show passage", votes, pages of `/articles`, and `/forget`'s confirmation.

use super::*;

impl Handler {
    pub(super) async fn component(&self, ctx: &Context, press: &ComponentInteraction) {
        let Some((action, key)) = ids::parse(&press.data.custom_id) else {
            return;
        };
        let Some(guild) = press.guild_id else {
            return;
        };
        let user = press.user.id.get();
        match action {
            ids::PASSAGE | ids::UP | ids::DOWN => {
                let asked = self.state().answers.get(key);
                let view = match asked {
                    Some(asked) if asked.guild == guild.get() => match action {
                        ids::PASSAGE => render::passage(&asked.answer),
                        _ => {
                            let helpful = action == ids::UP;
                            let feedback = Feedback {
                                guild: guild.get(),
                                user,
                                question: asked.question,
                                answer: asked.answer.text,
                                article_id: asked.answer.article_id,
                                helpful,
                            };
                            match self.call(move |b| b.feedback(&feedback)).await {
                                Ok(()) => render::voted(helpful),
                                Err(e) => backend_error(e, "feedback"),
                            }
                        }
                    },
                    _ => render::expired(),
                };
                respond_component(ctx, press, view).await;
            }
            ids::PAGE => {
                if !self.is_moderator(ctx, guild, press.member.as_ref()).await {
                    respond_component(ctx, press, render::not_moderator()).await;
                    return;
                }
                let view = self.articles_page(guild.get(), key as usize).await;
                update_component(ctx, press, view).await;
            }
            ids::FORGET | ids::KEEP => {
                let pending = self.state().forgets.get(key);
                let Some(pending) = pending.filter(|p| p.guild == guild.get() && p.user == user)
                else {
                    respond_component(ctx, press, render::expired()).await;
                    return;
                };
                self.state().forgets.take(key);
                if action == ids::KEEP {
                    update_component(ctx, press, render::kept("Kept it; nothing was removed."))
                        .await;
                    return;
                }
                if !self.is_moderator(ctx, guild, press.member.as_ref()).await {
                    update_component(ctx, press, render::not_moderator()).await;
                    return;
                }
                let id = pending.id.clone();
                let g = pending.guild;
                let view = match self.call(move |b| b.forget(g, &id)).await {
                    Ok(Some(gone)) => {
                        tracing::info!(guild = g, user, article = %gone.id, "article forgotten");
                        render::forgotten(&gone.title)
                    }
                    Ok(None) => render::kept(&format!(
                        "{} was already gone.",
                        render::escape(&pending.title)
                    )),
                    Err(e) => backend_error(e, "forget"),
                };
                update_component(ctx, press, view).await;
            }
            _ => {}
        }
    }
}
