//! An identity per service on the bus: each service signs in to the brokers as its own
//! principal, which the brokers' ACLs allow only what `contracts::access` says (README, What
//! the bus trusts). Made at every start, with new passwords, as the database roles are
//! ([`crate::roles`]). Only added: a grant taken out of the table stays on a cluster that
//! already had it until `./dev up --wipe` (Kubernetes' `kafka-access.sh` removes strays).

mod admin;

use std::collections::BTreeMap;

use contracts::TopicNames;
use contracts::access::RULES;
use platform::kafka::Brokers;

pub use admin::{Acl, Operation, Resource};

use crate::{StepError, step_error};

const STEP: &str = "kafka principals";

/// The ACLs [`RULES`] make, with the broker's names for the topics (`topics`): for each service,
/// write (and describe) on the topics it writes, read (and describe) on those it reads, read on
/// its groups.
pub fn acls(topics: &TopicNames) -> Vec<Acl> {
    let mut acls = Vec::new();
    for access in RULES {
        let mut allow = |resource, name: String, operations: &[Operation]| {
            for operation in operations {
                acls.push(Acl {
                    principal: access.service.to_owned(),
                    resource,
                    name: name.clone(),
                    operation: *operation,
                });
            }
        };
        for topic in access.writable() {
            let ops = [Operation::Write, Operation::Describe];
            allow(Resource::Topic, topics.name(topic), &ops);
        }
        for topic in access.reads {
            let ops = [Operation::Read, Operation::Describe];
            allow(Resource::Topic, topics.name(*topic), &ops);
        }
        for group in access.groups {
            allow(Resource::Group, (*group).to_owned(), &[Operation::Read]);
        }
    }
    acls.sort();
    acls.dedup();
    acls
}

/// Gives every service of [`RULES`] its principal on the brokers `admin` signs in to (a new
/// password each time) and its ACLs; each service's own connection to them.
pub(crate) async fn provision(
    admin: &Brokers,
    topics: &TopicNames,
) -> Result<BTreeMap<String, Brokers>, StepError> {
    let users: Vec<(String, String)> = RULES
        .iter()
        .map(|a| (a.service.to_owned(), platform::auth::dev::random_secret()))
        .collect();
    let acls = acls(topics);
    let config = platform::kafka::client(admin);
    let passwords = users.clone();
    tokio::task::spawn_blocking(move || {
        let client = admin::Admin::new(&config)?;
        client
            .set_passwords(&passwords)
            .map_err(|e| format!("setting passwords: {e}"))?;
        client
            .allow(&acls)
            .map_err(|e| format!("creating ACLs: {e}"))?;
        client.close();
        Ok::<(), String>(())
    })
    .await
    .map_err(|e| step_error(STEP, e, None))?
    .map_err(|e| {
        step_error(
            STEP,
            format!("as {} on {admin}: {e}", admin.principal()),
            None,
        )
    })?;
    Ok(users
        .into_iter()
        .map(|(user, password)| {
            let own = admin.as_user(&user, &password);
            (user, own)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::Topic;

    fn allowed(acls: &[Acl], who: &str, operation: Operation, name: &str) -> bool {
        acls.iter()
            .any(|a| a.principal == who && a.operation == operation && a.name == name)
    }

    #[test]
    fn a_service_writes_its_own_topic_and_the_dead_letters_and_reads_what_it_consumes() {
        let topics = TopicNames::default();
        let acls = acls(&topics);
        let order = topics.name(Topic::Order);
        assert!(allowed(&acls, "order", Operation::Write, &order));
        assert!(allowed(&acls, "payment", Operation::Write, "mealkit.dlq"));
        assert!(!allowed(&acls, "payment", Operation::Write, &order));
        assert!(!allowed(&acls, "sellerpage", Operation::Write, &order));
        assert!(allowed(&acls, "delivery", Operation::Read, &order));
        assert!(!allowed(&acls, "payment", Operation::Read, &order));
        assert!(allowed(&acls, "order", Operation::Read, "order"));
        assert!(!allowed(&acls, "order", Operation::Read, "payment"));
    }
}
