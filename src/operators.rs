//! Who is an operator: a role stored with the account, never a name anyone could register.
//!
//! Two things grant it, both only the server's operator can do: listing a name in the
//! `operators` setting grants the role to the account holding that name *when the name is first
//! listed* (a later registrant of a listed name gets nothing), and `courier admin
//! grant-operator NAME`, run on the host against the database, grants it to any account.
//! Requests check the stored role (`AccountStore::is_operator`), so a grant or a revocation
//! takes effect at once, on every node, without a restart.

use crate::clock::now_ms;
use crate::config::AdminCommand;
use crate::store::{OperatorGrant, Store, StoreResult};

/// Reconciles the `operators` setting with the database at startup, logging what changed and
/// warning about every listed name that grants nothing.
pub async fn apply_setting(store: &dyn Store, names: &[String]) -> StoreResult<()> {
    let mut listed: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
    listed.retain(|n| !n.is_empty());
    listed.sort();
    listed.dedup();
    let changes = store.sync_operator_list(&listed, now_ms()).await?;
    for name in &changes.granted {
        tracing::info!(%name, "operator role granted: the name is listed in `operators`");
    }
    for name in &changes.revoked {
        tracing::info!(%name, "operator role withdrawn: the name left `operators`");
    }
    for name in &changes.not_granted {
        tracing::warn!(
            %name,
            "`operators` lists a name whose account is not an operator: a listed name grants the role only to the account holding it when the name is first listed (see docs/SECURITY.md); to make this account an operator, run `courier admin grant-operator {name}` on the host"
        );
    }
    Ok(())
}

/// Runs one `courier admin` command against the store; the text to print, or what went wrong.
pub async fn run_admin(store: &dyn Store, command: &AdminCommand) -> Result<String, String> {
    let failed = |e: crate::store::StoreError| format!("the database refused: {e:?}");
    match command {
        AdminCommand::GrantOperator { username } => {
            match store
                .set_operator(username, Some(OperatorGrant::Admin))
                .await
                .map_err(failed)?
            {
                Some(u) => Ok(format!("{} (id {}) is an operator now", u.username, u.id)),
                None => Err(format!("no account is named {username:?}")),
            }
        }
        AdminCommand::RevokeOperator { username } => {
            match store.set_operator(username, None).await.map_err(failed)? {
                Some(u) => Ok(format!(
                    "{} (id {}) is no longer an operator (a name still listed in `operators` does not grant the role again)",
                    u.username, u.id
                )),
                None => Err(format!("no account is named {username:?}")),
            }
        }
        AdminCommand::ListOperators => {
            let ops = store.operators().await.map_err(failed)?;
            if ops.is_empty() {
                return Ok("no account is an operator".to_string());
            }
            Ok(ops
                .iter()
                .map(|(u, g)| {
                    format!(
                        "{}\tid {}\tgranted by {}",
                        u.username,
                        u.id,
                        match g {
                            OperatorGrant::Config => "the `operators` setting",
                            OperatorGrant::Admin => "courier admin",
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}
