//! Matchmaking (我帮企业找市场 / 找资金): an enterprise's need (企业需求) — a market, funding,
//! talent, land, technology, a policy — is matched with registered resources (资源: programmes,
//! funds, buyers, talent services …), and each match (对接) is followed to its outcome.
//!
//! Here are the kinds, which resource kind may serve which need kind, and the life of a match:
//! proposed (推荐) → contacted (已对接) → agreed (达成) or declined (未达成). Scoring the text
//! similarity is the engine's (`minyi_engine::matching`); storing is the store's.

use serde::{Deserialize, Serialize};

macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $s:literal / $zh:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Stable name (also the wire and storage form).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }

            /// The Chinese label.
            pub fn label_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)+
                }
            }

            /// Parses [`Self::as_str`] or the Chinese label.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|k| k.as_str() == s || k.label_zh() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// What an enterprise needs (需求类型).
    NeedKind {
        /// 找市场: customers, orders, sales channels.
        Market = "market" / "市场",
        /// 找资金: loans, investment, subsidies.
        Funding = "funding" / "资金",
        /// 人才: recruiting and training.
        Talent = "talent" / "人才",
        /// 用地: land, premises, factory space.
        Land = "land" / "用地",
        /// 技术: research partners, technology transfer.
        Technology = "technology" / "技术",
        /// 政策: policy advice and applications.
        Policy = "policy" / "政策",
        /// 其他
        Other = "other" / "其他",
    }
);

str_enum!(
    /// What a registered resource is (资源类型).
    ResourceKind {
        /// 扶持项目: a government programme (subsidies, awards, services).
        Programme = "programme" / "扶持项目",
        /// 资金: a bank product, guarantee fund, investment fund.
        Fund = "fund" / "资金",
        /// 采购方: a buyer, platform or trade fair looking for suppliers.
        Buyer = "buyer" / "采购方",
        /// 人才服务: recruitment fairs, training, talent housing.
        TalentService = "talent_service" / "人才服务",
        /// 产业空间: industrial parks, factory space.
        Space = "space" / "产业空间",
        /// 技术服务: universities, laboratories, technology transfer.
        TechnologyService = "technology_service" / "技术服务",
        /// 其他
        Other = "other" / "其他",
    }
);

impl ResourceKind {
    /// Whether a resource of this kind can answer a need of `need` kind. A programme may answer
    /// anything (subsidies, policy, services), and any resource may answer an "other" need.
    pub fn serves(self, need: NeedKind) -> bool {
        use NeedKind as N;
        use ResourceKind as R;
        match (self, need) {
            (R::Programme | R::Other, _) | (_, N::Other) => true,
            (R::Fund, n) => n == N::Funding,
            (R::Buyer, n) => n == N::Market,
            (R::TalentService, n) => n == N::Talent,
            (R::Space, n) => n == N::Land,
            (R::TechnologyService, n) => n == N::Technology,
        }
    }

    /// The need kinds this kind serves.
    pub fn served_needs(self) -> Vec<NeedKind> {
        NeedKind::ALL
            .iter()
            .copied()
            .filter(|n| self.serves(*n))
            .collect()
    }
}

str_enum!(
    /// Where a need stands (需求状态).
    NeedStatus {
        /// 待对接: open.
        Open = "open" / "待对接",
        /// 已解决: a match was agreed.
        Met = "met" / "已解决",
        /// 已撤回: the enterprise no longer needs it.
        Withdrawn = "withdrawn" / "已撤回",
    }
);

str_enum!(
    /// Where a match stands (对接状态).
    MatchStatus {
        /// 推荐: proposed by similarity or by a person.
        Proposed = "proposed" / "已推荐",
        /// 已对接: the team put the enterprise in touch with the resource.
        Contacted = "contacted" / "已对接",
        /// 达成: the parties agreed (a contract, a loan, a hire …).
        Agreed = "agreed" / "已达成",
        /// 未达成: it came to nothing.
        Declined = "declined" / "未达成",
    }
);

