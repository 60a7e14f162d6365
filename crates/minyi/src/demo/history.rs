//! 90 days of generated history for the demo city, produced by the domain's own commands.
//!
//! A discrete-event simulation: every request gets a plan drawn at random (will it be returned,
//! extended, paused, rated, urged, merged as a duplicate, split …); its next action is scheduled
//! on a global timeline, and actions run in time order through [`Request::execute`], exactly as
//! the server would run them. Before each action the request's due clocks are swept as the
//! background sweeper would. Requests whose next action falls after the end of the window stay
//! where they are, which leaves a realistic open workload: fresh requests waiting for dispatch,
//! units with due-soon and overdue work, replies waiting for a callback.
//!
//! Message texts are generated from templates and the catalogue; no real message is used.

use chrono::{DateTime, Duration, Utc};
use minyi_domain::calendar::WorkCalendar;
use minyi_domain::catalog::Catalog;
use minyi_domain::division::{DivisionLevel, DivisionTree};
use minyi_domain::personal::{PersonName, PhoneNumber, TrackingCode};
use minyi_domain::request::{
    self, Assignment, CategorySource, Channel, Classification, Command, Event, Intake, Location,
    Request, RequesterKind, Satisfaction, State,
};
use minyi_domain::responsibility::{Resolution, ResponsibilityList};
use minyi_domain::unit::{Actor, Role};
use minyi_domain::{DivisionId, MatterId, RequestId, UnitId};
use minyi_store::{RequesterInfo, SeedRequest};
use rand::Rng;
use rand::seq::IndexedRandom;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// Requests received over the window (children of splits come on top).
    pub requests: usize,
    /// Length of the window in days, ending at `end`.
    pub days: i64,
    pub end: DateTime<Utc>,
    /// The id the first request gets.
    pub first_id: i64,
}

/// The city the history happens in.
pub struct World<'a> {
    pub catalog: &'a Catalog,
    pub divisions: &'a DivisionTree,
    pub list: &'a ResponsibilityList,
    pub calendar: &'a WorkCalendar,
    /// The demo's operator and dispatcher accounts, who act in the history.
    pub operator: Actor,
    pub dispatcher: Actor,
}

/// What will happen to one request, drawn when it is received.
#[derive(Debug, Clone, Default)]
struct Plan {
    engine_confident: bool,
    /// The dispatcher holds the request for a cross-department consultation (会商) first.
    needs_review: bool,
    answer_at_intake: bool,
    duplicate_of: Option<usize>,
    split: bool,
    returns: bool,
    arbitrate: bool,
    extension: Option<(u32, bool)>,
    pause: bool,
    urge: bool,
    late_sign: bool,
    late_reply: bool,
    /// Ratings for each round (reply → rating); `None` closes without a rating.
    ratings: Vec<Option<Satisfaction>>,
    /// The matter the text was generated about (what a perfect classifier would find).
    preset: Option<MatterId>,
    // Progress through the plan.
    co_opinion_given: bool,
    urged: bool,
    extension_requested: bool,
    paused_once: bool,
    merge_tried: bool,
    returned_once: bool,
}

struct Sim {
    request: Request,
    events: Vec<Event>,
    requester: RequesterInfo,
    plan: Plan,
}

/// The next action of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Classify,
    Merge,
    Split,
    AnswerAtIntake,
    Dispatch,
    Return,
    Rule,
    Sign,
    CoOpinion,
    Urge,
    RequestExtension,
    DecideExtension,
    Pause,
    Resume,
    Reply,
    Rate,
    CloseUnrated,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "邓", "冯", "韩", "曹", "曾", "彭",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "慧", "建国", "志强", "海燕", "小红", "晓明", "子豪", "梓涵", "浩然",
];
const ROADS: &[&str] = &[
    "深南大道",
    "北环大道",
    "滨河大道",
    "红荔路",
    "华强北路",
    "建设路",
    "人民路",
    "东门路",
    "宝安大道",
    "龙岗大道",
    "布吉路",
    "梅林路",
    "沙河西路",
    "南海大道",
    "前海路",
    "创业路",
    "新湖路",
    "民治大道",
];
const DURATIONS: &[&str] = &["两天", "一周", "半个月", "一个多月", "好几天", "三天"];
const ASKS: &[&str] = &[
    "请相关部门尽快处理。",
    "希望有关部门核实并给予答复。",
    "多次反映未解决，请督促落实。",
    "影响居民正常生活，恳请尽快解决。",
    "请派人到现场查看。",
];

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

