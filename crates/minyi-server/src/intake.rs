//! The intelligent engine at intake (智能引擎): every new request, whatever its channel, is
//! analysed before it is stored, and what the engine found is stored with it in the same
//! transaction.
//!
//! - **Location**: when the requester gave no division, the place names in the title, text and
//!   address are resolved to the deepest consistent division (a compound, a community …).
//! - **Urgency**: danger words (gas leak, fire, people trapped …) mark the request urgent.
//! - **Category**: the classifier (if a model is loaded) proposes the top categories with
//!   calibrated confidence and the words that weighed most.
//! - **Auto-dispatch (智能分拨)**: when the best category is a leaf matter, its confidence is at
//!   least the threshold, the matter is not a consultation, and the responsibility list names
//!   exactly one lead unit for it at that place, the request is classified and dispatched by the
//!   system in the intake transaction: what is acknowledged to the citizen is already routed.
//!   Otherwise it waits in the dispatch queue with the suggestion. A category given at intake
//!   (an Open311 service code, a category the citizen picked) is kept as the requester's choice
//!   and the list's unit for it is suggested, but a dispatcher confirms it: requesters often pick
//!   the wrong category.

use crate::reference::City;
use minyi_domain::catalog::Urgency;
use minyi_domain::request::{Assignment, CategorySource, Classification, Command};
use minyi_domain::responsibility::Resolution;
use minyi_domain::unit::Actor;
use minyi_domain::{DivisionId, MatterId};
use minyi_engine::Model;
use minyi_engine::urgency::{UrgencyDetector, UrgencyLevel};
use minyi_store::NewRequest;
use serde::Serialize;
use std::path::Path;

/// The default confidence at or above which a request is dispatched without a person.
pub const DEFAULT_AUTO_DISPATCH_THRESHOLD: f32 = 0.9;

/// How many category candidates are kept.
pub const CANDIDATES: usize = 3;

/// The engine as the server holds it: built once, shared by every request.
#[derive(Debug)]
pub struct IntakeEngine {
    model: Option<Model>,
    urgency: UrgencyDetector,
    /// Confidence at or above which intake dispatches on its own; above 1 turns it off.
    pub auto_dispatch_threshold: f32,
}

impl Default for IntakeEngine {
    fn default() -> Self {
        IntakeEngine {
            model: None,
            urgency: UrgencyDetector::new(),
            auto_dispatch_threshold: DEFAULT_AUTO_DISPATCH_THRESHOLD,
        }
    }
}

/// One category candidate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CategoryCandidate {
    /// The model's label (a catalogue path or code).
    pub label: String,
    /// The catalogue matter the label names, if any.
    pub matter_id: Option<i64>,
    pub leaf: bool,
    pub confidence: f32,
    /// The words that weighed most for it.
    pub words: Vec<String>,
}

/// An open request that a new one repeats.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateCandidate {
    pub parent_id: i64,
    /// Jaccard similarity of the character shingles of the two texts, 0–1.
    pub similarity: f64,
}

/// Where the engine placed the request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LocatedPlace {
    pub division_id: i64,
    pub path: String,
    /// `unique`, `ambiguous` or `conflict`.
    pub resolution: &'static str,
    /// The names found.
    pub evidence: Vec<String>,
}

/// What the engine found at intake; stored as JSON beside the request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// The model's identity, when a model is loaded.
    pub model: Option<String>,
    pub categories: Vec<CategoryCandidate>,
    pub located: Option<LocatedPlace>,
    /// `ordinary`, `urgent` or `emergency`.
    pub urgency: &'static str,
    pub danger_words: Vec<String>,
    /// The lead unit the responsibility list gives for the best leaf category, if exactly one.
    pub suggested_lead_unit_id: Option<i64>,
    pub auto_dispatched: bool,
    /// The open request this one most likely repeats (重复件), for a dispatcher to merge or
    /// dismiss.
    pub duplicate_of: Option<DuplicateCandidate>,
    /// Why it was not dispatched automatically (`no_model`, `below_threshold`, `not_a_leaf`,
    /// `consultation`, `no_rule`, `conflict`, `no_place`, `category_given`), or `dispatched`.
    pub decision: &'static str,
}

fn urgency_name(level: UrgencyLevel) -> &'static str {
    match level {
        UrgencyLevel::Ordinary => "ordinary",
        UrgencyLevel::Urgent => "urgent",
        UrgencyLevel::Emergency => "emergency",
    }
}

