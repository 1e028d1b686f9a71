//! [`Connector`]: how a run reaches its targets (issue 23, item 2): the credentials' own
//! connection, AWS Organizations for the accounts of an OU, and a [`Cloud`] acting in another
//! account through the spec's role (STS AssumeRole). [`SdkConnector`] is the AWS SDK behind it;
//! [`FakeConnector`](crate::fake::FakeConnector) hands out in-memory accounts, so the fan-out's
//! failure isolation is unit-tested without a network.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use crate::{Cloud, Fut, SdkCloud};

/// The role a target in another account is reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's name, the same in every account.
    pub name: String,
    /// The external id its trust policy requires, if any.
    pub external_id: Option<String>,
}

/// Connections to the accounts and regions of a run.
pub trait Connector: Send + Sync {
    /// The credentials' own connection, in the run's home region.
    fn home(&self) -> Arc<dyn Cloud>;

    /// The active accounts under an OU or root, its child OUs included (every page).
    fn accounts_under<'a>(&'a self, parent: &'a str) -> Fut<'a, Vec<String>>;

    /// The management account of the caller's organization.
    fn management_account(&self) -> Fut<'_, String>;

    /// A connection acting in `account` and `region`: the credentials' own for the caller's
    /// account (`role` None), otherwise through `role`. No call is made: a role that cannot be
    /// assumed fails the first call, which should be [`Cloud::account_id`].
    fn connect<'a>(&'a self, account: &'a str, region: &'a str, role: Option<&'a Role>) -> BoxFuture<'a, Arc<dyn Cloud>>;
}

/// The AWS SDK behind [`Connector`]: the role is assumed once per account, its regions share
/// the credentials (refreshed by the SDK).
pub struct SdkConnector {
    home: SdkCloud,
    accounts: Mutex<BTreeMap<String, secmon_aws::Aws>>,
}

impl SdkConnector {
    /// The connector acting from the credentials of `aws`.
    pub fn new(aws: secmon_aws::Aws) -> SdkConnector {
        SdkConnector { home: SdkCloud::new(aws), accounts: Mutex::new(BTreeMap::new()) }
    }
}

impl Connector for SdkConnector {
    fn home(&self) -> Arc<dyn Cloud> {
        Arc::new(self.home.clone())
    }

    fn accounts_under<'a>(&'a self, parent: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(async move {
            let org = &self.home.aws.organizations;
            let mut out = Vec::new();
            let mut parents = vec![parent.to_string()];
            while let Some(p) = parents.pop() {
                let mut pages = org.list_accounts_for_parent().parent_id(&p).into_paginator().send();
                while let Some(page) = pages.next().await {
                    for a in page.map_err(crate::sdk::fail("ListAccountsForParent"))?.accounts() {
                        let active =
                            a.state().map(|s| s.as_str() == "ACTIVE").unwrap_or_else(|| a.status().is_some_and(|s| s.as_str() == "ACTIVE"));
                        if active {
                            out.extend(a.id().map(str::to_string));
                        }
                    }
                }
                let mut children = org.list_organizational_units_for_parent().parent_id(&p).into_paginator().send();
                while let Some(page) = children.next().await {
                    let page = page.map_err(crate::sdk::fail("ListOrganizationalUnitsForParent"))?;
                    parents.extend(page.organizational_units().iter().filter_map(|u| u.id().map(str::to_string)));
                }
            }
            Ok(out)
        })
    }

    fn management_account(&self) -> Fut<'_, String> {
        Box::pin(async move {
            let org = self.home.aws.organizations.describe_organization().send().await.map_err(crate::sdk::fail("DescribeOrganization"))?;
            Ok(org.organization().and_then(|o| o.master_account_id()).unwrap_or_default().to_string())
        })
    }

    fn connect<'a>(&'a self, account: &'a str, region: &'a str, role: Option<&'a Role>) -> BoxFuture<'a, Arc<dyn Cloud>> {
        Box::pin(async move {
            let Some(role) = role else {
                return Arc::new(SdkCloud::new(self.home.aws.in_region(region))) as Arc<dyn Cloud>;
            };
            let known = self.accounts.lock().unwrap().get(account).cloned();
            let aws = match known {
                Some(a) => a,
                None => {
                    let a = self.home.aws.assume(account, region, &role.name, role.external_id.as_deref()).await;
                    self.accounts.lock().unwrap().insert(account.to_string(), a.clone());
                    a
                }
            };
            Arc::new(SdkCloud::new(aws.in_region(region))) as Arc<dyn Cloud>
        })
    }
}
