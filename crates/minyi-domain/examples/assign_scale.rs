//! Times the enterprise assignment (包联) at the scale of the programme: 2,784 service teams and
//! about 42,000 enterprises in 10 districts and 74 streets, with 2% manual overrides, then a
//! rebalance that keeps them. Run with `cargo run --release -p minyi-domain --example
//! assign_scale`; the target is under 5 s.

use minyi_domain::DivisionId;
use minyi_domain::enterprise::{EnterpriseId, EnterpriseSlot, TeamId, TeamSlot, assign};
use std::time::Instant;

fn main() {
    let (districts, streets, teams_n, enterprises_n) = (10i64, 74i64, 2_784i64, 42_000i64);
    // Streets 100.. belong to district street % districts; one team per district, the rest on
    // streets.
    let mut teams: Vec<TeamSlot> = (0..districts)
        .map(|d| TeamSlot {
            id: TeamId(d),
            scope: DivisionId(d),
        })
        .collect();
    for i in districts..teams_n {
        teams.push(TeamSlot {
            id: TeamId(i),
            scope: DivisionId(100 + i % streets),
        });
    }
    // A simple deterministic spread with uneven street sizes.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let enterprises: Vec<EnterpriseSlot> = (0..enterprises_n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let street = ((x % 1000) * (x % 1000) / 1000 * streets as u64 / 1000) as i64;
            EnterpriseSlot {
                id: EnterpriseId(i),
                district: DivisionId(street % districts),
                street: Some(DivisionId(100 + street)),
            }
        })
        .collect();
    let started = Instant::now();
    let plan = assign(&teams, &enterprises, &[]);
    let first = started.elapsed();
    let manual: Vec<(EnterpriseId, TeamId)> = plan
        .assignments
        .iter()
        .step_by(50)
        .map(|a| (a.enterprise, TeamId((a.team.0 + 1) % teams_n)))
        .collect();
    let started = Instant::now();
    let again = assign(&teams, &enterprises, &manual);
    let second = started.elapsed();
    let loads: Vec<usize> = again.loads.values().copied().collect();
    println!(
        "{} teams, {} enterprises: assignment {:.1} ms, rebalance with {} overrides {:.1} ms; \
         load min {} max {} mean {:.1}; unassigned {}",
        teams.len(),
        enterprises.len(),
        first.as_secs_f64() * 1e3,
        manual.len(),
        second.as_secs_f64() * 1e3,
        loads.iter().min().copied().unwrap_or(0),
        loads.iter().max().copied().unwrap_or(0),
        enterprises.len() as f64 / teams.len() as f64,
        again.unassigned.len()
    );
}