impl IntakeEngine {
    /// An engine with a classifier loaded from a model file (`minyi engine train`).
    pub fn with_model_file(path: &Path, threshold: f32) -> Result<Self, minyi_engine::EngineError> {
        Ok(IntakeEngine {
            model: Some(Model::load(path)?),
            urgency: UrgencyDetector::new(),
            auto_dispatch_threshold: threshold,
        })
    }

    /// An engine around a model already in memory.
    pub fn with_model(model: Model, threshold: f32) -> Self {
        IntakeEngine {
            model: Some(model),
            urgency: UrgencyDetector::new(),
            auto_dispatch_threshold: threshold,
        }
    }

    /// Whether a classifier is loaded.
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// Analyses a new request: fills in the division when the requester gave none, and, when
    /// the rules of auto-dispatch hold, adds the system's classification and dispatch to the
    /// intake transaction. Returns what was found, to be stored with the request.
    pub fn analyse(&self, city: &City, new: &mut NewRequest) -> Suggestion {
        let mut suggestion = Suggestion {
            model: self
                .model
                .as_ref()
                .map(|m| format!("{} labels, {} features", m.labels().len(), m.n_features())),
            categories: Vec::new(),
            located: None,
            urgency: "ordinary",
            danger_words: Vec::new(),
            suggested_lead_unit_id: None,
            auto_dispatched: false,
            duplicate_of: None,
            decision: "no_model",
        };

        // Location.
        if let Some(gazetteer) = &city.gazetteer {
            let found = gazetteer.locate(&new.title, &new.text, &new.location.address);
            if let Some(id) = found.division {
                let division = DivisionId(id as i64);
                suggestion.located = Some(LocatedPlace {
                    division_id: division.0,
                    path: city.divisions.path_name(division),
                    resolution: match found.resolution {
                        minyi_engine::locate::Resolution::Unique => "unique",
                        minyi_engine::locate::Resolution::Ambiguous => "ambiguous",
                        minyi_engine::locate::Resolution::Conflict => "conflict",
                        minyi_engine::locate::Resolution::None => "none",
                    },
                    evidence: found.evidence.iter().map(|e| e.matched.clone()).collect(),
                });
                if new.location.division.is_none() {
                    new.location.division = Some(division);
                }
            }
        }

        // Urgency.
        let report = self.urgency.assess(&format!("{}\n{}", new.title, new.text));
        suggestion.urgency = urgency_name(report.level);
        suggestion.danger_words = report.hits.iter().map(|h| h.term.clone()).collect();

        // Category: one given at intake (an Open311 service, a category the citizen picked)
        // is taken as it is; otherwise the classifier's best leaf above the threshold.
        let given = new.follow_up.iter().find_map(|(_, c)| match c {
            Command::Classify { classification } => Some(classification.matter),
            _ => None,
        });
        if let Some(model) = &self.model {
            for p in model.predict(&new.title, &new.text, CANDIDATES) {
                let matter = city.catalog_matter(&p.label);
                suggestion.categories.push(CategoryCandidate {
                    leaf: matter.is_some_and(|m| city.catalog.is_leaf(m)),
                    matter_id: matter.map(|m| m.0),
                    confidence: p.confidence,
                    words: p
                        .explanation
                        .iter()
                        .take(5)
                        .map(|(w, _)| w.clone())
                        .collect(),
                    label: p.label,
                });
            }
        }
        let (matter, confidence) = match (given, suggestion.categories.first()) {
            // Never above the threshold: a dispatcher confirms a requester's choice.
            (Some(m), _) => (m, f32::NEG_INFINITY),
            (None, None) => {
                suggestion.decision = "no_model";
                return suggestion;
            }
            (None, Some(best)) => match best.matter_id.map(MatterId).filter(|_| best.leaf) {
                Some(m) => (m, best.confidence),
                None => {
                    suggestion.decision = "not_a_leaf";
                    return suggestion;
                }
            },
        };
        let Some(policy) = city.catalog.policy(matter) else {
            suggestion.decision = "not_a_leaf";
            return suggestion;
        };
        let Some(division) = new.location.division else {
            suggestion.decision = "no_place";
            return suggestion;
        };
        let rule = match city
            .list
            .resolve(&city.catalog, &city.divisions, matter, division)
        {
            Resolution::Resolved(rule) => rule.clone(),
            Resolution::Gap { .. } => {
                suggestion.decision = "no_rule";
                return suggestion;
            }
            Resolution::Conflict(_) => {
                suggestion.decision = "conflict";
                return suggestion;
            }
        };
        suggestion.suggested_lead_unit_id = Some(rule.lead.0);
        if policy.consultation {
            suggestion.decision = "consultation";
            return suggestion;
        }
        if given.is_some() {
            suggestion.decision = "category_given";
            return suggestion;
        }
        if confidence < self.auto_dispatch_threshold {
            suggestion.decision = "below_threshold";
            return suggestion;
        }
        let urgency = if report.level == UrgencyLevel::Ordinary {
            policy.urgency
        } else {
            Urgency::Urgent
        };
        if given.is_none() {
            new.follow_up.push((
                Actor::SYSTEM,
                Command::Classify {
                    classification: Classification {
                        matter,
                        source: CategorySource::Engine,
                        confidence: Some(confidence),
                        urgency,
                        consultation: false,
                    },
                },
            ));
        }
        new.follow_up.push((
            Actor::SYSTEM,
            Command::Dispatch {
                assignment: Assignment {
                    lead: rule.lead,
                    co_units: rule.co_units.clone(),
                    rule: Some(rule.id),
                    legal_basis: rule.legal_basis.clone(),
                    deadlines: rule.deadlines.unwrap_or(policy.deadlines),
                },
            },
        ));
        suggestion.auto_dispatched = true;
        suggestion.decision = "dispatched";
        suggestion
    }
}