/// Why a match cannot move to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a match that is {from} cannot become {to}")]
pub struct MatchTransitionError {
    pub from: MatchStatus,
    pub to: MatchStatus,
}

impl MatchStatus {
    /// Whether the match has reached its outcome.
    pub fn is_final(self) -> bool {
        matches!(self, MatchStatus::Agreed | MatchStatus::Declined)
    }

    /// Moves a match on: proposed → contacted → agreed or declined; a proposal may also be
    /// declined without contact. Outcomes are final; nothing moves back.
    pub fn advance(self, to: MatchStatus) -> Result<MatchStatus, MatchTransitionError> {
        use MatchStatus as M;
        match (self, to) {
            (M::Proposed, M::Contacted | M::Declined) | (M::Contacted, M::Agreed | M::Declined) => {
                Ok(to)
            }
            _ => Err(MatchTransitionError { from: self, to }),
        }
    }
}

/// The share of matches that reached agreement among those that reached an outcome, `None`
/// when none has.
pub fn agreement_rate(agreed: i64, declined: i64) -> Option<f64> {
    let decided = agreed + declined;
    (decided > 0).then(|| agreed as f64 / decided as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names_and_labels() {
        for k in NeedKind::ALL {
            assert_eq!(NeedKind::parse(k.as_str()), Some(*k));
            assert_eq!(NeedKind::parse(k.label_zh()), Some(*k));
        }
        for k in ResourceKind::ALL {
            assert_eq!(ResourceKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(NeedKind::parse("找资金"), None);
        assert_eq!(NeedKind::parse(" funding "), Some(NeedKind::Funding));
        assert_eq!(ResourceKind::parse("bank"), None);
    }

    #[test]
    fn resource_kinds_serve_their_needs() {
        assert!(ResourceKind::Fund.serves(NeedKind::Funding));
        assert!(!ResourceKind::Fund.serves(NeedKind::Market));
        assert!(ResourceKind::Buyer.serves(NeedKind::Market));
        assert!(!ResourceKind::Buyer.serves(NeedKind::Talent));
        assert!(ResourceKind::Programme.serves(NeedKind::Land));
        assert!(ResourceKind::Space.serves(NeedKind::Other));
        assert_eq!(
            ResourceKind::TalentService.served_needs(),
            vec![NeedKind::Talent, NeedKind::Other]
        );
        // Every need kind has at least two kinds of resource that may serve it.
        for n in NeedKind::ALL {
            let servers = ResourceKind::ALL.iter().filter(|r| r.serves(*n)).count();
            assert!(servers >= 2, "{n}");
        }
    }

    #[test]
    fn a_match_moves_forward_to_one_outcome() {
        use MatchStatus as M;
        assert_eq!(M::Proposed.advance(M::Contacted), Ok(M::Contacted));
        assert_eq!(M::Contacted.advance(M::Agreed), Ok(M::Agreed));
        assert_eq!(M::Contacted.advance(M::Declined), Ok(M::Declined));
        assert_eq!(M::Proposed.advance(M::Declined), Ok(M::Declined));
        // No skipping contact to agree, no going back, outcomes are final.
        assert!(M::Proposed.advance(M::Agreed).is_err());
        assert!(M::Contacted.advance(M::Proposed).is_err());
        assert!(M::Contacted.advance(M::Contacted).is_err());
        for from in [M::Agreed, M::Declined] {
            assert!(from.is_final());
            for to in M::ALL {
                assert_eq!(
                    from.advance(*to),
                    Err(MatchTransitionError { from, to: *to })
                );
            }
        }
        assert_eq!(
            M::Agreed.advance(M::Declined).unwrap_err().to_string(),
            "a match that is agreed cannot become declined"
        );
    }

    #[test]
    fn agreement_rate_counts_only_decided_matches() {
        assert_eq!(agreement_rate(0, 0), None);
        assert_eq!(agreement_rate(3, 1), Some(0.75));
        assert_eq!(agreement_rate(0, 2), Some(0.0));
    }
}
