//! Divisions (行政区划): the five-level governance tree city → district → street → community →
//! compound. Compounds are the leaves where they exist; a community without compounds is a leaf
//! itself.

use crate::DivisionId;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The level of a division in the five-level tree (五级治理).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    /// 市
    City,
    /// 区
    District,
    /// 街道
    Street,
    /// 社区
    Community,
    /// 小区 (a residential compound or an urban village)
    Compound,
}

impl DivisionLevel {
    /// All levels from the root down.
    pub const ALL: [DivisionLevel; 5] = [
        DivisionLevel::City,
        DivisionLevel::District,
        DivisionLevel::Street,
        DivisionLevel::Community,
        DivisionLevel::Compound,
    ];

    /// Depth in the tree, the city being 0.
    pub fn depth(self) -> u8 {
        self as u8
    }

    /// The level a child of this level has, if any.
    pub fn child(self) -> Option<DivisionLevel> {
        DivisionLevel::ALL.get(self.depth() as usize + 1).copied()
    }

    /// Stable name used in files and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DivisionLevel::City => "city",
            DivisionLevel::District => "district",
            DivisionLevel::Street => "street",
            DivisionLevel::Community => "community",
            DivisionLevel::Compound => "compound",
        }
    }

    /// Parses [`DivisionLevel::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        DivisionLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// What kind of place a division is; only compounds have kinds other than `Regular`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionKind {
    /// An ordinary administrative division or residential compound.
    Regular,
    /// 城中村: an urban village, a kind of compound.
    UrbanVillage,
}

impl DivisionKind {
    /// Stable name used in files and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DivisionKind::Regular => "regular",
            DivisionKind::UrbanVillage => "urban_village",
        }
    }

    /// Parses [`DivisionKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "regular" | "" => Some(DivisionKind::Regular),
            "urban_village" => Some(DivisionKind::UrbanVillage),
            _ => None,
        }
    }
}

/// One node of the division tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Division {
    pub id: DivisionId,
    /// The public code (NBS 统计用区划代码 for city to community; generated for compounds).
    pub code: String,
    pub name: String,
    pub level: DivisionLevel,
    pub kind: DivisionKind,
    pub parent: Option<DivisionId>,
}

/// Why a set of divisions does not form a valid tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("division {0} appears twice")]
    DuplicateId(i64),
    #[error("division {child} names parent {parent}, which does not exist")]
    MissingParent { child: i64, parent: i64 },
    #[error("division {child} ({child_level:?}) cannot sit under {parent} ({parent_level:?})")]
    WrongLevel {
        child: i64,
        child_level: DivisionLevel,
        parent: i64,
        parent_level: DivisionLevel,
    },
    #[error("division {0} is not the city but has no parent")]
    Orphan(i64),
    #[error("there must be exactly one city, found {0}")]
    CityCount(usize),
}

/// The whole division tree, indexed for ancestor walks.
#[derive(Debug, Clone, Default)]
pub struct DivisionTree {
    nodes: Vec<Division>,
    index: FxHashMap<DivisionId, usize>,
    children: FxHashMap<DivisionId, Vec<DivisionId>>,
}

impl DivisionTree {
    /// Builds the tree and checks that each node sits exactly one level under its parent.
    pub fn new(nodes: Vec<Division>) -> Result<Self, TreeError> {
        let mut index = FxHashMap::default();
        for (i, d) in nodes.iter().enumerate() {
            if index.insert(d.id, i).is_some() {
                return Err(TreeError::DuplicateId(d.id.0));
            }
        }
        let mut children: FxHashMap<DivisionId, Vec<DivisionId>> = FxHashMap::default();
        let mut n_cities = 0;
        for d in &nodes {
            match d.parent {
                None if d.level == DivisionLevel::City => n_cities += 1,
                None => return Err(TreeError::Orphan(d.id.0)),
                Some(p) => {
                    let parent =
                        index
                            .get(&p)
                            .map(|&i| &nodes[i])
                            .ok_or(TreeError::MissingParent {
                                child: d.id.0,
                                parent: p.0,
                            })?;
                    if parent.level.child() != Some(d.level) {
                        return Err(TreeError::WrongLevel {
                            child: d.id.0,
                            child_level: d.level,
                            parent: p.0,
                            parent_level: parent.level,
                        });
                    }
                    children.entry(p).or_default().push(d.id);
                }
            }
        }
        if n_cities != 1 {
            return Err(TreeError::CityCount(n_cities));
        }
        Ok(Self {
            nodes,
            index,
            children,
        })
    }

