//! `/articles`, `/article` and `/forget`: what the server's corpus holds.

use super::*;

impl Handler {
    pub(super) async fn articles(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let page = page_option(cmd);
        let view = self.articles_page(guild, page).await;
        respond(ctx, cmd, view).await;
    }

    pub(super) async fn articles_page(&self, guild: u64, page: usize) -> View {
        match self.call(move |b| b.articles(guild)).await {
            Ok(list) => render::articles(&list, page, self.config.articles_per_page),
            Err(e) => backend_error(e, "articles"),
        }
    }

    pub(super) async fn forget(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let wanted = article_option(cmd);
        let view = match self.call(move |b| b.lookup(guild, &wanted)).await {
            Ok(article) => {
                let key = self.key();
                let view = render::confirm_forget(&article, key);
                self.state().forgets.insert(
                    key,
                    PendingForget {
                        guild,
                        user: cmd.user.id.get(),
                        id: article.id,
                        title: article.title,
                    },
                );
                view
            }
            Err(e) => backend_error(e, "forget"),
        };
        respond(ctx, cmd, view).await;
    }

    /// `/article`: the text the bot took from one article, for moderators.
    pub(super) async fn article(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let wanted = article_option(cmd);
        let page = page_option(cmd);
        if !defer(ctx, cmd, true).await {
            return;
        }
        let view = match self.call(move |b| b.article_text(guild, &wanted)).await {
            Ok(article) => render::article_text(&article, page),
            Err(e) => backend_error(e, "article"),
        };
        edit(ctx, cmd, view).await;
    }
}
