//! The demo city (示范城市): Shenzhen's real districts, streets and communities with generated
//! compounds, units at every level, the real 3-level matter catalogue, a complete responsibility
//! list, one staff account per role and 90 days of history produced by the domain's own
//! commands.

pub mod city;
pub mod enterprise;
pub mod history;

use anyhow::Context;
use chrono::{DateTime, Utc};
use minyi_domain::calendar::{WorkCalendar, WorkingHours};
use minyi_domain::unit::{Actor, Role};
use minyi_store::Store;
use rand::SeedableRng;
use std::path::Path;

/// The official holidays and make-up working days 2024–2026, shipped with the binary.
pub const CALENDAR_CSV: &str = include_str!("../../../../data/calendar/cn-2024-2026.csv");
/// The demo knowledge base (知识库): common consultations and their answers, written for the demo.
pub const KNOWLEDGE_JSON: &str = include_str!("../../../../data/knowledge/demo-zh.json");

/// The most requests simulated and held in memory at once.
const HISTORY_CHUNK: usize = 100_000;

/// How big a demo to make.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub requests: usize,
    pub days: i64,
    pub seed: u64,
    pub end: DateTime<Utc>,
}

/// Reports a long job's progress: a phase name, then positions out of a length.
pub trait Progress {
    fn phase(&mut self, name: &str, len: u64);
    fn advance(&mut self, position: u64);
    fn finish(&mut self);
}

/// What seeding did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    pub divisions: usize,
    pub units: usize,
    pub matters: usize,
    pub rules: usize,
    pub requests: usize,
    pub events: usize,
    /// The enterprise service programme (组工助企行).
    pub enterprise: enterprise::ProgrammeReport,
    pub seconds: f64,
}

/// Seeds the demo city into an empty store and writes `demo-credentials.json` into `dir`.
pub async fn seed(
    store: &Store,
    dir: &Path,
    options: &SeedOptions,
    progress: &mut dyn Progress,
) -> anyhow::Result<SeedReport> {
    let mut seeder = Seeder::city(store, dir, options, progress).await?;
    seeder.history(store, options.requests, progress).await?;
    seeder.programme(store, progress).await
}

/// What the simulated history happens in, owned so that a simulation can run on its own thread.
struct WorldData {
    catalog: minyi_domain::catalog::Catalog,
    divisions: minyi_domain::division::DivisionTree,
    list: minyi_domain::responsibility::ResponsibilityList,
    calendar: std::sync::Arc<WorkCalendar>,
    operator: Actor,
    dispatcher: Actor,
}

impl WorldData {
    fn world(&self) -> history::World<'_> {
        history::World {
            catalog: &self.catalog,
            divisions: &self.divisions,
            list: &self.list,
            calendar: &self.calendar,
            operator: self.operator,
            dispatcher: self.dispatcher,
        }
    }
}

/// Seeding in steps: the city, then history (in as many calls as wanted, so a benchmark can
/// measure at several sizes of one database), then the enterprise programme.
pub struct Seeder {
    started: std::time::Instant,
    world: std::sync::Arc<WorldData>,
    rng: Option<rand::rngs::StdRng>,
    helper: Option<minyi_domain::UserId>,
    days: i64,
    end: DateTime<Utc>,
    divisions: usize,
    units: usize,
    matters: usize,
    rules: usize,
    requests: usize,
    events: usize,
}

