//! Typed identifiers. Each is a database key wrapped so that a unit id cannot be passed where a
//! division id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A node of the division tree (行政区划).
    DivisionId
);
id_type!(
    /// A responsible unit (责任单位).
    UnitId
);
id_type!(
    /// A node of the matter catalogue (事项清单).
    MatterId
);
id_type!(
    /// A rule of the responsibility list (职责清单).
    RuleId
);
id_type!(
    /// A citizen request (诉求 / 工单).
    RequestId
);
id_type!(
    /// A staff account.
    UserId
);
