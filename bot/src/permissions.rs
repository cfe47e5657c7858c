//! A member's permissions in a channel, computed as Discord computes them, for posts (an
//! interaction carries them; a message does not): the server's owner has all of them; else
//! @everyone's and the member's roles' permissions, all of them with Administrator; then the
//! channel's overwrites: @everyone's, the member's roles' (denies, then allows) and the
//! member's own.
//! <https://discord.com/developers/docs/topics/permissions#permission-overwrites>

use std::collections::HashMap;

use serenity::all::{
    GuildId, PermissionOverwrite, PermissionOverwriteType, Permissions, Role, RoleId, UserId,
};

/// What the computation needs to know of a server: its owner and its roles.
#[derive(Debug, Clone)]
pub struct GuildFacts {
    /// The server's id, which is also its @everyone role's.
    pub id: GuildId,
    /// The owner, who has every permission.
    pub owner: UserId,
    /// The roles by id.
    pub roles: HashMap<RoleId, Role>,
}

impl GuildFacts {
    /// Whether any of `member_roles` is named one of `names` (case-insensitively).
    pub fn has_role_named(&self, member_roles: &[RoleId], names: &[String]) -> bool {
        member_roles.iter().any(|id| {
            self.roles
                .get(id)
                .is_some_and(|r| names.iter().any(|n| n.eq_ignore_ascii_case(&r.name)))
        })
    }

    /// A member's permissions in a channel with these overwrites (for a thread: its parent's).
    pub fn permissions_in(
        &self,
        user: UserId,
        member_roles: &[RoleId],
        overwrites: &[PermissionOverwrite],
    ) -> Permissions {
        if user == self.owner {
            return Permissions::all();
        }
        let everyone = RoleId::new(self.id.get());
        let role_permissions = |id: &RoleId| self.roles.get(id).map(|r| r.permissions);
        let mut permissions = role_permissions(&everyone).unwrap_or_else(Permissions::empty);
        for id in member_roles {
            permissions |= role_permissions(id).unwrap_or_else(Permissions::empty);
        }
        if permissions.administrator() {
            return Permissions::all();
        }
        let of = |kind: &PermissionOverwriteType| {
            overwrites
                .iter()
                .filter(|o| &o.kind == kind)
                .fold((Permissions::empty(), Permissions::empty()), |(a, d), o| {
                    (a | o.allow, d | o.deny)
                })
        };
        let (allow, deny) = of(&PermissionOverwriteType::Role(everyone));
        permissions = (permissions & !deny) | allow;
        let (mut allow, mut deny) = (Permissions::empty(), Permissions::empty());
        for id in member_roles.iter().filter(|&&id| id != everyone) {
            let (a, d) = of(&PermissionOverwriteType::Role(*id));
            allow |= a;
            deny |= d;
        }
        permissions = (permissions & !deny) | allow;
        let (allow, deny) = of(&PermissionOverwriteType::Member(user));
        (permissions & !deny) | allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(id: u64, name: &str, permissions: Permissions) -> Role {
        let mut r: Role = serde_json::from_value(serde_json::json!({
            "id": id.to_string(), "name": name, "color": 0, "hoist": false, "managed": false,
            "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
            "mentionable": false, "position": 0, "permissions": "0",
        }))
        .unwrap();
        r.permissions = permissions;
        r
    }

    fn overwrite(
        kind: PermissionOverwriteType,
        allow: Permissions,
        deny: Permissions,
    ) -> PermissionOverwrite {
        PermissionOverwrite { allow, deny, kind }
    }

    fn facts() -> GuildFacts {
        let g = 100;
        let roles = [
            role(
                g,
                "@everyone",
                Permissions::SEND_MESSAGES | Permissions::VIEW_CHANNEL,
            ),
            role(7, "Editors", Permissions::empty()),
            role(8, "Admins", Permissions::ADMINISTRATOR),
            role(9, "Mods", Permissions::MANAGE_MESSAGES),
        ];
        GuildFacts {
            id: GuildId::new(g),
            owner: UserId::new(1),
            roles: roles.into_iter().map(|r| (r.id, r)).collect(),
        }
    }

    #[test]
    fn the_owner_and_administrators_have_every_permission() {
        let f = facts();
        assert!(f.permissions_in(UserId::new(1), &[], &[]).manage_messages());
        let deny_all = [overwrite(
            PermissionOverwriteType::Role(RoleId::new(8)),
            Permissions::empty(),
            Permissions::all(),
        )];
        assert!(f
            .permissions_in(UserId::new(2), &[RoleId::new(8)], &deny_all)
            .manage_messages());
        assert!(!f.permissions_in(UserId::new(2), &[], &[]).manage_messages());
    }

    #[test]
    fn channel_overwrites_apply_everyone_then_roles_then_the_member() {
        let f = facts();
        let (editor, mods) = (RoleId::new(7), RoleId::new(9));
        let manage = Permissions::MANAGE_MESSAGES;
        // Manage Messages granted to Editors on this channel only.
        let news = [overwrite(
            PermissionOverwriteType::Role(editor),
            manage,
            Permissions::empty(),
        )];
        assert!(f
            .permissions_in(UserId::new(3), &[editor], &news)
            .manage_messages());
        assert!(!f
            .permissions_in(UserId::new(3), &[editor], &[])
            .manage_messages());
        // A role's allow beats another role's deny; the member's own deny beats both.
        let mixed = [
            overwrite(
                PermissionOverwriteType::Role(mods),
                Permissions::empty(),
                manage,
            ),
            overwrite(
                PermissionOverwriteType::Role(editor),
                manage,
                Permissions::empty(),
            ),
        ];
        assert!(f
            .permissions_in(UserId::new(3), &[editor, mods], &mixed)
            .manage_messages());
        let mut personal = mixed.to_vec();
        personal.push(overwrite(
            PermissionOverwriteType::Member(UserId::new(3)),
            Permissions::empty(),
            manage,
        ));
        assert!(!f
            .permissions_in(UserId::new(3), &[editor, mods], &personal)
            .manage_messages());
        // @everyone's deny on the channel takes what the server gave everyone.
        let quiet = [overwrite(
            PermissionOverwriteType::Role(RoleId::new(100)),
            Permissions::empty(),
            Permissions::SEND_MESSAGES,
        )];
        assert!(!f
            .permissions_in(UserId::new(3), &[], &quiet)
            .send_messages());
    }
}
