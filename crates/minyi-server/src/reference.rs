//! The city's reference data as the handlers need it (catalogue, divisions, units, the
//! responsibility list), loaded from the store on first use and cached.

use crate::error::ApiError;
use axum::http::StatusCode;
use minyi_domain::catalog::Catalog;
use minyi_domain::division::{DivisionLevel, DivisionTree};
use minyi_domain::request::Assignment;
use minyi_domain::responsibility::{Resolution, ResponsibilityList};
use minyi_domain::unit::Unit;
use minyi_domain::{DivisionId, MatterId, UnitId};
use minyi_engine::locate::{Gazetteer, Place, PlaceLevel, default_aliases};
use minyi_store::Store;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use tokio::sync::RwLock;

/// The loaded reference data.
#[derive(Debug)]
pub struct City {
    pub catalog: Catalog,
    pub divisions: DivisionTree,
    pub list: ResponsibilityList,
    pub units: FxHashMap<UnitId, Unit>,
    /// Place names of every division, for locating requests (None if it could not be built).
    pub gazetteer: Option<Gazetteer>,
    /// Matters by code and by path name (`城乡建设/市容环境/占道经营`), for the engine's labels.
    matter_keys: FxHashMap<String, MatterId>,
    /// Divisions by code (every intake with a division code looks one up).
    division_keys: FxHashMap<String, DivisionId>,
}

/// Builds the gazetteer of a division tree.
pub fn gazetteer(divisions: &DivisionTree) -> Option<Gazetteer> {
    let places: Vec<Place> = divisions
        .iter()
        .map(|d| Place {
            id: d.id.0 as u64,
            code: d.code.clone(),
            name: d.name.clone(),
            level: match d.level {
                DivisionLevel::City => PlaceLevel::City,
                DivisionLevel::District => PlaceLevel::District,
                DivisionLevel::Street => PlaceLevel::Street,
                DivisionLevel::Community => PlaceLevel::Community,
                DivisionLevel::Compound => PlaceLevel::Compound,
            },
            parent: d.parent.map(|p| p.0 as u64),
        })
        .collect();
    match Gazetteer::new(&places, &default_aliases(&places), &[]) {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!("the gazetteer could not be built: {e}");
            None
        }
    }
}

impl City {
    /// Assembles a city and its derived indexes.
    pub fn new(
        catalog: Catalog,
        divisions: DivisionTree,
        list: ResponsibilityList,
        units: FxHashMap<UnitId, Unit>,
    ) -> Self {
        let mut matter_keys = FxHashMap::default();
        for m in catalog.iter() {
            matter_keys.insert(m.code.clone(), m.id);
            matter_keys.insert(catalog.path_name(m.id), m.id);
        }
        let division_keys = divisions.iter().map(|d| (d.code.clone(), d.id)).collect();
        City {
            gazetteer: gazetteer(&divisions),
            division_keys,
            catalog,
            divisions,
            list,
            units,
            matter_keys,
        }
    }

    /// The division with this code.
    pub fn division_by_code(&self, code: &str) -> Option<DivisionId> {
        self.division_keys.get(code.trim()).copied()
    }

    /// The matter an engine label names: a matter code or a path of names from the root.
    pub fn catalog_matter(&self, label: &str) -> Option<MatterId> {
        self.matter_keys.get(label.trim()).copied()
    }

    /// What the responsibility list suggests for a matter in a division: the lead unit, its
    /// co-units, the rule and the deadlines (the rule's override, else the matter's).
    pub fn suggest(
        &self,
        matter: MatterId,
        division: Option<DivisionId>,
    ) -> Result<Assignment, ApiError> {
        let policy = self
            .catalog
            .policy(matter)
            .ok_or_else(|| ApiError::not_found("matter"))?;
        let division = division.unwrap_or_else(|| {
            self.divisions
                .iter()
                .find(|d| d.parent.is_none())
                .map(|d| d.id)
                .unwrap_or(DivisionId(0))
        });
        match self
            .list
            .resolve(&self.catalog, &self.divisions, matter, division)
        {
            Resolution::Resolved(rule) => Ok(Assignment {
                lead: rule.lead,
                co_units: rule.co_units.clone(),
                rule: Some(rule.id),
                legal_basis: rule.legal_basis.clone(),
                deadlines: rule.deadlines.unwrap_or(policy.deadlines),
            }),
            Resolution::Gap { fallback } => Ok(Assignment {
                lead: fallback,
                co_units: Vec::new(),
                rule: None,
                legal_basis: String::new(),
                deadlines: policy.deadlines,
            }),
            Resolution::Conflict(_) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "responsibility_conflict",
                "职责清单对该事项存在冲突，请人工指定主办单位",
                "the responsibility list is in conflict for this matter and place; choose the lead unit",
            )),
        }
    }
}

/// A cache of [`City`], filled on first use and tagged with the store's reference-data version
/// read before loading, so that the reference watcher ([`crate::jobs`]) can drop a copy that
/// another node's write has made stale.
#[derive(Debug, Clone, Default)]
pub struct CityCache {
    inner: Arc<RwLock<Option<VersionedCity>>>,
    /// Held while one caller loads the city: the others wait for its copy instead of each
    /// loading and indexing the whole city at once (a node started under load).
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// A loaded city with the reference-data version it was loaded at.
type VersionedCity = (i64, Arc<City>);

impl CityCache {
    /// The city, loading it if needed. 503 `city_not_configured` while the store holds none.
    pub async fn get(&self, store: &Store) -> Result<Arc<City>, ApiError> {
        if let Some((_, city)) = self.inner.read().await.clone() {
            return Ok(city);
        }
        let _loading = self.loading.lock().await;
        if let Some((_, city)) = self.inner.read().await.clone() {
            return Ok(city);
        }
        let not_configured = |_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "city_not_configured",
                "尚未导入城市基础数据（区划、事项、职责清单）",
                "no city is configured yet (divisions, catalogue, responsibility list)",
            )
        };
        // Read before the data: a write made while loading leaves the copy older than the store.
        let version = store.reference_version().await?;
        let catalog = store.load_catalog().await.map_err(not_configured)?;
        let divisions = store.load_divisions().await.map_err(not_configured)?;
        let list = store
            .load_responsibility_list()
            .await
            .map_err(not_configured)?;
        let units = store
            .load_units()
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let city = tokio::task::spawn_blocking(move || City::new(catalog, divisions, list, units))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "city_load_failed",
                    "城市基础数据加载失败",
                    "the city's reference data could not be loaded",
                )
            })?;
        let city = Arc::new(city);
        *self.inner.write().await = Some((version, city.clone()));
        Ok(city)
    }

    /// Forgets the cached city (after an administrator changes reference data on this node).
    pub async fn invalidate(&self) {
        *self.inner.write().await = None;
    }

    /// Forgets the cached city if it was loaded before reference-data version `version`;
    /// returns whether it did.
    pub async fn invalidate_older_than(&self, version: i64) -> bool {
        let mut guard = self.inner.write().await;
        match &*guard {
            Some((loaded, _)) if *loaded < version => {
                *guard = None;
                true
            }
            _ => false,
        }
    }
}