    /// The node with this id.
    pub fn get(&self, id: DivisionId) -> Option<&Division> {
        self.index.get(&id).map(|&i| &self.nodes[i])
    }

    /// Every node, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Division> {
        self.nodes.iter()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The direct children of a node.
    pub fn children(&self, id: DivisionId) -> &[DivisionId] {
        self.children.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The leaves: nodes without children (compounds, and communities without compounds).
    pub fn leaves(&self) -> impl Iterator<Item = &Division> {
        self.nodes.iter().filter(|d| self.children(d.id).is_empty())
    }

    /// The node itself followed by its ancestors up to the city.
    pub fn self_and_ancestors(&self, id: DivisionId) -> Vec<DivisionId> {
        let mut path = Vec::with_capacity(5);
        let mut cur = self.get(id);
        while let Some(d) = cur {
            path.push(d.id);
            cur = d.parent.and_then(|p| self.get(p));
        }
        path
    }

    /// Whether `ancestor` is `id` or one of its ancestors.
    pub fn is_within(&self, id: DivisionId, ancestor: DivisionId) -> bool {
        let mut cur = self.get(id);
        while let Some(d) = cur {
            if d.id == ancestor {
                return true;
            }
            cur = d.parent.and_then(|p| self.get(p));
        }
        false
    }

    /// The names from the city down to this node, e.g. `深圳市/福田区/华富街道`.
    pub fn path_name(&self, id: DivisionId) -> String {
        let mut names: Vec<&str> = self
            .self_and_ancestors(id)
            .into_iter()
            .filter_map(|d| self.get(d).map(|d| d.name.as_str()))
            .collect();
        names.reverse();
        names.join("/")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn node(id: i64, level: DivisionLevel, parent: Option<i64>) -> Division {
        Division {
            id: DivisionId(id),
            code: id.to_string(),
            name: format!("d{id}"),
            level,
            kind: DivisionKind::Regular,
            parent: parent.map(DivisionId),
        }
    }

    #[test]
    fn a_tree_of_five_levels_walks_up_to_the_city() {
        let tree = DivisionTree::new(vec![
            node(1, DivisionLevel::City, None),
            node(2, DivisionLevel::District, Some(1)),
            node(3, DivisionLevel::Street, Some(2)),
            node(4, DivisionLevel::Community, Some(3)),
            node(5, DivisionLevel::Compound, Some(4)),
            node(6, DivisionLevel::Community, Some(3)),
        ])
        .unwrap();
        assert_eq!(
            tree.self_and_ancestors(DivisionId(5)),
            [5, 4, 3, 2, 1].map(DivisionId).to_vec()
        );
        let leaves: Vec<i64> = tree.leaves().map(|d| d.id.0).collect();
        assert_eq!(leaves, vec![5, 6]);
        assert!(tree.is_within(DivisionId(5), DivisionId(2)));
        assert!(!tree.is_within(DivisionId(6), DivisionId(4)));
        assert_eq!(tree.path_name(DivisionId(4)), "d1/d2/d3/d4");
    }

    #[test]
    fn a_street_directly_under_the_city_is_refused() {
        let err = DivisionTree::new(vec![
            node(1, DivisionLevel::City, None),
            node(3, DivisionLevel::Street, Some(1)),
        ])
        .unwrap_err();
        assert!(matches!(err, TreeError::WrongLevel { child: 3, .. }));
    }

    #[test]
    fn a_missing_parent_and_two_cities_are_refused() {
        assert!(matches!(
            DivisionTree::new(vec![
                node(1, DivisionLevel::City, None),
                node(2, DivisionLevel::District, Some(9)),
            ]),
            Err(TreeError::MissingParent { .. })
        ));
        assert!(matches!(
            DivisionTree::new(vec![
                node(1, DivisionLevel::City, None),
                node(2, DivisionLevel::City, None),
            ]),
            Err(TreeError::CityCount(2))
        ));
    }
}
