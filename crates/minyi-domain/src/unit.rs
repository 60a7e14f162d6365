//! Units (责任单位) and the roles of the people who act in the system.

use crate::{DivisionId, UnitId, UserId};
use serde::{Deserialize, Serialize};

/// What kind of organisation a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 分拨中心 / 12345 热线: the dispatch centre, also the usual fallback unit (兜底).
    DispatchCentre,
    /// 市直部门: a city bureau.
    CityBureau,
    /// 区直部门: a district bureau.
    DistrictBureau,
    /// 街道办事处: a street office.
    StreetOffice,
    /// 社区工作站: a community workstation.
    CommunityWorkstation,
    /// 物业服务企业: a property company (or an urban village's joint-stock company).
    PropertyCompany,
    /// 公共服务企业: a utility or other public-service company (water, gas, power, bus).
    PublicService,
}

impl UnitKind {
    /// Every kind.
    pub const ALL: [UnitKind; 7] = [
        UnitKind::DispatchCentre,
        UnitKind::CityBureau,
        UnitKind::DistrictBureau,
        UnitKind::StreetOffice,
        UnitKind::CommunityWorkstation,
        UnitKind::PropertyCompany,
        UnitKind::PublicService,
    ];

    /// Stable name used in files and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::DispatchCentre => "dispatch_centre",
            UnitKind::CityBureau => "city_bureau",
            UnitKind::DistrictBureau => "district_bureau",
            UnitKind::StreetOffice => "street_office",
            UnitKind::CommunityWorkstation => "community_workstation",
            UnitKind::PropertyCompany => "property_company",
            UnitKind::PublicService => "public_service",
        }
    }

    /// Parses [`UnitKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A responsible unit, located in a division.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    /// A stable code, unique in the city, used by imports and exports.
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub division: DivisionId,
}

/// A role a person or process plays (角色).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 诉求人: the citizen or enterprise who filed the request.
    Requester,
    /// 话务员: hotline operator.
    Operator,
    /// 分拨员: dispatcher at the dispatch centre.
    Dispatcher,
    /// 承办人: a clerk of a handling unit.
    UnitHandler,
    /// 单位负责人: the leader of a handling unit, who may also act for it.
    UnitLeader,
    /// 督办员: supervisor.
    Supervisor,
    /// 管理员: administrator.
    Admin,
    /// 助企专员: a member of an enterprise service team.
    ServiceTeam,
    /// The system itself: the clock sweeper and other background jobs.
    System,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 9] = [
        Role::Requester,
        Role::Operator,
        Role::Dispatcher,
        Role::UnitHandler,
        Role::UnitLeader,
        Role::Supervisor,
        Role::Admin,
        Role::ServiceTeam,
        Role::System,
    ];

    /// The roles a staff account can have (not the requester, not the system).
    pub const STAFF: [Role; 7] = [
        Role::Operator,
        Role::Dispatcher,
        Role::UnitHandler,
        Role::UnitLeader,
        Role::Supervisor,
        Role::Admin,
        Role::ServiceTeam,
    ];

    /// Stable name used in files, storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Operator => "operator",
            Role::Dispatcher => "dispatcher",
            Role::UnitHandler => "unit_handler",
            Role::UnitLeader => "unit_leader",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::ServiceTeam => "service_team",
            Role::System => "system",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the role acts for a handling unit.
    pub fn is_unit_role(self) -> bool {
        matches!(self, Role::UnitHandler | Role::UnitLeader)
    }
}

/// Who performs a command: the account (if any), the role, and the unit it acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: Option<UserId>,
    pub role: Role,
    pub unit: Option<UnitId>,
}

impl Actor {
    /// The background system (sweeper).
    pub const SYSTEM: Actor = Actor {
        user: None,
        role: Role::System,
        unit: None,
    };

    /// The requester of a request, acting through the public channel.
    pub const REQUESTER: Actor = Actor {
        user: None,
        role: Role::Requester,
        unit: None,
    };

    /// A staff member without a unit (operator, dispatcher, supervisor, admin).
    pub fn staff(user: UserId, role: Role) -> Self {
        Actor {
            user: Some(user),
            role,
            unit: None,
        }
    }

    /// A clerk or leader of a unit.
    pub fn of_unit(user: UserId, role: Role, unit: UnitId) -> Self {
        Actor {
            user: Some(user),
            role,
            unit: Some(unit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for k in UnitKind::ALL {
            assert_eq!(UnitKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
