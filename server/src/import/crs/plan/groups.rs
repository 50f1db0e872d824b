//! Groups and their members.

use super::*;

impl Planner<'_> {
    pub(super) async fn groups(&mut self) -> Result<(), ImportError> {
        let covered = self.opts.covers(ImportKind::Groups);
        let taken: HashSet<(String, String)> = if covered {
            self.store
                .list_groups()
                .await?
                .into_iter()
                .map(|g| (g.platform, g.name))
                .collect()
        } else {
            HashSet::new()
        };
        let memberships = if covered {
            self.store.group_memberships().await?
        } else {
            Vec::new()
        };
        for g in &self.data.groups {
            let name = field(&g.fields, "name").trim().to_owned();
            let mut it = item(ImportKind::Groups, &g.id, "group", &name);
            let Some(platform) = Platform::parse(field(&g.fields, "platform")) else {
                it.notes.push(note(
                    "unsupported_kind",
                    format!("{} groups are not supported", field(&g.fields, "platform")),
                ));
                if covered {
                    self.push(it);
                }
                continue;
            };
            let existing = match self.mapped("group", &g.id).cloned() {
                Some(e) => match self.store.get_group(&e.local_id).await? {
                    Some(row) => Some((e, row)),
                    None => {
                        it.notes.push(deleted_here());
                        if covered {
                            self.push(it);
                        }
                        continue;
                    }
                },
                None => None,
            };
            if !covered {
                if let Some((e, row)) = existing {
                    self.targets.groups.insert(
                        g.id.clone(),
                        LocalTarget {
                            local_id: e.local_id,
                            platform,
                            name: row.name,
                            account_type: AccountType::Group,
                        },
                    );
                }
                continue;
            }
            let members = self.group_members(g, platform, &mut it.notes);
            let description: String = field(&g.fields, "description")
                .trim()
                .chars()
                .take(MAX_GROUP_DESCRIPTION_CHARS)
                .collect();
            let mut local_name: String = name.chars().take(MAX_GROUP_NAME_CHARS).collect();
            let digest = digest_of(&(&local_name, &description, platform, &members));
            let (local_id, outcome) = match &existing {
                Some((e, _)) if e.digest == digest => {
                    (e.local_id.clone(), ImportOutcome::Unchanged)
                }
                Some((e, _)) => (e.local_id.clone(), ImportOutcome::Updated),
                None => (new_id(), ImportOutcome::Imported),
            };
            if existing.is_none()
                && taken.contains(&(platform.as_str().to_owned(), local_name.clone()))
            {
                local_name = format!(
                    "{} (CRS)",
                    local_name
                        .chars()
                        .take(MAX_GROUP_NAME_CHARS - 6)
                        .collect::<String>()
                );
                it.notes.push(note(
                    "group_renamed",
                    format!(
                        "a {} group named {name:?} exists already: imported as {local_name:?}",
                        platform.as_str()
                    ),
                ));
            }
            if outcome != ImportOutcome::Unchanged {
                let created_at = existing
                    .as_ref()
                    .map(|(_, r)| r.created_at)
                    .or_else(|| parse_time(field(&g.fields, "createdAt")))
                    .unwrap_or(self.now);
                self.writes.groups.push(GroupRow {
                    id: local_id.clone(),
                    name: existing
                        .as_ref()
                        .map(|(_, r)| r.name.clone())
                        .unwrap_or(local_name.clone()),
                    platform: platform.as_str().into(),
                    description,
                    created_at,
                    updated_at: self.now,
                    // Not written by the import (its save keeps the stored mode).
                    sticky_mode: String::new(),
                });
                // Members added in Tollgate (not from CRS) stay.
                let imported: HashSet<&str> = self
                    .map
                    .iter()
                    .filter(|((k, _), _)| k == "account")
                    .map(|(_, e)| e.local_id.as_str())
                    .collect();
                let mut ids: Vec<String> = memberships
                    .iter()
                    .filter(|(gid, aid)| *gid == local_id && !imported.contains(aid.as_str()))
                    .map(|(_, aid)| aid.clone())
                    .collect();
                ids.extend(members.iter().cloned());
                ids.sort();
                ids.dedup();
                self.writes.memberships.push((local_id.clone(), ids));
                self.writes.map.push(MapEntry {
                    kind: "group".into(),
                    foreign_id: g.id.clone(),
                    local_id: local_id.clone(),
                    digest,
                    spent_micros: 0,
                    requests: 0,
                    is_new: outcome == ImportOutcome::Imported,
                });
            }
            self.targets.groups.insert(
                g.id.clone(),
                LocalTarget {
                    local_id: local_id.clone(),
                    platform,
                    name: local_name,
                    account_type: AccountType::Group,
                },
            );
            it.outcome = outcome;
            it.local_id = Some(local_id);
            self.push(it);
        }
        Ok(())
    }

    /// The Tollgate ids of a CRS group's members that can be members here: imported accounts
    /// of the group's platform whose type is `group`.
    fn group_members(
        &self,
        g: &CrsGroup,
        platform: Platform,
        notes: &mut Vec<ImportNote>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for id in &g.members {
            match self.targets.accounts.get(id) {
                Some(a) if a.platform == platform && a.account_type == AccountType::Group => {
                    out.push(a.local_id.clone())
                }
                Some(a) => notes.push(note(
                    "member_dropped",
                    format!(
                        "member {:?} is a {} {} account; Tollgate groups take {} accounts of type group only",
                        a.name,
                        a.account_type.as_str(),
                        a.platform.as_str(),
                        platform.as_str()
                    ),
                )),
                None => notes.push(note(
                    "member_dropped",
                    match self.targets.skipped_accounts.get(id) {
                        Some(kind) => format!("member {id} is a skipped {kind} account"),
                        None => format!("member {id} is not imported"),
                    },
                )),
            }
        }
        out.sort();
        out
    }
}