fn person_name(rng: &mut impl Rng) -> Option<PersonName> {
    let name = format!(
        "{}{}",
        SURNAMES.choose(rng).copied().unwrap_or("王"),
        GIVEN.choose(rng).copied().unwrap_or("伟")
    );
    PersonName::parse(&name).ok()
}

fn phone(rng: &mut impl Rng) -> Option<PhoneNumber> {
    let prefix = [
        "135", "136", "137", "138", "139", "150", "151", "158", "166", "177", "186", "188", "199",
    ]
    .choose(rng)
    .copied()
    .unwrap_or("138");
    PhoneNumber::parse(&format!(
        "{prefix}{:08}",
        rng.random_range(0..100_000_000u32)
    ))
    .ok()
}

/// Draws a reception time in the window, weighted toward working hours and weekdays.
fn reception_time(rng: &mut impl Rng, start: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    loop {
        let day = rng.random_range(0..days);
        // Local hour 0..24 (UTC+8), more in the day.
        let hour_weights = [
            1, 1, 1, 1, 1, 2, 3, 6, 9, 12, 12, 11, 8, 9, 11, 11, 10, 9, 8, 7, 6, 4, 3, 2,
        ];
        let total: u32 = hour_weights.iter().sum();
        let mut pick = rng.random_range(0..total);
        let mut hour = 0;
        for (h, w) in hour_weights.iter().enumerate() {
            if pick < *w {
                hour = h as i64;
                break;
            }
            pick -= w;
        }
        let local_midnight = start + Duration::days(day);
        let at =
            local_midnight + Duration::hours(hour) + Duration::seconds(rng.random_range(0..3600));
        let weekday = (at + Duration::hours(8)).format("%u").to_string();
        let weekend = weekday == "6" || weekday == "7";
        if !weekend || rng.random_bool(0.6) {
            return at;
        }
    }
}

struct Generator<'w, 'a, R: Rng> {
    world: &'w World<'a>,
    rng: R,
    sims: Vec<Sim>,
    queue: BinaryHeap<Reverse<(i64, usize)>>,
    pending: Vec<Option<(DateTime<Utc>, Action)>>,
    next_id: i64,
    end: DateTime<Utc>,
    leaf_matters: Vec<(MatterId, u32)>,
    matter_weight_total: u32,
    leaf_divisions: Vec<DivisionId>,
}

impl<R: Rng> Generator<'_, '_, R> {
    fn pick_matter(&mut self) -> MatterId {
        let mut pick = self.rng.random_range(0..self.matter_weight_total);
        for (m, w) in &self.leaf_matters {
            if pick < *w {
                return *m;
            }
            pick -= w;
        }
        self.leaf_matters[0].0
    }

    fn place_words(&self, division: DivisionId) -> (String, String) {
        let d = self.world.divisions;
        let path: Vec<&str> = d
            .self_and_ancestors(division)
            .into_iter()
            .rev()
            .filter_map(|id| d.get(id))
            .filter(|x| x.level != DivisionLevel::City)
            .map(|x| x.name.as_str())
            .collect();
        let leaf = d.get(division).map(|x| x.name.clone()).unwrap_or_default();
        (path.concat(), leaf)
    }

    fn new_intake(
        &mut self,
        matter: MatterId,
        division: DivisionId,
        parent: Option<RequestId>,
        channel: Channel,
    ) -> Intake {
        let name = self
            .world
            .catalog
            .get(matter)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let (path, place) = self.place_words(division);
        let road = ROADS.choose(&mut self.rng).copied().unwrap_or("人民路");
        let number = self.rng.random_range(1..300);
        let duration = DURATIONS.choose(&mut self.rng).copied().unwrap_or("一周");
        let ask = ASKS
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("请尽快处理。");
        let title = match self.rng.random_range(0..3) {
            0 => format!("关于{place}{name}的问题"),
            1 => format!("{place}{name}问题反映"),
            _ => format!("反映{name}相关问题"),
        };
        let text = match self.rng.random_range(0..3) {
            0 => format!("本人住在{place}，{road}附近的{name}问题已经持续{duration}，{ask}"),
            1 => format!(
                "{path}{road}{number}号一带存在{name}方面的问题，{duration}以来一直没有改善，{ask}"
            ),
            _ => format!("市民来电反映：{place}周边{name}问题突出，已有{duration}，{ask}"),
        };
        Intake {
            tracking_code: TrackingCode::from_entropy(self.rng.random()),
            channel,
            requester_kind: if channel == Channel::EnterpriseVisit {
                RequesterKind::Enterprise
            } else {
                RequesterKind::Citizen
            },
            title,
            text,
            location: Location {
                division: Some(division),
                address: format!("{path}{road}{number}号"),
                lat_lng: None,
            },
            parent,
        }
    }

