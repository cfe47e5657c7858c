//! The slash commands the bot registers.

use serenity::all::{
    ChannelType, CommandOptionType, CreateCommand, CreateCommandOption, Permissions,
};

/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: u16 = 500;

/// Every command, as registered globally at start-up.
pub fn all() -> Vec<CreateCommand> {
    let moderators = Permissions::MANAGE_MESSAGES;
    vec![
        CreateCommand::new("ask")
            .description("Ask a question about the news articles shared in this server")
            .dm_permission(false)
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "question", "Your question")
                    .required(true)
                    .max_length(MAX_QUESTION_CHARS),
            ),
        CreateCommand::new("ingest")
            .description("Moderators: add a news article (a link, pasted text or a file)")
            .dm_permission(false)
            .default_member_permissions(moderators)
            .add_option(CreateCommandOption::new(
                CommandOptionType::String,
                "url",
                "Link to the article",
            ))
            .add_option(CreateCommandOption::new(
                CommandOptionType::String,
                "text",
                "The article's text, pasted",
            ))
            .add_option(CreateCommandOption::new(
                CommandOptionType::Attachment,
                "file",
                "The article as a .txt or .html file",
            ))
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "title",
                    "Title (default: taken from the article)",
                )
                .max_length(256),
            ),
        CreateCommand::new("articles")
            .description("Moderators: list the articles the bot answers from")
            .dm_permission(false)
            .default_member_permissions(moderators)
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "page", "Page number")
                    .min_int_value(1),
            ),
        CreateCommand::new("feed")
            .description("Moderators: follow RSS/Atom news feeds")
            .dm_permission(false)
            .default_member_permissions(moderators)
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "add",
                    "Subscribe to a feed: its articles are ingested as they appear",
                )
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "url",
                        "The feed's address",
                    )
                    .required(true),
                )
                .add_sub_option(CreateCommandOption::new(
                    CommandOptionType::Channel,
                    "channel",
                    "Where to announce new articles (optional)",
                )),
            )
            .add_option(CreateCommandOption::new(
                CommandOptionType::SubCommand,
                "list",
                "The feeds this server follows",
            ))
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "remove",
                    "Unsubscribe a feed",
                )
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "url",
                        "The feed's address",
                    )
                    .required(true),
                ),
            ),
        CreateCommand::new("article")
            .description("Moderators: see the text the bot took from an article")
            .dm_permission(false)
            .default_member_permissions(moderators)
            .add_option(article_option())
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "page", "Page number")
                    .min_int_value(1),
            ),
        CreateCommand::new("forget")
            .description("Moderators: remove an article")
            .dm_permission(false)
            .default_member_permissions(moderators)
            .add_option(article_option()),
        CreateCommand::new("watch")
            .description("Moderators: ingest the links and files moderators post in a channel")
            .dm_permission(false)
            .default_member_permissions(moderators)
            .add_option(news_channel_option("The news channel to watch"))
            .add_option(CreateCommandOption::new(
                CommandOptionType::Boolean,
                "members",
                "Ingest posts by every member, not only moderators (default: no)",
            )),
        CreateCommand::new("unwatch")
            .description("Moderators: stop watching a news channel")
            .dm_permission(false)
            .default_member_permissions(moderators)
            .add_option(news_channel_option("The channel to stop watching")),
    ]
}

/// The required `article` option of `/article` and `/forget`.
fn article_option() -> CreateCommandOption {
    CreateCommandOption::new(
        CommandOptionType::String,
        "article",
        "The article's id (from /articles) or URL",
    )
    .required(true)
}

/// The required `channel` option of `/watch` and `/unwatch`: a text or announcement channel.
fn news_channel_option(description: &str) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::Channel, "channel", description)
        .channel_types(vec![ChannelType::Text, ChannelType::News])
        .required(true)
}