/// Files a new request through the engine: analyses it (when the city is configured), then
/// stores it with the suggestion and any automatic classification and dispatch in one
/// transaction. Every channel (web, phone, Open311, enterprise visits) comes through here.
/// Returns the request and whether it was created (false: an Idempotency-Key replay).
pub async fn file(
    state: &crate::AppState,
    mut new: NewRequest,
    actor: Actor,
) -> Result<(minyi_domain::request::Request, bool), crate::error::ApiError> {
    let now = chrono::Utc::now();
    // No city yet: the request is still taken; a dispatcher classifies it later.
    let city = state.city.get(&state.store).await.ok();
    let mut suggestion = city
        .as_ref()
        .map(|city| state.engine.analyse(city, &mut new));
    if let (Some(city), Some(s)) = (&city, suggestion.as_mut()) {
        s.duplicate_of = duplicate_of(state, city, &new, now).await;
    }
    let payload = suggestion
        .as_ref()
        .and_then(|s| serde_json::to_string(s).ok());
    let (request, created) = state
        .store
        .create_request_with_suggestion(new, payload.as_deref(), actor, now)
        .await?;
    if created && let Some(city) = &city {
        // The engine's advice, not part of what was acknowledged: a failure is logged and the
        // request stands.
        if let Some(d) = suggestion.as_ref().and_then(|s| s.duplicate_of.as_ref())
            && let Err(e) = state
                .store
                .flag_duplicate(request.id.0, d.parent_id, d.similarity, now)
                .await
        {
            tracing::warn!(code = e.code(), "could not flag a duplicate");
        }
        // The hot-spot detector reads the new request after the answer, off the citizen's
        // wait (the next intake, and the alert list, read it anyway).
        let state = state.clone();
        let city = city.clone();
        tokio::spawn(async move {
            if let Err(e) = state.signals.catch_up(&state.store, &city, now).await {
                tracing::warn!(
                    code = e.code(),
                    "could not read new requests into the detectors"
                );
            }
        });
    }
    Ok((request, created))
}

/// The open request that `new` most likely repeats, after reading what other nodes stored.
pub(crate) async fn duplicate_of(
    state: &crate::AppState,
    city: &City,
    new: &NewRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<DuplicateCandidate> {
    if let Err(e) = state.signals.catch_up(&state.store, city, now).await {
        tracing::warn!(
            code = e.code(),
            "could not read new requests into the detectors"
        );
    }
    match state
        .signals
        .find_duplicate(
            &state.store,
            city,
            new.location.division.map(|d| d.0),
            &new.title,
            &new.text,
            now,
        )
        .await
    {
        Ok(found) => found.map(|m| DuplicateCandidate {
            parent_id: m.parent as i64,
            similarity: m.similarity,
        }),
        Err(e) => {
            tracing::warn!(code = e.code(), "duplicate check failed");
            None
        }
    }
}