    fn draw_plan(&mut self, consultation: bool) -> Plan {
        let r = &mut self.rng;
        let rate = |r: &mut R| -> Option<Satisfaction> {
            let x: f64 = r.random();
            if x < 0.12 {
                None
            } else if x < 0.80 {
                Some(Satisfaction::Satisfied)
            } else if x < 0.93 {
                Some(Satisfaction::BasicallySatisfied)
            } else {
                Some(Satisfaction::Unsatisfied)
            }
        };
        let mut ratings = vec![rate(r)];
        while matches!(ratings.last(), Some(Some(Satisfaction::Unsatisfied))) && ratings.len() < 4 {
            // After a reopen, the second attempt usually satisfies.
            ratings.push(if r.random_bool(0.7) {
                Some(Satisfaction::Satisfied)
            } else {
                rate(r)
            });
        }
        Plan {
            engine_confident: r.random_bool(0.72),
            needs_review: r.random_bool(0.015),
            answer_at_intake: consultation && r.random_bool(0.7),
            split: r.random_bool(0.012),
            returns: r.random_bool(0.04),
            arbitrate: r.random_bool(0.4),
            extension: r
                .random_bool(0.05)
                .then(|| (r.random_range(2..=10), r.random_bool(0.8))),
            pause: r.random_bool(0.03),
            urge: r.random_bool(0.06),
            late_sign: r.random_bool(0.03),
            late_reply: r.random_bool(0.025),
            ratings,
            ..Plan::default()
        }
    }

    fn assignment(&self, matter: MatterId, division: DivisionId) -> Option<Assignment> {
        let world = self.world;
        let deadlines = world.catalog.policy(matter)?.deadlines;
        match world
            .list
            .resolve(world.catalog, world.divisions, matter, division)
        {
            Resolution::Resolved(rule) => Some(Assignment {
                lead: rule.lead,
                co_units: rule.co_units.clone(),
                rule: Some(rule.id),
                legal_basis: rule.legal_basis.clone(),
                deadlines: rule.deadlines.unwrap_or(deadlines),
            }),
            Resolution::Gap { fallback } => Some(Assignment {
                lead: fallback,
                co_units: vec![],
                rule: None,
                legal_basis: String::new(),
                deadlines,
            }),
            Resolution::Conflict(_) => None,
        }
    }

    fn receive(&mut self, intake: Intake, at: DateTime<Utc>, plan: Plan) -> usize {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let actor = match intake.channel {
            Channel::Hotline => self.world.operator,
            _ => Actor::REQUESTER,
        };
        let (request, event) = Request::receive(id, intake, actor, at);
        let requester = RequesterInfo {
            name: person_name(&mut self.rng),
            phone: phone(&mut self.rng),
            address: String::new(),
            enterprise_name: None,
        };
        self.sims.push(Sim {
            request,
            events: vec![event],
            requester,
            plan,
        });
        self.pending.push(None);
        let idx = self.sims.len() - 1;
        let delay = minutes(self.rng.random_range(1..20));
        self.schedule(idx, at + delay, Action::Classify);
        idx
    }

    fn schedule(&mut self, idx: usize, at: DateTime<Utc>, action: Action) {
        self.pending[idx] = Some((at, action));
        self.queue.push(Reverse((at.timestamp_millis(), idx)));
    }

    /// Runs the sweeper for one request up to `t`, as the background job would have.
    fn catch_up(&mut self, idx: usize, t: DateTime<Utc>) {
        let calendar = self.world.calendar;
        let sim = &mut self.sims[idx];
        while let Some(check) = request::next_clock_check(&sim.request) {
            if check > t {
                break;
            }
            let at = check.max(sim.request.last_event_at);
            let commands = request::due_clock_events(&sim.request, at);
            if commands.is_empty() {
                break;
            }
            for command in commands {
                if let Ok(events) = sim.request.execute(&Actor::SYSTEM, &command, at, calendar) {
                    sim.events.extend(events);
                }
            }
        }
    }

