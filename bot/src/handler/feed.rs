//! `/feed` and the background poller that announces what feeds bring.

use super::*;

impl Handler {
    #[tracing::instrument(skip_all, fields(guild, user = cmd.user.id.get()))]
    pub(super) async fn feed(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let Some(sub) = cmd.data.options().into_iter().next() else {
            return;
        };
        let ResolvedValue::SubCommand(options) = sub.value else {
            return;
        };
        let text = |name| string_in(&options, name).map(|s| s.trim().to_owned());
        let channel = match option(&options, "channel") {
            Some(ResolvedValue::Channel(c)) => Some(c.id.get()),
            Some(ResolvedValue::Unresolved(Unresolved::Channel(id))) => Some(id.get()),
            _ => None,
        };
        match sub.name {
            "add" => {
                let url = text("url").unwrap_or_default();
                // The first poll fetches every item's page: acknowledge first.
                if !defer(ctx, cmd, true).await {
                    return;
                }
                let view = match self.call(move |b| b.feed_add(guild, &url, channel)).await {
                    Ok((feed, added)) => {
                        tracing::info!(feed = %feed.url, added, "feed subscribed");
                        render::feed_added(&feed, added)
                    }
                    Err(e) => backend_error(e, "feed add"),
                };
                edit(ctx, cmd, view).await;
            }
            "list" => {
                // The feed list is a file other processes may be changing: acknowledge first.
                if !defer(ctx, cmd, true).await {
                    return;
                }
                let view = match self.call(move |b| b.feeds(guild)).await {
                    Ok(list) => render::feeds(&list),
                    Err(e) => backend_error(e, "feed list"),
                };
                edit(ctx, cmd, view).await;
            }
            "remove" => {
                let url = text("url").unwrap_or_default();
                if !defer(ctx, cmd, true).await {
                    return;
                }
                let view = match self.call(move |b| b.feed_remove(guild, &url)).await {
                    Ok(Some(feed)) => render::feed_removed(&feed),
                    Ok(None) => {
                        render::rejected("this server does not follow that feed (see /feed list).")
                    }
                    Err(e) => backend_error(e, "feed remove"),
                };
                edit(ctx, cmd, view).await;
            }
            _ => {}
        }
    }

    /// Polls the feeds for ever, posting a notice for each new article where one was asked for.
    pub(super) async fn poll_feeds(
        backend: Arc<dyn Backend>,
        http: Arc<serenity::all::Http>,
        life: Arc<Lifecycle>,
    ) {
        let tick = backend.feed_tick();
        loop {
            tokio::time::sleep(tick).await;
            // A round (and its announcements) is a job: shutdown waits for it, bounded.
            let Some(_job) = life.start() else {
                return;
            };
            let b = Arc::clone(&backend);
            let news = match tokio::task::spawn_blocking(move || b.poll_feeds()).await {
                Ok(news) => news,
                Err(e) => {
                    tracing::error!(error = %e, "feed poll panicked");
                    continue;
                }
            };
            for a in news {
                let channel = serenity::all::ChannelId::new(a.channel);
                if let Err(e) = post(&http, channel, render::announcement(&a), None).await {
                    tracing::warn!(guild = a.guild, channel = a.channel, error = %e, "could not announce a new article");
                }
            }
        }
    }
}
