//! [`RoleStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::{ConflictKind, Error, Result};
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use std::collections::BTreeSet;
use uuid::Uuid;

#[async_trait]
impl RoleStore for MemoryStore {
    async fn user_permissions(&self, user_id: Uuid) -> Result<Vec<String>> {
        let st = self.lock();
        let Some(user) = st.users.get(&user_id) else {
            return Ok(Vec::new());
        };
        let mut permissions = BTreeSet::new();
        for role in &user.roles {
            if let Some(role) = st.role_named(role) {
                permissions.extend(role.permissions.iter().cloned());
            }
        }
        Ok(permissions.into_iter().collect())
    }

    async fn permission_catalog(&self) -> Result<Vec<(String, String)>> {
        Ok(crate::store::seed::PERMISSION_CATALOG
            .iter()
            .map(|(n, d)| ((*n).to_owned(), (*d).to_owned()))
            .collect())
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
        let st = self.lock();
        let mut roles: Vec<_> = st.roles.iter().map(|r| st.role_record(r)).collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }

    async fn role_by_id(&self, id: Uuid) -> Result<Option<RoleRecord>> {
        let st = self.lock();
        Ok(st
            .roles
            .iter()
            .find(|r| r.id == id)
            .map(|r| st.role_record(r)))
    }

    async fn create_role(&self, role: NewRole, effects: Effects) -> Result<RoleRecord> {
        let mut st = self.lock();
        if st.role_named(&role.name).is_some() {
            return Err(Error::Conflict(ConflictKind::RoleName));
        }
        let stored = StoredRole {
            id: role.id,
            name: role.name,
            description: role.description,
            is_system: false,
            permissions: role.permissions.into_iter().collect(),
            created_at: role.created_at,
            updated_at: role.created_at,
        };
        let record = st.role_record(&stored);
        st.roles.push(stored);
        st.apply(effects);
        Ok(record)
    }

    async fn update_role(
        &self,
        id: Uuid,
        change: RoleChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<RoleRecord> {
        let mut st = self.lock();
        let Some(index) = st.roles.iter().position(|r| r.id == id) else {
            return Err(Error::NotFound("role"));
        };
        let held: Vec<String> = st.roles[index].permissions.iter().cloned().collect();
        if !permissions_unchanged(&held, change.checked_permissions.as_deref()) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        let old_name = st.roles[index].name.clone();
        if let Some(name) = change.name.as_ref().filter(|n| **n != old_name) {
            if st.roles[index].is_system {
                return Err(Error::SystemRole);
            }
            if st.role_named(name).is_some() {
                return Err(Error::Conflict(ConflictKind::RoleName));
            }
            for user in st.users.values_mut() {
                if let Some(held) = user.roles.iter_mut().find(|r| **r == old_name) {
                    name.clone_into(held);
                    user.roles.sort();
                }
            }
        }
        let role = &mut st.roles[index];
        if let Some(name) = change.name {
            role.name = name;
        }
        if let Some(description) = change.description {
            role.description = description;
        }
        if let Some(permissions) = change.permissions {
            role.permissions = permissions.into_iter().collect();
        }
        role.updated_at = now;
        let role = role.clone();
        st.apply(effects);
        Ok(st.role_record(&role))
    }

    async fn delete_role(
        &self,
        id: Uuid,
        checked_permissions: Option<&[String]>,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let Some(role) = st.roles.iter().find(|r| r.id == id).cloned() else {
            return Err(Error::NotFound("role"));
        };
        if role.is_system {
            return Err(Error::SystemRole);
        }
        let held: Vec<String> = role.permissions.iter().cloned().collect();
        if !permissions_unchanged(&held, checked_permissions) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        if st.users.values().any(|u| u.roles.contains(&role.name)) {
            return Err(Error::RoleInUse);
        }
        st.roles.retain(|r| r.id != id);
        st.apply(effects);
        Ok(())
    }

    async fn assign_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        let name = st
            .roles
            .iter()
            .find(|r| r.id == role_id)
            .map(|r| r.name.clone())
            .ok_or(Error::NotFound("role"))?;
        let user = st.user_mut(user_id)?;
        if user.roles.contains(&name) {
            return Ok(false);
        }
        user.roles.push(name);
        user.roles.sort();
        user.updated_at = now;
        st.apply(effects);
        Ok(true)
    }

    async fn remove_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let name = st
            .roles
            .iter()
            .find(|r| r.id == role_id)
            .map(|r| r.name.clone());
        let user = st.user_mut(user_id)?;
        let Some(index) = name.and_then(|n| user.roles.iter().position(|r| *r == n)) else {
            return Err(Error::NotFound("role assignment"));
        };
        if user.roles.len() == 1 {
            return Err(Error::LastRole);
        }
        user.roles.remove(index);
        user.updated_at = now;
        st.apply(effects);
        Ok(())
    }
}
