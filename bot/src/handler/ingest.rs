//! `/ingest`: a moderator's link, pasted text or attachment into the server's corpus.

use super::*;

impl Handler {
    #[tracing::instrument(skip_all, fields(guild, user = cmd.user.id.get()))]
    pub(super) async fn ingest(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let options = cmd.data.options();
        let given_text = |name| string_in(&options, name).filter(|t| !t.trim().is_empty());
        let (title, url, text) = (given_text("title"), given_text("url"), given_text("text"));
        let file = match option(&options, "file") {
            Some(ResolvedValue::Attachment(a)) => Some((*a).clone()),
            _ => None,
        };
        let given =
            usize::from(url.is_some()) + usize::from(text.is_some()) + usize::from(file.is_some());
        if given != 1 {
            respond(
                ctx,
                cmd,
                render::rejected("give exactly one of `url`, `text` or `file`."),
            )
            .await;
            return;
        }
        if !defer(ctx, cmd, true).await {
            return;
        }
        let source = if let Some(url) = url {
            Source::Url { url, title }
        } else if let Some(text) = text {
            Source::Text { text, title }
        } else if let Some(file) = file {
            match self.download(&file).await {
                Ok(bytes) => Source::File {
                    name: file.filename.clone(),
                    bytes,
                    title,
                },
                Err(reason) => {
                    edit(ctx, cmd, render::rejected(&reason)).await;
                    return;
                }
            }
        } else {
            return;
        };
        let view = match self
            .call(move |b| b.ingest(guild, source, HeldBy::Command))
            .await
        {
            Ok(done) => {
                tracing::info!(article = %done.id, status = ?done.status, sentences = done.sentences, "article ingested");
                render::ingested(&done)
            }
            Err(e) => backend_error(e, "ingest"),
        };
        edit(ctx, cmd, view).await;
    }

    /// Fetches an attached article from Discord's CDN, refusing what ingest would refuse anyway.
    pub(super) async fn download(
        &self,
        file: &serenity::all::Attachment,
    ) -> Result<Vec<u8>, String> {
        let name = file.filename.to_ascii_lowercase();
        let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
        if !self.backend.article_extensions().contains(&extension) {
            return Err(format!("{} is not a .txt or .html file.", file.filename));
        }
        if let Some(why) = self.attachments.refusal(&file.url) {
            tracing::warn!(reason = %why, "attachment refused");
            return Err(why);
        }
        let cap = self.backend.max_article_bytes();
        if u64::from(file.size) > cap {
            return Err(format!(
                "{} is {} KB; the limit is {} KB.",
                file.filename,
                file.size / 1024,
                cap / 1024
            ));
        }
        let fetch = async {
            let mut response = self
                .downloads
                .get(&file.url)
                .send()
                .await?
                .error_for_status()?;
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > cap {
                    break;
                }
            }
            Ok::<_, reqwest::Error>(bytes)
        };
        match fetch.await {
            Ok(bytes) if bytes.len() as u64 > cap => Err(format!(
                "{} is larger than the {} KB limit.",
                file.filename,
                cap / 1024
            )),
            Ok(bytes) => Ok(bytes),
            Err(e) => {
                tracing::warn!(error = %e, "downloading an attachment failed");
                Err(format!("I could not download {}.", file.filename))
            }
        }
    }
}
