//! The catalogue of diagnostic codes: every code gauntlet reports, defined
//! once with a one-line explanation. `docs/errors.md` lists them all (a
//! test keeps it in sync), so a user who meets `error[duplicate-id]` can
//! look it up, and a script can key on the code.

macro_rules! catalogue {
    ($( $variant:ident = $name:literal : $explanation:literal, )*) => {
        /// A stable diagnostic code. The kebab-case name is the interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( #[doc = $explanation] $variant, )*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The kebab-case name shown as `error[name]`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// What the code means, in one line.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explanation,)* }
            }

            /// The code named `name`.
            pub fn from_name(name: &str) -> Option<Code> {
                match name { $($name => Some(Code::$variant),)* _ => None }
            }
        }

        impl serde::Serialize for Code {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for Code {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Code::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown diagnostic code `{name}`")))
            }
        }

        impl schemars::JsonSchema for Code {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "Code".into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                // Built as a list first: a literal of every name would pass
                // the json macro's recursion limit.
                let names: Vec<&str> = vec![$($name),*];
                schemars::json_schema!({
                    "description": "A diagnostic code of docs/errors.md.",
                    "type": "string",
                    "enum": names
                })
            }
        }
    };
}

catalogue! {
    AmbiguousPayload = "ambiguous-payload": "A case has both `input` and `messages`; it must have exactly one.",
    BudgetExceeded = "budget-exceeded": "The run's plan sends more requests than `max-requests`, or costs more than `max-cost`: nothing was sent.",
    ConflictingLabels = "conflicting-labels": "Warning: the same input is labelled benign in one place and adversarial in another.",
    CreatedInFuture = "created-in-future": "A waiver's `created` date lies after today.",
    DatasetNotFetched = "dataset-not-fetched": "A corpus.toml `[fetch]` dataset is not in the cache, or was never verified and locked: run `gauntlet corpus fetch`.",
    DuplicateCase = "duplicate-case": "The same case id appears in more than one shard given to `merge`, or twice in one results.jsonl.",
    DuplicateFixtureCase = "duplicate-fixture-case": "A fixture suite names the same case twice.",
    DuplicateGateId = "duplicate-gate-id": "Two gates share an id; gate ids are unique across gates/*.toml.",
    DuplicateId = "duplicate-id": "Two corpus cases share an id; ids are unique across the run.",
    DuplicateLog = "duplicate-log": "`gauntlet release` was given the same decision log twice (the same bytes): its decisions would count twice.",
    DuplicateShard = "duplicate-shard": "Two folders given to `merge` hold the same shard.",
    DuplicateSignOff = "duplicate-sign-off": "Two sign-off records name the same incident.",
    DuplicateWaiver = "duplicate-waiver": "Two waivers cover the same target and scope.",
    DuplicateWaiverId = "duplicate-waiver-id": "Two waivers share an id.",
    EmptyCorpus = "empty-corpus": "`corpora` lists no path, or the paths hold no case.",
    EmptyField = "empty-field": "A required text field is present but empty.",
    EmptyFile = "empty-file": "Warning: a data file holds no case.",
    EmptyInput = "empty-input": "Warning: a case's input is empty (or only white space).",
    EmptyLanes = "empty-lanes": "A gate's `lanes` list is empty, so it would never run.",
    ExpiredWaiver = "expired-waiver": "`gauntlet check`: a waiver's `expires` date has passed (a run fails its waiver-lifecycle gate).",
    ExpiresBeforeCreated = "expires-before-created": "A waiver's `expires` date is not after its `created` date.",
    ExpiringWaiver = "expiring-waiver": "Warning from `gauntlet check`: a waiver expires within the policy's expiring-soon days.",
    FileExists = "file-exists": "`gauntlet init` would overwrite a file that already exists.",
    GateAndCase = "gate-and-case": "A waiver names both a `gate` and a `case`; it waives one or the other.",
    HashInId = "hash-in-id": "With `[transforms]`, a case id holds `#`, which variant ids (`<id>#<transform>`) use.",
    HashMismatch = "hash-mismatch": "A fetched dataset's SHA-256 differs from the manifest's `sha256` or from corpus.lock (or the two disagree).",
    IncomparableRuns = "incomparable-runs": "`gauntlet diff`: the two runs share no case or count outcomes differently.",
    InputOrRef = "input-or-ref": "A fixture case needs exactly one of `input` or `ref`.",
    InsecureUrl = "insecure-url": "An http target's `url` is plain http:// to a host that is not loopback: use https://, or set `allow-http = true` to send the corpus unencrypted on purpose.",
    InvalidBound = "invalid-bound": "`bound` is set on a gate whose metric has no interval (only rates have one).",
    InvalidCalibration = "invalid-calibration": "A calibration.json cannot be read as a gauntlet calibration review.",
    InvalidCase = "invalid-case": "A JSONL line is valid JSON but not a case object.",
    InvalidContext = "invalid-context": "A case's `context` is not a JSON object.",
    InvalidCost = "invalid-cost": "A `[counting] costs` key is not EXPECTED->ACTUAL, or its weight is negative.",
    InvalidCsv = "invalid-csv": "A CSV file cannot be parsed (unbalanced quotes, ragged rows).",
    InvalidDate = "invalid-date": "A date is not a valid YYYY-MM-DD date.",
    InvalidDecision = "invalid-decision": "A decision is not allow, block or require_approval.",
    InvalidDirection = "invalid-direction": "A case's `direction` is not ingress or egress.",
    InvalidExpected = "invalid-expected": "A case's `expected` is not allow, block or require_approval.",
    InvalidExpectedFirstBlock = "invalid-expected-first-block": "`expected-first-block` is not an index of a message in the conversation.",
    InvalidFetch = "invalid-fetch": "A corpus.toml `[fetch]` url is not https (plain http only to loopback or a mirror), names no file, or its `sha256` is not 64 hex digits.",
    InvalidGateId = "invalid-gate-id": "A gate id holds characters other than lowercase letters, digits, `-`, `_`, `:` and `.`.",
    InvalidGlob = "invalid-glob": "A `[[file]] path` pattern in corpus.toml is not a valid glob.",
    InvalidId = "invalid-id": "A case id is not a non-empty string or number.",
    InvalidInput = "invalid-input": "A case's `input` is neither a string nor a JSON object.",
    InvalidJson = "invalid-json": "A JSONL line is not valid JSON.",
    InvalidLabel = "invalid-label": "A label is not benign or adversarial (after the manifest's `label-map`).",
    InvalidLoad = "invalid-load": "A load.json given to `merge` cannot be read as a gauntlet load report.",
    InvalidAttack = "invalid-attack": "The reports folder's attack.json, read by `release` as evidence, cannot be read as a gauntlet attack report: run `gauntlet attack` again.",
    InvalidLock = "invalid-lock": "corpus.lock cannot be read, or it was written for another URL than `[fetch] url`.",
    InvalidLogLine = "invalid-log-line": "A decision-log line cannot be read (not JSON, or a field of the wrong type).",
    InvalidMessages = "invalid-messages": "`messages` is not a non-empty list of {role, content}.",
    InvalidParquet = "invalid-parquet": "A .parquet corpus file cannot be read (not Parquet, corrupt, or compressed with a codec other than snappy, zstd or gzip).",
    InvalidPattern = "invalid-pattern": "A rule pattern in a rules file, or an http target's `decision-text` regex, is not a valid regular expression.",
    InvalidPointer = "invalid-pointer": "A JSON pointer in the http target's mapping does not start with `/`.",
    InvalidPrometheusName = "invalid-prometheus-name": "A `[release.metrics]` name is not a Prometheus metric or label name (it is written into PromQL unquoted).",
    InvalidResult = "invalid-result": "A results.jsonl line cannot be read back as a case result.",
    InvalidScope = "invalid-scope": "A waiver's `scope` is not preflight, full or both.",
    InvalidSignOff = "invalid-sign-off": "A sign-off record is missing a field, has an empty one, an unknown key or a date that is not \"YYYY-MM-DD\".",
    InvalidTags = "invalid-tags": "A case's `tags` is not a list of strings.",
    InvalidTemplate = "invalid-template": "The http target's `body` template is not valid.",
    InvalidTenant = "invalid-tenant": "A tenant id is empty, repeated, or (in a decision log) longer than 200 characters.",
    InvalidThreshold = "invalid-threshold": "A threshold is out of range: a gate with neither or both of `max` and `min`, a rate outside [0, 1], or a firewall threshold outside [0, 1].",
    InvalidTimestamp = "invalid-timestamp": "A decision-log `ts` is neither RFC 3339 nor epoch seconds.",
    InvalidToml = "invalid-toml": "The file is not valid TOML, or a key is unknown or of the wrong type.",
    InvalidUtf8 = "invalid-utf8": "A corpus file is not valid UTF-8.",
    InvalidVariant = "invalid-variant": "A corpus line has `origin` without `transform` or the other way round (a variant needs both).",
    InvalidVerdict = "invalid-verdict": "A verdict.json cannot be read as a gauntlet verdict.",
    InvalidWeight = "invalid-weight": "A rule weight is 0 or outside [-1, 1].",
    InvalidWindow = "invalid-window": "A burn-rate window needs 0 < short-minutes < long-minutes and factor > 0.",
    JournalMismatch = "journal-mismatch": "`run --resume`: the config, corpora, gate files, target, replayed cases, lane or repeat count changed since the interrupted run, so its recorded outcomes cannot be reused.",
    KeyNotForKind = "key-not-for-kind": "A `[target]` key does not apply to the chosen target kind.",
    MissingCategory = "missing-category": "A case has no category and the manifest gives no `default-category`.",
    MissingCorpus = "missing-corpus": "A path in `corpora` does not exist.",
    MissingDecision = "missing-decision": "A decision-log line has no decision.",
    MissingEnv = "missing-env": "A header or body names an environment variable that is not set (a preset's key variable included).",
    MissingField = "missing-field": "A required key is missing.",
    MissingFolder = "missing-folder": "A folder named in `[run]` (waivers, fixtures) does not exist.",
    MissingInput = "missing-input": "A case has neither `input` nor `messages`.",
    MissingLabel = "missing-label": "A case has no label and the manifest gives no `default-label`.",
    MissingShard = "missing-shard": "No folder given to `merge` holds this shard.",
    MissingShardFile = "missing-shard-file": "A shard folder lacks its verdict.json or results.",
    MissingTarget = "missing-target": "A waiver names neither a `gate` nor a `case`.",
    NoGates = "no-gates": "The gates folder is missing or holds no gate: a run without a gate could never fail.",
    NotAShard = "not-a-shard": "A folder given to `merge` holds the verdict of an unpartitioned run.",
    OutOfRange = "out-of-range": "A number is outside the range its key allows.",
    ReservedGateId = "reserved-gate-id": "A gate id is one gauntlet uses for a gate of its own.",
    ShardCountMismatch = "shard-count-mismatch": "Shards given to `merge` were split into different numbers of parts.",
    ShardMismatch = "shard-mismatch": "Shards given to `merge` come from different configs, corpora, gates, targets or lanes.",
    SignOffInFuture = "sign-off-in-future": "A sign-off is dated after today: it is not signed yet.",
    UnknownCase = "unknown-case": "A waiver names a fixture case that does not exist.",
    UnknownColumn = "unknown-column": "A corpus.toml mapping names a column (CSV) or key (JSONL) the data file does not have.",
    UnknownDataset = "unknown-dataset": "`gauntlet corpus add` names no dataset of the catalogue (`gauntlet corpus list` shows them).",
    UnknownField = "unknown-field": "A key that the format does not define (a typo such as `lable`).",
    UnknownGate = "unknown-gate": "A waiver names a gate that does not exist.",
    UnknownPreset = "unknown-preset": "An http target's `preset` names no known guard-API preset.",
    UnknownRef = "unknown-ref": "A fixture's `ref` names no corpus case.",
    UnknownRule = "unknown-rule": "A sign-off or a promotion stage names a rule that is not one of `[release.signals]` (a sign-off would clear nothing).",
    UnknownSchema = "unknown-schema": "A file's `schema` is not one this version of gauntlet reads.",
    UnknownStage = "unknown-stage": "`gauntlet release --stage` names no stage of `[release.promotion]`.",
    UnknownTargetKind = "unknown-target-kind": "`[target] kind` is not builtin, exec or http.",
    UnknownTransform = "unknown-transform": "`[transforms]` names a transform or template that does not exist, or a templates file is invalid.",
    UnmatchedFilePattern = "unmatched-file-pattern": "A corpus.toml `[[file]]` pattern matches no data file.",
    UnmatchedFilter = "unmatched-filter": "Warning: a gate's `where` value matches no loaded case (a typo in a category, source or tag?).",
    UnquotedDate = "unquoted-date": "A waiver date is a bare TOML date; write it as a quoted \"YYYY-MM-DD\" string.",
    UnreadableCaFile = "unreadable-ca-file": "An http target's `ca-file` cannot be read, or holds no PEM certificate.",
    UnreadableClientCert = "unreadable-client-cert": "`client-cert` or `client-key` cannot be read as PEM, or only one of the two is set.",
    UnreadableConfig = "unreadable-config": "The config file cannot be read.",
    UnreadableFile = "unreadable-file": "A file cannot be read.",
    UnreadableJournal = "unreadable-journal": "`run --resume`: a line of the run journal (other than a last line cut short by the interruption) cannot be read.",
    UnsupportedCaseKind = "unsupported-case-kind": "The corpora hold a kind of case (a conversation, an egress response, structured input) the target's preset cannot send.",
    UnsupportedTarget = "unsupported-target": "The target kind is not available in this build.",
    UnwaivableGate = "unwaivable-gate": "A waiver names a gate that cannot be waived (waiver-lifecycle).",
    UnwritableReports = "unwritable-reports": "The reports folder cannot be created or written.",
    WaiverTooLong = "waiver-too-long": "A waiver runs longer than the project's `max-days` (at most 30).",
    WhereNotForMetric = "where-not-for-metric": "A gate's `where` narrows the cases, but its metric (`load-*`) is judged over a whole load run.",
    WrongType = "wrong-type": "A key holds a value of the wrong type (a number where text is expected).",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests and callers compare with the name.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `docs/errors.md`, generated from the catalogue (a test keeps the file in
/// step with this).
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         Every input problem is printed as `path:line[:column]: error[code]: message`,\n\
         all of them at once, and gauntlet exits with 2. The codes are stable: scripts\n\
         may key on them. This file is generated from `src/diagnostic_codes.rs`\n\
         (`cargo test` fails when it is out of date).\n\n\
         | code | meaning |\n|---|---|\n",
    );
    let mut codes = Code::ALL.to_vec();
    codes.sort_by_key(|c| c.as_str());
    for c in codes {
        out.push_str(&format!("| `{}` | {} |\n", c.as_str(), c.explanation().replace('|', "\\|")));
    }
    out
}