    fn run(&mut self, idx: usize, actor: Actor, command: Command, at: DateTime<Utc>) -> bool {
        let calendar = self.world.calendar;
        let sim = &mut self.sims[idx];
        match sim.request.execute(&actor, &command, at, calendar) {
            Ok(events) => {
                sim.events.extend(events);
                true
            }
            Err(_) => false,
        }
    }

    fn unit_actor(&self, idx: usize) -> Actor {
        let unit = self.sims[idx].request.lead().unwrap_or(UnitId(0));
        Actor {
            user: None,
            role: Role::UnitHandler,
            unit: Some(unit),
        }
    }

    /// The time a clock target falls at: `fraction` of the clock's span after it started.
    fn along_clock(&mut self, idx: usize, handling: bool, lo: f64, hi: f64) -> DateTime<Utc> {
        let r = &self.sims[idx].request;
        let clock = if handling {
            r.handling_clock
        } else {
            r.response_clock
        };
        let now = r.last_event_at;
        match clock {
            Some(c) => {
                let span = (c.due_at - c.started_at).num_seconds().max(60) as f64;
                let at =
                    c.started_at + Duration::seconds((span * self.rng.random_range(lo..hi)) as i64);
                at.max(now + minutes(1))
            }
            None => now + minutes(30),
        }
    }

    /// Decides and schedules the next action of a request after its last event.
    fn plan_next(&mut self, idx: usize) {
        let now = self.sims[idx].request.last_event_at;
        let r = &self.sims[idx].request;
        let p = &self.sims[idx].plan;
        let mut delay = |lo: i64, hi: i64| now + minutes(self.rng.random_range(lo..hi));
        let next = match r.state {
            State::Received if r.classification.is_none() => Some((delay(1, 20), Action::Classify)),
            State::Received => {
                let consultation = r.classification.is_some_and(|c| c.consultation);
                if p.duplicate_of.is_some() && !p.merge_tried {
                    Some((delay(2, 40), Action::Merge))
                } else if p.split && r.intake.parent.is_none() {
                    Some((delay(5, 60), Action::Split))
                } else if consultation && p.answer_at_intake && r.n_reopens == 0 {
                    Some((delay(1, 6), Action::AnswerAtIntake))
                } else if p.needs_review && r.n_reopens == 0 {
                    Some((delay(1440, 4320), Action::Dispatch))
                } else if p.engine_confident && r.n_reopens == 0 {
                    Some((now + Duration::seconds(2), Action::Dispatch))
                } else {
                    Some((delay(3, 240), Action::Dispatch))
                }
            }
            State::Dispatched => {
                if p.returns && !p.returned_once {
                    Some((delay(30, 600), Action::Return))
                } else {
                    let (lo, hi) = if p.late_sign {
                        (1.05, 2.0)
                    } else {
                        (0.02, 0.7)
                    };
                    Some((self.along_clock(idx, false, lo, hi), Action::Sign))
                }
            }
            State::Returned => Some((delay(60, 2880), Action::Rule)),
            State::Handling => {
                let has_co = r
                    .assignment
                    .as_ref()
                    .is_some_and(|a| !a.co_units.is_empty());
                if r.pending_extension.is_some() {
                    Some((delay(30, 960), Action::DecideExtension))
                } else if has_co && !p.co_opinion_given {
                    Some((delay(60, 1440), Action::CoOpinion))
                } else if p.urge && !p.urged {
                    Some((delay(120, 2880), Action::Urge))
                } else if p.extension.is_some() && !p.extension_requested {
                    Some((delay(120, 2880), Action::RequestExtension))
                } else if p.pause && !p.paused_once {
                    Some((delay(60, 1440), Action::Pause))
                } else {
                    let (lo, hi) = if p.late_reply {
                        (1.05, 1.6)
                    } else {
                        (0.1, 0.9)
                    };
                    Some((self.along_clock(idx, true, lo, hi), Action::Reply))
                }
            }
            State::Paused => Some((delay(600, 7200), Action::Resume)),
            State::Replied => {
                let round = r.n_reopens as usize;
                match p.ratings.get(round).copied().flatten() {
                    Some(_) => Some((delay(120, 2880), Action::Rate)),
                    None => Some((now + Duration::days(3), Action::CloseUnrated)),
                }
            }
            State::Closed | State::Merged | State::Split => None,
        };
        match next {
            Some((at, action)) => self.schedule(idx, at, action),
            None => self.pending[idx] = None,
        }
    }

