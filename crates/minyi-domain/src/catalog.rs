//! The matter catalogue (事项清单): a tree of matters. Leaves carry the policy a request of that
//! matter is handled under: urgency, response and handling deadlines, and whether it is a
//! consultation (咨询) that an operator may answer at intake.

use crate::MatterId;
use crate::calendar::Span;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// 紧急程度: how urgent a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// 一般
    Ordinary,
    /// 紧急: counted in clock hours, day and night.
    Urgent,
}

impl Urgency {
    /// Stable name used in files and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Ordinary => "ordinary",
            Urgency::Urgent => "urgent",
        }
    }

    /// Parses [`Urgency::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ordinary" => Some(Urgency::Ordinary),
            "urgent" => Some(Urgency::Urgent),
            _ => None,
        }
    }
}

/// The deadlines of a matter (时限).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// 响应时限: from dispatch to signing for (签收) and first contact.
    pub response: Span,
    /// 办理时限: from dispatch to the reply (办结).
    pub handling: Span,
}

impl Deadlines {
    /// The defaults by urgency: urgent matters answer in 2 clock hours and are handled in 24;
    /// ordinary ones sign within 1 working day and are handled within 5 working days;
    /// consultations are handled within 1 working day.
    pub fn default_for(urgency: Urgency, consultation: bool) -> Self {
        match (urgency, consultation) {
            (Urgency::Urgent, _) => Deadlines {
                response: Span::ClockHours(2),
                handling: Span::ClockHours(24),
            },
            (Urgency::Ordinary, true) => Deadlines {
                response: Span::WorkingHours(4),
                handling: Span::WorkingDays(1),
            },
            (Urgency::Ordinary, false) => Deadlines {
                response: Span::WorkingDays(1),
                handling: Span::WorkingDays(5),
            },
        }
    }
}

/// The policy of a leaf matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatterPolicy {
    pub urgency: Urgency,
    pub deadlines: Deadlines,
    /// Whether the matter is a consultation (咨询类), answerable at intake (即时办结).
    pub consultation: bool,
}

/// One node of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matter {
    pub id: MatterId,
    /// Stable code, e.g. `01.02.003`.
    pub code: String,
    pub name: String,
    pub parent: Option<MatterId>,
    /// Depth, the first level being 1 (the catalogue may have several roots).
    pub level: u8,
    /// The policy; leaves must have one, inner nodes may carry one as a default for their leaves.
    pub policy: Option<MatterPolicy>,
}

/// Why a set of matters is not a valid catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("matter {0} appears twice")]
    DuplicateId(i64),
    #[error("matter {child} names parent {parent}, which does not exist")]
    MissingParent { child: i64, parent: i64 },
    #[error("matter {0} has level {1} but its parent has level {2}")]
    WrongLevel(i64, u8, u8),
    #[error("leaf matter {0} ({1}) has no policy (urgency and deadlines)")]
    LeafWithoutPolicy(i64, String),
}

/// The catalogue tree.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    nodes: Vec<Matter>,
    index: FxHashMap<MatterId, usize>,
    children: FxHashMap<MatterId, Vec<MatterId>>,
}

impl Catalog {
    /// Builds the catalogue and checks its shape; every leaf must have a policy.
    pub fn new(nodes: Vec<Matter>) -> Result<Self, CatalogError> {
        let mut index = FxHashMap::default();
        for (i, m) in nodes.iter().enumerate() {
            if index.insert(m.id, i).is_some() {
                return Err(CatalogError::DuplicateId(m.id.0));
            }
        }
        let mut children: FxHashMap<MatterId, Vec<MatterId>> = FxHashMap::default();
        for m in &nodes {
            if let Some(p) = m.parent {
                let parent =
                    index
                        .get(&p)
                        .map(|&i| &nodes[i])
                        .ok_or(CatalogError::MissingParent {
                            child: m.id.0,
                            parent: p.0,
                        })?;
                if parent.level + 1 != m.level {
                    return Err(CatalogError::WrongLevel(m.id.0, m.level, parent.level));
                }
                children.entry(p).or_default().push(m.id);
            } else if m.level != 1 {
                return Err(CatalogError::WrongLevel(m.id.0, m.level, 0));
            }
        }
        let catalog = Self {
            nodes,
            index,
            children,
        };
        for m in catalog.leaves() {
            if catalog.policy(m.id).is_none() {
                return Err(CatalogError::LeafWithoutPolicy(m.id.0, m.name.clone()));
            }
        }
        Ok(catalog)
    }

