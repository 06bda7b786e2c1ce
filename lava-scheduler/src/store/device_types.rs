//! Device types, their aliases and health checks, and device tags.

use super::rows::*;
use super::*;
use crate::error::StoreError;
use crate::model::*;

/// Add a device type inside a transaction.
pub(super) fn add_device_type_in(
    conn: &mut dyn Conn,
    device_type: &NewDeviceType,
) -> Result<DeviceType, StoreError> {
    if device_type.name.is_empty() {
        return Err(StoreError::Refused("a device type needs a name".into()));
    }
    if device_type.health_frequency < 0 {
        return Err(StoreError::Refused(format!(
            "health frequency must be 0 or more, not {}",
            device_type.health_frequency
        )));
    }
    let name = device_type.name.as_str();
    if conn
        .query_opt(
            "SELECT name FROM device_types WHERE name = $1",
            &[name.into()],
        )?
        .is_some()
    {
        return Err(StoreError::Exists {
            kind: "device type",
            name: name.to_string(),
        });
    }
    if conn
        .query_opt("SELECT name FROM aliases WHERE name = $1", &[name.into()])?
        .is_some()
    {
        return Err(StoreError::Exists {
            kind: "alias",
            name: name.to_string(),
        });
    }
    conn.execute(
        "INSERT INTO device_types (name, description, health_frequency, health_denominator, health_check_disabled) VALUES ($1, $2, $3, $4, $5)",
        &[
            name.into(),
            device_type.description.as_str().into(),
            device_type.health_frequency.into(),
            device_type.health_denominator.code().into(),
            device_type.health_check_disabled.into(),
        ],
    )?;
    device_type_in(conn, name)
}

impl SqlStore {
    /// Add a device type.
    pub fn add_device_type(&self, device_type: &NewDeviceType) -> Result<DeviceType, StoreError> {
        self.tx(|conn| add_device_type_in(conn, device_type))
    }

    /// One device type, by name.
    pub fn device_type(&self, name: &str) -> Result<DeviceType, StoreError> {
        self.tx(|conn| device_type_in(conn, name))
    }

    /// All device types.
    pub fn device_types(&self) -> Result<Vec<DeviceType>, StoreError> {
        self.tx(|conn| {
            let names = conn.query("SELECT name FROM device_types ORDER BY name", &[])?;
            names
                .iter()
                .map(|row| device_type_in(conn, &row.text(0)?))
                .collect()
        })
    }

    /// Change a device type's description and health-check policy.
    pub fn update_device_type(
        &self,
        name: &str,
        update: &DeviceTypeUpdate,
    ) -> Result<DeviceType, StoreError> {
        if let Some(f) = update.health_frequency.filter(|f| *f < 0) {
            return Err(StoreError::Refused(format!(
                "health frequency must be 0 or more, not {f}"
            )));
        }
        self.tx(|conn| {
            let current = device_type_in(conn, name)?;
            conn.execute(
                "UPDATE device_types SET description = $1, health_frequency = $2, health_denominator = $3, health_check_disabled = $4 WHERE name = $5",
                &[
                    update.description.clone().unwrap_or(current.description).into(),
                    update.health_frequency.unwrap_or(current.health_frequency).into(),
                    update.health_denominator.unwrap_or(current.health_denominator).code().into(),
                    update.health_check_disabled.unwrap_or(current.health_check_disabled).into(),
                    name.into(),
                ],
            )?;
            device_type_in(conn, name)
        })
    }

    /// Add an alias for a device type (must not clash with a type or alias).
    pub fn add_alias(&self, device_type: &str, alias: &str) -> Result<(), StoreError> {
        self.tx(|conn| {
            device_type_in(conn, device_type)?;
            if conn
                .query_opt(
                    "SELECT name FROM device_types WHERE name = $1",
                    &[alias.into()],
                )?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "device type",
                    name: alias.to_string(),
                });
            }
            if conn
                .query_opt("SELECT name FROM aliases WHERE name = $1", &[alias.into()])?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "alias",
                    name: alias.to_string(),
                });
            }
            conn.execute(
                "INSERT INTO aliases (name, device_type) VALUES ($1, $2)",
                &[alias.into(), device_type.into()],
            )?;
            Ok(())
        })
    }

    /// Find a device type by alias first, then by name (as submission does).
    pub fn resolve_device_type(&self, name: &str) -> Result<DeviceType, StoreError> {
        self.tx(|conn| {
            let target = conn
                .query_opt(
                    "SELECT device_type FROM aliases WHERE name = $1",
                    &[name.into()],
                )?
                .map(|row| row.text(0))
                .transpose()?
                .unwrap_or_else(|| name.to_string());
            device_type_in(conn, &target)
        })
    }

    /// Store (or clear) a device type's health-check definition.
    pub fn set_health_check(
        &self,
        device_type: &str,
        definition: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let changed = conn.execute(
                "UPDATE device_types SET health_check = $1 WHERE name = $2",
                &[definition.into(), device_type.into()],
            )?;
            if changed == 0 {
                return Err(not_found("device type", device_type));
            }
            Ok(())
        })
    }

    /// Create a tag.
    pub fn add_tag(&self, name: &str, description: &str) -> Result<(), StoreError> {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(StoreError::Refused(format!("invalid tag name '{name}'")));
        }
        self.tx(|conn| {
            if conn
                .query_opt("SELECT name FROM tags WHERE name = $1", &[name.into()])?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "tag",
                    name: name.to_string(),
                });
            }
            conn.execute(
                "INSERT INTO tags (name, description) VALUES ($1, $2)",
                &[name.into(), description.into()],
            )?;
            Ok(())
        })
    }

    /// All tags.
    pub fn tags(&self) -> Result<Vec<Tag>, StoreError> {
        self.tx(|conn| {
            conn.query("SELECT name, description FROM tags ORDER BY name", &[])?
                .iter()
                .map(tag_from)
                .collect()
        })
    }

    /// Attach existing tags to a device.
    pub fn add_device_tags(&self, hostname: &str, tags: &[String]) -> Result<(), StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            ensure_tags_exist(conn, tags)?;
            for tag in tags.iter().filter(|t| !device.tags.contains(t)) {
                conn.execute(
                    "INSERT INTO device_tags (device, tag) VALUES ($1, $2)",
                    &[hostname.into(), tag.into()],
                )?;
            }
            Ok(())
        })
    }

    /// Detach tags from a device (each must be attached).
    pub fn remove_device_tags(&self, hostname: &str, tags: &[String]) -> Result<(), StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            for tag in tags {
                if !device.tags.contains(tag) {
                    return Err(StoreError::Refused(format!(
                        "device {hostname} does not have tag '{tag}'"
                    )));
                }
                conn.execute(
                    "DELETE FROM device_tags WHERE device = $1 AND tag = $2",
                    &[hostname.into(), tag.into()],
                )?;
            }
            Ok(())
        })
    }
}