    fn act(&mut self, idx: usize, action: Action, at: DateTime<Utc>) {
        self.catch_up(idx, at);
        let at = at.max(self.sims[idx].request.last_event_at);
        let world = self.world;
        let unit = self.unit_actor(idx);
        let (matter, division) = {
            let r = &self.sims[idx].request;
            (
                r.classification.map(|c| c.matter),
                r.intake.location.division.unwrap_or(DivisionId(0)),
            )
        };
        match action {
            Action::Classify => {
                let sim = &self.sims[idx];
                let matter = sim
                    .request
                    .classification
                    .map(|c| c.matter)
                    .or_else(|| self.seed_matter(idx))
                    .unwrap_or(self.leaf_matters[0].0);
                let policy = world.catalog.policy(matter);
                let engine = sim.plan.engine_confident;
                let classification = Classification {
                    matter,
                    source: if engine {
                        CategorySource::Engine
                    } else {
                        CategorySource::Person
                    },
                    confidence: Some(if engine {
                        self.rng.random_range(0.85..0.99)
                    } else {
                        self.rng.random_range(0.3..0.85)
                    }),
                    urgency: policy
                        .map(|p| p.urgency)
                        .unwrap_or(minyi_domain::catalog::Urgency::Ordinary),
                    consultation: policy.is_some_and(|p| p.consultation),
                };
                let actor = if engine {
                    Actor::SYSTEM
                } else {
                    world.operator
                };
                self.run(idx, actor, Command::Classify { classification }, at);
            }
            Action::Merge => {
                self.sims[idx].plan.merge_tried = true;
                if let Some(parent_idx) = self.sims[idx].plan.duplicate_of {
                    self.catch_up(parent_idx, at);
                    let parent = &self.sims[parent_idx].request;
                    let parent_id = parent.id;
                    let child_id = self.sims[idx].request.id;
                    let at = at.max(parent.last_event_at);
                    if let Ok(kinds) = request::decide_absorb(parent, child_id, at)
                        && self.run(
                            idx,
                            world.dispatcher,
                            Command::MergeInto { parent: parent_id },
                            at,
                        )
                    {
                        let events =
                            self.sims[parent_idx]
                                .request
                                .record(&world.dispatcher, kinds, at);
                        self.sims[parent_idx].events.extend(events);
                    }
                }
            }
            Action::Split => {
                let parent_id = self.sims[idx].request.id;
                let mut children = Vec::new();
                for _ in 0..2 {
                    let m = self.pick_matter();
                    let intake = self.new_intake(
                        m,
                        division,
                        Some(parent_id),
                        self.sims[idx].request.intake.channel,
                    );
                    let mut plan =
                        self.draw_plan(world.catalog.policy(m).is_some_and(|p| p.consultation));
                    plan.split = false;
                    let child = self.receive(intake, at, plan);
                    self.sims[child].plan.engine_confident = false;
                    self.preset_matter(child, m);
                    children.push(self.sims[child].request.id);
                }
                if !self.run(idx, world.dispatcher, Command::Split { children }, at) {
                    self.sims[idx].plan.split = false;
                }
            }
            Action::AnswerAtIntake => {
                let answer = "已根据知识库答复市民，告知办理地点、所需材料和办理时限。".to_string();
                if !self.run(idx, world.operator, Command::AnswerAtIntake { answer }, at) {
                    self.sims[idx].plan.answer_at_intake = false;
                }
            }
            Action::Dispatch => {
                if let Some(assignment) = matter.and_then(|m| self.assignment(m, division)) {
                    let plan = &self.sims[idx].plan;
                    let actor = if plan.engine_confident && !plan.needs_review {
                        Actor::SYSTEM
                    } else {
                        world.dispatcher
                    };
                    self.run(idx, actor, Command::Dispatch { assignment }, at);
                }
            }
            Action::Return => {
                self.sims[idx].plan.returned_once = true;
                self.run(
                    idx,
                    unit,
                    Command::Return {
                        reason: "经现场核查，该事项不属于本单位职责范围。".into(),
                        legal_basis: "《深圳市机构编制规定》及本单位“三定”方案".into(),
                    },
                    at,
                );
            }
            Action::Rule => {
                let Some(mut assignment) = self.sims[idx].request.assignment.clone() else {
                    return;
                };
                if self.sims[idx].plan.arbitrate {
                    self.run(
                        idx,
                        world.dispatcher,
                        Command::Arbitrate {
                            ruling: "先办后议：依据职责清单仍由原主办单位办理。".into(),
                            assignment,
                        },
                        at,
                    );
                } else {
                    // Re-dispatch to the first co-unit when there is one, else to the same unit.
                    if let Some(co) = assignment.co_units.first().copied() {
                        assignment.co_units = vec![assignment.lead];
                        assignment.lead = co;
                        assignment.rule = None;
                    }
                    self.run(idx, world.dispatcher, Command::Dispatch { assignment }, at);
                }
            }
            Action::Sign => {
                self.run(idx, unit, Command::Sign, at);
            }
            Action::CoOpinion => {
                self.sims[idx].plan.co_opinion_given = true;
                if let Some(co) = self.sims[idx]
                    .request
                    .assignment
                    .as_ref()
                    .and_then(|a| a.co_units.first().copied())
                {
                    let actor = Actor {
                        user: None,
                        role: Role::UnitHandler,
                        unit: Some(co),
                    };
                    self.run(
                        idx,
                        actor,
                        Command::CoUnitOpinion {
                            text: "已配合主办单位开展现场核查。".into(),
                        },
                        at,
                    );
                }
            }
            Action::Urge => {
                self.sims[idx].plan.urged = true;
                self.run(
                    idx,
                    Actor::REQUESTER,
                    Command::Urge {
                        note: "市民再次来电催促办理进度。".into(),
                    },
                    at,
                );
            }
            Action::RequestExtension => {
                self.sims[idx].plan.extension_requested = true;
                if let Some((days, _)) = self.sims[idx].plan.extension {
                    self.run(
                        idx,
                        unit,
                        Command::RequestExtension {
                            working_days: days,
                            reason: "需协调多个部门联合处置，申请延期。".into(),
                        },
                        at,
                    );
                }
            }
            Action::DecideExtension => {
                let approve = self.sims[idx].plan.extension.is_some_and(|(_, ok)| ok);
                let command = if approve {
                    Command::ApproveExtension
                } else {
                    Command::RefuseExtension {
                        reason: "延期理由不充分，请按原时限办理。".into(),
                    }
                };
                self.run(idx, world.dispatcher, command, at);
            }
            Action::Pause => {
                self.sims[idx].plan.paused_once = true;
                self.run(
                    idx,
                    unit,
                    Command::Pause {
                        reason: "等待诉求人补充材料。".into(),
                    },
                    at,
                );
            }
            Action::Resume => {
                self.run(idx, Actor::REQUESTER, Command::Resume, at);
            }
            Action::Reply => {
                self.run(
                    idx,
                    unit,
                    Command::Reply {
                        text: "经核查，已安排人员现场处理，问题已解决，并已电话告知诉求人。".into(),
                    },
                    at,
                );
            }
            Action::Rate => {
                let round = self.sims[idx].request.n_reopens as usize;
                if let Some(Some(satisfaction)) = self.sims[idx].plan.ratings.get(round).copied() {
                    let solved =
                        satisfaction != Satisfaction::Unsatisfied || self.rng.random_bool(0.1);
                    self.run(
                        idx,
                        world.operator,
                        Command::Rate {
                            satisfaction,
                            solved,
                            comment: String::new(),
                        },
                        at,
                    );
                }
            }
            Action::CloseUnrated => {
                self.run(
                    idx,
                    world.operator,
                    Command::CloseWithoutRating {
                        reason: "三次回访未接通，按规定归档。".into(),
                    },
                    at,
                );
            }
        }
        self.plan_next(idx);
    }