    /// The node with this id.
    pub fn get(&self, id: MatterId) -> Option<&Matter> {
        self.index.get(&id).map(|&i| &self.nodes[i])
    }

    /// Every node.
    pub fn iter(&self) -> impl Iterator<Item = &Matter> {
        self.nodes.iter()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the catalogue is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The children of a node.
    pub fn children(&self, id: MatterId) -> &[MatterId] {
        self.children.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the node is a leaf.
    pub fn is_leaf(&self, id: MatterId) -> bool {
        self.children(id).is_empty()
    }

    /// The leaves, which requests are classified into.
    pub fn leaves(&self) -> impl Iterator<Item = &Matter> {
        self.nodes.iter().filter(|m| self.is_leaf(m.id))
    }

    /// The node itself followed by its ancestors up to its root.
    pub fn self_and_ancestors(&self, id: MatterId) -> Vec<MatterId> {
        let mut path = Vec::with_capacity(4);
        let mut cur = self.get(id);
        while let Some(m) = cur {
            path.push(m.id);
            cur = m.parent.and_then(|p| self.get(p));
        }
        path
    }

    /// The effective policy: the node's own, else the nearest ancestor's.
    pub fn policy(&self, id: MatterId) -> Option<MatterPolicy> {
        self.self_and_ancestors(id)
            .into_iter()
            .find_map(|m| self.get(m).and_then(|m| m.policy))
    }

    /// The names from the root down, e.g. `城乡建设/安全生产/安全隐患`.
    pub fn path_name(&self, id: MatterId) -> String {
        let mut names: Vec<&str> = self
            .self_and_ancestors(id)
            .into_iter()
            .filter_map(|m| self.get(m).map(|m| m.name.as_str()))
            .collect();
        names.reverse();
        names.join("/")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn matter(id: i64, parent: Option<i64>, level: u8, policy: Option<MatterPolicy>) -> Matter {
        Matter {
            id: MatterId(id),
            code: id.to_string(),
            name: format!("m{id}"),
            parent: parent.map(MatterId),
            level,
            policy,
        }
    }

    fn ordinary() -> MatterPolicy {
        MatterPolicy {
            urgency: Urgency::Ordinary,
            deadlines: Deadlines::default_for(Urgency::Ordinary, false),
            consultation: false,
        }
    }

    #[test]
    fn leaves_inherit_the_policy_of_their_nearest_ancestor() {
        let c = Catalog::new(vec![
            matter(1, None, 1, Some(ordinary())),
            matter(2, Some(1), 2, None),
            matter(3, Some(2), 3, None),
        ])
        .unwrap();
        assert_eq!(c.policy(MatterId(3)), Some(ordinary()));
        assert_eq!(c.leaves().count(), 1);
        assert_eq!(c.path_name(MatterId(3)), "m1/m2/m3");
    }

    #[test]
    fn a_leaf_without_any_policy_is_refused() {
        let err = Catalog::new(vec![matter(1, None, 1, None), matter(2, Some(1), 2, None)]);
        assert!(matches!(err, Err(CatalogError::LeafWithoutPolicy(2, _))));
    }

    #[test]
    fn urgent_matters_run_on_clock_hours() {
        let d = Deadlines::default_for(Urgency::Urgent, false);
        assert_eq!(d.response, Span::ClockHours(2));
    }
}