impl Seeder {
    /// Imports the city (divisions, units, catalogue, responsibility list, calendar, knowledge,
    /// staff accounts, an Open311 key) and writes `demo-credentials.json` into `dir`.
    pub async fn city(
        store: &Store,
        dir: &Path,
        options: &SeedOptions,
        progress: &mut dyn Progress,
    ) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
        progress.phase("生成示范城市 generating the city", 6);
        let city = city::generate(&mut rng)?;
        store
            .import_divisions(&city.divisions)
            .await
            .context("importing divisions")?;
        progress.advance(1);
        store
            .import_units(&city.units)
            .await
            .context("importing units")?;
        progress.advance(2);
        store
            .import_matters(&city.matters)
            .await
            .context("importing the catalogue")?;
        progress.advance(3);
        store
            .replace_rules(&city.rules)
            .await
            .context("importing rules")?;
        store.set_fallback_unit(&city.fallback_unit).await?;
        progress.advance(4);
        let overrides = WorkCalendar::parse_overrides_csv(CALENDAR_CSV)?;
        store
            .replace_calendar(&overrides, &WorkingHours::standard())
            .await?;
        let knowledge: Vec<minyi_store::KnowledgeEntry> =
            serde_json::from_str(KNOWLEDGE_JSON).context("reading the demo knowledge base")?;
        store
            .upsert_knowledge(&knowledge, 0, options.end)
            .await
            .context("importing the demo knowledge base")?;
        progress.advance(5);
        let mut credentials = serde_json::Map::new();
        let mut operator = None;
        let mut dispatcher = None;
        let mut helper = None;
        for account in &city.staff {
            let id = store
                .create_user(account, options.end.timestamp_millis())
                .await
                .with_context(|| format!("creating {}", account.username))?;
            match account.role {
                Role::Operator => operator = Some(Actor::staff(id, Role::Operator)),
                Role::Dispatcher => dispatcher = Some(Actor::staff(id, Role::Dispatcher)),
                Role::ServiceTeam => helper = Some(id),
                _ => {}
            }
            credentials.insert(
                account.role.as_str().to_string(),
                serde_json::json!({
                    "username": account.username,
                    "password": account.password,
                    "unit": account.unit_code,
                }),
            );
        }
        let open311_api_key = store
            .create_api_key("demo Open311 client", options.end)
            .await
            .context("creating the Open311 API key")?;
        let credentials_path = dir.join("demo-credentials.json");
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            &credentials_path,
            serde_json::to_string_pretty(&serde_json::json!({
                "accounts": credentials,
                "open311_api_key": open311_api_key,
            }))?,
        )
        .with_context(|| format!("writing {}", credentials_path.display()))?;
        progress.advance(6);
        progress.finish();

        let world = WorldData {
            catalog: store.load_catalog().await?,
            divisions: store.load_divisions().await?,
            list: store.load_responsibility_list().await?,
            calendar: store.calendar(),
            operator: operator.context("the demo has no operator account")?,
            dispatcher: dispatcher.context("the demo has no dispatcher account")?,
        };
        Ok(Self {
            started,
            world: std::sync::Arc::new(world),
            rng: Some(rng),
            helper,
            days: options.days,
            end: options.end,
            divisions: city.divisions.len(),
            units: city.units.len(),
            matters: city.matters.len(),
            rules: city.rules.len(),
            requests: 0,
            events: 0,
        })
    }

    /// Requests stored so far (split children included) and their events.
    pub fn stored(&self) -> (usize, usize) {
        (self.requests, self.events)
    }

    /// Simulates `requests` more requests over the window and stores them. Large histories (the
    /// KPI and search benchmarks) are simulated in chunks of the same window so that memory
    /// stays bounded, and the next chunk is simulated on a blocking thread while this one is
    /// written; the demo's 53,000 requests are one chunk.
    pub async fn history(
        &mut self,
        store: &Store,
        requests: usize,
        progress: &mut dyn Progress,
    ) -> anyhow::Result<()> {
        progress.phase(
            "模拟并写入90天诉求 simulating and storing the history",
            requests as u64,
        );
        let simulate = |world: std::sync::Arc<WorldData>,
                        mut rng: rand::rngs::StdRng,
                        config: history::HistoryConfig| {
            tokio::task::spawn_blocking(move || {
                let seeds = history::simulate(&world.world(), &config, &mut rng, |_| {});
                (seeds, rng, config.requests)
            })
        };
        let config = |requests: usize, first_id: i64| history::HistoryConfig {
            requests,
            days: self.days,
            end: self.end,
            first_id,
        };
        let mut remaining = requests;
        let mut done = 0u64;
        let mut next_id = store.next_request_id().await?;
        let mut pending = None;
        if remaining > 0 {
            let chunk = remaining.min(HISTORY_CHUNK);
            remaining -= chunk;
            let rng = self
                .rng
                .take()
                .context("the seeder's generator is in use")?;
            pending = Some(simulate(self.world.clone(), rng, config(chunk, next_id)));
        }
        while let Some(running) = pending.take() {
            let (seeds, rng, chunk) = running.await.context("simulating the history")?;
            next_id = seeds
                .iter()
                .map(|s| s.request.id.0 + 1)
                .max()
                .unwrap_or(next_id)
                .max(next_id);
            if remaining > 0 {
                let next = remaining.min(HISTORY_CHUNK);
                remaining -= next;
                pending = Some(simulate(self.world.clone(), rng, config(next, next_id)));
            } else {
                self.rng = Some(rng);
            }
            self.requests += seeds.len();
            self.events += seeds.iter().map(|s| s.events.len()).sum::<usize>();
            let per_seed = chunk as f64 / seeds.len().max(1) as f64;
            let mut stored = 0usize;
            for batch in seeds.chunks(2000) {
                store.insert_history(batch).await?;
                stored += batch.len();
                progress.advance(done + (stored as f64 * per_seed) as u64);
            }
            done += chunk as u64;
            progress.advance(done);
        }
        progress.finish();
        // SQLite indexes the history for search after it is stored (the store's indexer
        // follows the events); done here so that the first search does not wait for it.
        let mut indexing = false;
        store
            .update_search_index(|indexed, events| {
                if !indexing {
                    progress.phase("建立检索索引 indexing the history for search", events);
                    indexing = true;
                }
                progress.advance(indexed);
            })
            .await?;
        if indexing {
            progress.finish();
        }
        Ok(())
    }

    /// Seeds the enterprise service programme (组工助企行) and reports what seeding did.
    pub async fn programme(
        mut self,
        store: &Store,
        progress: &mut dyn Progress,
    ) -> anyhow::Result<SeedReport> {
        progress.phase("助企服务 enterprise programme", 1);
        let mut rng = self
            .rng
            .take()
            .context("the seeder's generator is in use")?;
        let programme = enterprise::seed(
            store,
            &mut rng,
            enterprise::ProgrammeSize::default(),
            self.helper,
            self.end,
        )
        .await
        .context("seeding the enterprise programme")?;
        progress.advance(1);
        progress.finish();
        Ok(SeedReport {
            divisions: self.divisions,
            units: self.units,
            matters: self.matters,
            rules: self.rules,
            requests: self.requests,
            events: self.events,
            enterprise: programme,
            seconds: self.started.elapsed().as_secs_f64(),
        })
    }
}