    /// The matter a request was generated about, kept until it is classified.
    fn seed_matter(&self, idx: usize) -> Option<MatterId> {
        self.sims[idx].plan.preset
    }

    fn preset_matter(&mut self, idx: usize, matter: MatterId) {
        self.sims[idx].plan.preset = Some(matter);
    }
}

/// Simulates the history: returns every request with its events, in id order. `progress` is
/// called with the number of requests received so far.
pub fn simulate(
    world: &World<'_>,
    config: &HistoryConfig,
    rng: impl Rng,
    mut progress: impl FnMut(u64),
) -> Vec<SeedRequest> {
    let leaf_matters: Vec<MatterId> = world.catalog.leaves().map(|m| m.id).collect();
    let leaf_divisions: Vec<DivisionId> = world.divisions.leaves().map(|d| d.id).collect();
    let mut g = Generator {
        world,
        rng,
        sims: Vec::with_capacity(config.requests + config.requests / 20),
        queue: BinaryHeap::new(),
        pending: Vec::new(),
        next_id: config.first_id,
        end: config.end,
        leaf_matters: Vec::new(),
        matter_weight_total: 0,
        leaf_divisions,
    };
    // A few matters are very common, most are rare (a Zipf-like mix, as in real hotlines).
    g.leaf_matters = leaf_matters
        .iter()
        .enumerate()
        .map(|(i, m)| (*m, (2000 / (i as u32 % 97 + 1)).max(1)))
        .collect();
    g.matter_weight_total = g.leaf_matters.iter().map(|(_, w)| w).sum();
    let start = config.end - Duration::days(config.days);

    // Draw all receptions first, in time order, so duplicates can point at earlier requests.
    let mut arrivals: Vec<DateTime<Utc>> = (0..config.requests)
        .map(|_| reception_time(&mut g.rng, start, config.days))
        .filter(|t| *t < config.end)
        .collect();
    arrivals.sort();
    let channels = [
        (Channel::Hotline, 45),
        (Channel::Mobile, 30),
        (Channel::Web, 15),
        (Channel::Open311, 5),
        (Channel::EnterpriseVisit, 5),
    ];
    let mut arrival_idx = 0;
    loop {
        // Next arrival or next scheduled action, whichever is first.
        let next_action = g.queue.peek().map(|Reverse((t, _))| *t);
        let next_arrival = arrivals.get(arrival_idx).map(|t| t.timestamp_millis());
        let take_arrival = match (next_arrival, next_action) {
            (Some(a), Some(t)) => a <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_arrival {
            {
                let at = arrivals[arrival_idx];
                arrival_idx += 1;
                if arrival_idx % 1000 == 0 {
                    progress(arrival_idx as u64);
                }
                // 3% are duplicates of a recent request in the same place about the same matter.
                let recent = g.sims.len().saturating_sub(200);
                let duplicate_of = (g.sims.len() > 10 && g.rng.random_bool(0.03))
                    .then(|| g.rng.random_range(recent..g.sims.len()))
                    .filter(|p| g.sims[*p].request.state.is_open());
                let (matter, division) = match duplicate_of {
                    Some(p) => (
                        g.sims[p].plan.preset.unwrap_or(g.leaf_matters[0].0),
                        g.sims[p]
                            .request
                            .intake
                            .location
                            .division
                            .unwrap_or(g.leaf_divisions[0]),
                    ),
                    None => {
                        let m = g.pick_matter();
                        let d = *g
                            .leaf_divisions
                            .choose(&mut g.rng)
                            .unwrap_or(&g.leaf_divisions[0]);
                        (m, d)
                    }
                };
                let mut pick = g.rng.random_range(0..100);
                let mut channel = Channel::Hotline;
                for (c, w) in channels {
                    if pick < w {
                        channel = c;
                        break;
                    }
                    pick -= w;
                }
                let intake = g.new_intake(matter, division, None, channel);
                let consultation = world.catalog.policy(matter).is_some_and(|p| p.consultation);
                let mut plan = g.draw_plan(consultation);
                plan.duplicate_of = duplicate_of;
                plan.preset = Some(matter);
                if duplicate_of.is_some() {
                    plan.split = false;
                }
                g.receive(intake, at, plan);
            }
        } else if let Some(t) = next_action {
            {
                let Some(Reverse((_, idx))) = g.queue.pop() else {
                    break;
                };
                // Skip stale queue entries (the request was rescheduled since).
                let Some((at, action)) = g.pending[idx] else {
                    continue;
                };
                if at.timestamp_millis() != t {
                    continue;
                }
                if at > g.end {
                    g.pending[idx] = None;
                    continue;
                }
                g.pending[idx] = None;
                g.act(idx, action, at);
            }
        }
    }
    progress(arrivals.len() as u64);
    // The sweeper has run up to the end of the window.
    let end = g.end;
    for idx in 0..g.sims.len() {
        g.catch_up(idx, end);
    }
    g.sims
        .into_iter()
        .map(|s| SeedRequest {
            request: s.request,
            requester: s.requester,
            events: s.events,
        })
        .collect()
}
